"""Server settings, from flags or ``TAILORED_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAILORED_", extra="ignore")

    db: str | None = Field(None, description="Store URL or SQLite path; default $TAILORED_HOME/tailored.db")
    host: str = "127.0.0.1"
    port: int = 8000
    embedder: str = "minilm"
    model: str | None = Field(None, description="Chat model spec for /v1/chat/completions; default local model")
    max_body_bytes: int = Field(5_000_000, description="Largest request body accepted")
    max_batch: int = Field(1000, description="Most events in one POST /v1/events")
