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
    max_body_bytes: int = Field(5_000_000, ge=1, description="Largest request body accepted")
    max_batch: int = Field(1000, ge=1, description="Most events in one POST /v1/events")
    max_import_events: int = Field(10_000, ge=1, description="Most events in one POST /v1/users/import")
    chat_parallel: int = Field(
        1, ge=1, le=64, description="Chat answers generated at once; keep 1 for the local llama.cpp model"
    )
    chat_per_tenant: int = Field(
        8, ge=1, description="Most chat requests of one tenant in progress (running or queued)"
    )
    chat_per_key: int = Field(4, ge=1, description="Most chat requests of one API key in progress (running or queued)")
    chat_queue: int = Field(32, ge=0, description="Most chat requests waiting for the model, all tenants together")
    chat_timeout_s: float = Field(300.0, gt=0, description="Longest one streamed answer may take to generate")
    webhooks_worker: bool = Field(True, description="Deliver webhooks from this server process (a background thread)")
    webhooks_poll_s: float = Field(0.5, gt=0, description="How often an idle webhook worker looks for due deliveries")
    webhooks_allow_private: bool = Field(
        False, description="Let webhooks point at private and loopback addresses (receivers on this network)"
    )
