"""The HTTP server: REST API under /v1, an OpenAI-compatible endpoint, and the dashboard."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
