"""tailored: a personalization engine for LLM applications."""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from .engine import Engine
from .errors import (
    InvalidInput,
    MigrationError,
    ModelError,
    ModelIntegrityError,
    ModelNotFound,
    ModelUnavailable,
    NotFound,
    SchemaError,
    StoreError,
    TailoredError,
    TenantIsolationError,
    UnknownFormat,
)
from .retrieve import RetrievalConfig
from .types import (
    AddResult,
    Context,
    ContextItem,
    Event,
    EventIn,
    ScoreParts,
    SearchHit,
    Stats,
    UserExport,
    UserStats,
)

try:
    __version__ = _version("tailored")
except _PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "AddResult",
    "Context",
    "ContextItem",
    "Engine",
    "Event",
    "EventIn",
    "InvalidInput",
    "MigrationError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFound",
    "ModelUnavailable",
    "NotFound",
    "RetrievalConfig",
    "SchemaError",
    "ScoreParts",
    "SearchHit",
    "Stats",
    "StoreError",
    "TailoredError",
    "TenantIsolationError",
    "UnknownFormat",
    "UserExport",
    "UserStats",
    "__version__",
]
