"""Turning retrieved evidence into what an LLM prompt embeds."""

from .builder import build_context, estimate_tokens

__all__ = ["build_context", "estimate_tokens"]
