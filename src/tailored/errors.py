"""The one error tree of tailored.

Every failure a caller can act on is a ``TailoredError``. The CLI turns it into one line
and a non-zero exit; the server (later) maps each class to an HTTP status.

    TailoredError
    ├── InvalidInput          bad caller data: nothing from the rejected batch is written
    │   └── UnknownFormat     a file whose format cannot be recognised
    ├── NotFound              a user, event or file that does not exist
    ├── StoreError            the database failed or is not usable
    │   └── MigrationError    a schema step failed; nothing of it was applied
    ├── ModelError            an embedding or chat model is missing or failed
    │   ├── ModelNotFound     a model name, file or cache entry that is not there
    │   ├── ModelIntegrityError  a model file whose size or sha256 is wrong (never kept)
    │   ├── ModelUnavailable  a model server that cannot be reached
    │   └── SchemaError       output that did not parse against the JSON schema, after a retry
    └── TenantIsolationError  an operation tried to cross a tenant or user boundary
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class TailoredError(Exception):
    """Base class of every error tailored raises on purpose."""

    code = "error"


class InvalidInput(TailoredError):
    """The caller's data was rejected; nothing of the batch was stored."""

    code = "invalid_input"


class UnknownFormat(InvalidInput):
    """A file whose format is none of the supported ones."""

    code = "unknown_format"


class NotFound(TailoredError):
    """Something the caller named does not exist."""

    code = "not_found"


class StoreError(TailoredError):
    """The store failed; the driver's exception is chained as ``__cause__``."""

    code = "store_error"


class MigrationError(StoreError):
    """A schema migration step failed and was rolled back."""

    code = "migration_error"


class ModelError(TailoredError):
    """A model could not be loaded or failed while running."""

    code = "model_error"


class ModelNotFound(ModelError):
    """A model name, GGUF file or cache entry that does not exist."""

    code = "model_not_found"


class ModelIntegrityError(ModelError):
    """A model file whose size or sha256 differs from the expected one; it was not kept."""

    code = "model_integrity"


class ModelUnavailable(ModelError):
    """A model server that cannot be reached (down, refused, timed out)."""

    code = "model_unavailable"


class SchemaError(ModelError):
    """Model output that did not parse against the requested JSON schema, even after one retry.

    ``output`` holds the last raw text the model produced.
    """

    code = "schema_error"

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class TenantIsolationError(TailoredError):
    """An operation would have crossed a tenant or user boundary."""

    code = "tenant_isolation"


def explain(exc: ValidationError) -> str:
    """The first problem of a pydantic error, as one short clause (``where: what``): the
    one line the CLI prints and the message an ``InvalidInput`` carries."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "record"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{where}: {msg}"
