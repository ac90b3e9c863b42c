"""MiniLM through ONNX Runtime: the same vectors as PyTorch, without the Python overhead.

A query embedding in PyTorch spends as long in Python (module calls, holding the GIL) as
in arithmetic; ONNX Runtime runs the whole graph in native code with the GIL released, so
a server's request threads keep working while queries are embedded (``bench serve``).

The ONNX file is derived locally, never downloaded: the first load exports it from the
packaged weights with ``torch.onnx``, checks that it reproduces PyTorch's vectors, and
caches it with a manifest (sha256 of the weights it came from and of the file itself).
A later load verifies both hashes and exports again if either differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
DIMENSIONS = 384
CHUNK = 32  # texts per session run
PARITY_TOLERANCE = 1e-4  # largest allowed difference from PyTorch's vectors
_PROBES = [
    "I moved to Lisbon last spring and I'm vegetarian now.",
    "what does she like to cook?",
    "ok",
]


def cache_dir() -> Path:
    """``$TAILORED_CACHE`` or ``~/.cache/tailored``: derived files, safe to delete."""
    explicit = os.environ.get("TAILORED_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tailored"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxMiniLM:
    """Tokenizer + ONNX session for the sentence-transformers model folder ``model_dir``."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError("the onnx embedding backend needs onnxruntime: pip install onnxruntime") from exc
        path = ensure_onnx(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own unrelated types
            raise ModelError(f"cannot load {path}: {exc}") from exc
        self._tokenizer = _tokenizer(Tokenizer, model_dir)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Texts sorted by length and run in chunks, so short texts are not padded to the
        longest of a large ingest batch (sentence-transformers does the same)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), CHUNK):
            rows = order[start : start + CHUNK]
            ids, mask = encode(self._tokenizer, [texts[i] for i in rows])
            out[rows] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


def _tokenizer(cls: Any, model_dir: Path) -> Any:
    """The model's fast tokenizer, padding and truncating as sentence-transformers does.
    Configured once here: encoding afterwards only reads it, so threads may share it."""
    tok = cls.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS)
    pad_id = tok.token_to_id("[PAD]")
    tok.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tok


def encode(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def ensure_onnx(model_dir: Path) -> Path:
    """The verified ONNX file for ``model_dir``, exported first if missing or stale."""
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise ModelError(f"no weights at {weights}")
    source = sha256(weights)
    folder = cache_dir() / "onnx"
    target = folder / f"minilm-{source[:16]}.onnx"
    manifest = target.with_suffix(".json")
    if _verified(target, manifest, source):  # the usual case; works on a read-only cache too
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(folder / ".export.lock"):
            if not _verified(target, manifest, source):  # another process may have just made it
                _export(model_dir, target, manifest, source)
    except OSError as exc:
        raise ModelError(f"cannot write the ONNX embedder to {folder}: {exc}") from exc
    return target


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One exporter at a time across processes where ``fcntl`` exists. Elsewhere two
    exports may race; each writes a temporary file and renames it, so either result is whole."""
    with path.open("w") as lock:
        try:
            import fcntl
        except ImportError:
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _verified(target: Path, manifest: Path, source: str) -> bool:
    try:
        record = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    return target.exists() and record.get("source_sha256") == source and record.get("sha256") == sha256(target)


def _export(model_dir: Path, target: Path, manifest: Path, source: str) -> None:
    try:
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelError("exporting the ONNX embedder needs torch and transformers (the 'local' extra)") from exc

    class Pooled(torch.nn.Module):
        """BERT, mean pooling over real tokens, L2 normalisation: sentence-transformers' modules."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    model = Pooled(AutoModel.from_pretrained(str(model_dir))).eval()
    tokenizer = _tokenizer(Tokenizer, model_dir)
    ids, mask = encode(tokenizer, _PROBES)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torch.inference_mode():
            expected = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        with warnings.catch_warnings():  # tracing warnings say nothing a user can act on
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (torch.from_numpy(ids), torch.from_numpy(mask)),
                str(tmp),
                dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
            )
        import onnxruntime as ort

        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        diff = float(np.abs(got - expected).max())
        if diff > PARITY_TOLERANCE:
            raise ModelError(f"the exported ONNX embedder differs from PyTorch by {diff:.2g}; not used")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except ModelError:
        raise
    except Exception as exc:  # the exporter raises many unrelated types
        raise ModelError(f"cannot export the ONNX embedder: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    record = {"source_sha256": source, "sha256": sha256(target), "max_diff_vs_torch": diff, "torch": torch.__version__}
    tmp_manifest = manifest.with_suffix(".json.tmp")
    tmp_manifest.write_text(json.dumps(record, indent=2))
    os.replace(tmp_manifest, manifest)
