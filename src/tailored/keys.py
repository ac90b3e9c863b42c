"""API keys: created once and shown once, stored as a SHA-256 hash, revocable.

A tenant key sees only its tenant's users; a user-scoped key only one user of its tenant
(an app hands it to that user's agent); an admin key manages tenants and keys.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from .errors import InvalidInput, NotFound
from .store import KeyStore
from .types import ApiKey, check_user_id

PREFIX = "tlk_"
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ADMIN_TENANT = "_admin"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_tenant(tenant: str) -> str:
    if not _TENANT_RE.match(tenant):
        raise InvalidInput("tenant must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return tenant


class Keys:
    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def create(
        self, tenant: str | None, *, admin: bool = False, label: str | None = None, user: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret; the secret is not stored and cannot be shown again.

        With ``user`` the key reads and writes that one user of ``tenant`` and nothing else:
        no other user, no tenant-wide list or figure.
        """
        if admin:
            if user is not None:
                raise InvalidInput("an admin key cannot be scoped to a user")
            tenant = ADMIN_TENANT
        elif tenant is None:
            raise InvalidInput("a tenant key needs a tenant")
        else:
            check_tenant(tenant)
        if user is not None:
            try:
                check_user_id(user)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from exc
        key_id = secrets.token_hex(4)
        secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = self.store.create_key(key_id, tenant, hash_key(secret), admin, label, user)
        return record, secret

    def verify(self, secret: str) -> ApiKey | None:
        """The live key a secret belongs to, or None (unknown, malformed or revoked)."""
        if not secret.startswith(PREFIX):
            return None
        record = self.store.find_key(hash_key(secret))
        if record is None or record.revoked_at is not None:
            return None
        return record

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        return self.store.list_keys(tenant)

    def revoke(self, key_id: str, tenant: str | None = None) -> None:
        if not self.store.revoke_key(key_id, tenant):
            raise NotFound(f"no live key {key_id!r}")
