"""tailored: a personalization engine for LLM applications."""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from .aengine import AsyncChatStream, AsyncEngine
from .chat import ChatStream
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
from .store import Store
from .types import (
    AddResult,
    CatalogItem,
    ChatResult,
    Context,
    ContextItem,
    Event,
    EventIn,
    Explanation,
    Memory,
    MemoryChange,
    MemoryIn,
    Profile,
    Recommendation,
    ScoreParts,
    SearchHit,
    Stats,
    Summary,
    UserExport,
    UserStats,
)

try:
    __version__ = _version("tailored")
except _PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = [
    "AddResult",
    "AsyncChatStream",
    "AsyncEngine",
    "CatalogItem",
    "ChatResult",
    "ChatStream",
    "Context",
    "ContextItem",
    "Engine",
    "Event",
    "EventIn",
    "Explanation",
    "InvalidInput",
    "Memory",
    "MemoryChange",
    "MemoryIn",
    "MigrationError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFound",
    "ModelUnavailable",
    "NotFound",
    "Profile",
    "Recommendation",
    "RetrievalConfig",
    "SchemaError",
    "ScoreParts",
    "SearchHit",
    "Stats",
    "Store",
    "StoreError",
    "Summary",
    "TailoredError",
    "TenantIsolationError",
    "UnknownFormat",
    "UserExport",
    "UserStats",
    "__version__",
]
