"""Retrieval over one user's events."""

from .search import RetrievalConfig, Retriever

__all__ = ["RetrievalConfig", "Retriever"]
