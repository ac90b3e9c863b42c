"""Turning retrieved evidence into what an LLM prompt embeds."""

from .builder import build_context

__all__ = ["build_context"]
