"""The default chat model: a local GGUF file run by llama.cpp (``llama-cpp-python``).

JSON schema output is enforced by a grammar built from the schema, so the model cannot
produce tokens outside it. Next-token log-probabilities come from the logits of the last
prompt position.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, ModelNotFound
from .base import ChatModel, Completion, GenerateOptions, Message

GGUF_MAGIC = b"GGUF"
_PATCH_LOCK = threading.Lock()


def cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return " amx_int8" in fh.read()
    except OSError:
        return False


@contextmanager
def model_params(extra_buffers: bool | None = None) -> Iterator[None]:
    """While active, llama.cpp models load with (or without) extra CPU buffer types.

    Extra buffer types repack weights for the CPU's fastest kernels. On CPUs with AMX the
    AMX kernels crash on multi-token batches in llama.cpp builds of 2026 (ggml-org/llama.cpp
    issue #20824: segfault in ggml_backend_amx_mul_mat), so ``None`` turns them off there.
    """
    import llama_cpp.llama_cpp as lib  # the module Llama reads its defaults from

    use = (not cpu_has_amx()) if extra_buffers is None else extra_buffers
    if use:
        yield
        return
    with _PATCH_LOCK:
        original = lib.llama_model_default_params

        def params() -> Any:
            p = original()
            p.use_extra_bufts = False
            return p

        lib.llama_model_default_params = params
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def check_gguf(path: Path) -> None:
    """Raise ``ModelNotFound`` or ``ModelError`` unless ``path`` is a readable GGUF file."""
    if not path.is_file():
        raise ModelNotFound(f"no model file at {path}; run 'tailored models pull qwen2.5-1.5b' or pass a GGUF path")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelError(f"{path} is not a GGUF model file (wrong magic bytes)")


class LlamaCppChatModel(ChatModel):
    """A GGUF chat model run in-process by llama.cpp.

    Parameters
    ----------
    path
        The GGUF file, or a registered model name (``qwen2.5-1.5b``) found in the cache.
        Defaults to ``$TAILORED_MODEL`` or the default model.
    n_ctx
        Context window in tokens (the prompt and the answer together).
    threads
        CPU threads; defaults to the number of cores.
    seed
        Sampling seed, so that runs with a temperature above 0 repeat.
    extra_buffers
        Let llama.cpp repack weights into extra CPU buffer types; None decides by CPU
        (see ``model_params``).

    Examples
    --------
    >>> model = LlamaCppChatModel("qwen2.5-1.5b")  # doctest: +SKIP
    >>> model.generate([{"role": "user", "content": "Say hi"}], max_tokens=5).text  # doctest: +SKIP
    'Hi!'
    """

    supports_json_schema = True
    supports_logprobs = True
    context_window = 4096

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        n_batch: int = 512,
        extra_buffers: bool | None = None,
    ) -> None:
        from .models import resolve_model_path

        self.path = resolve_model_path(path)
        check_gguf(self.path)
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelError("the local chat model needs llama-cpp-python: pip install 'tailored[local]'") from exc
        self._lib = llama_cpp
        try:
            with model_params(extra_buffers):
                self._llm: Any = llama_cpp.Llama(
                    model_path=str(self.path),
                    n_ctx=n_ctx,
                    n_threads=threads or os.cpu_count() or 2,
                    n_batch=n_batch,
                    seed=seed,
                    verbose=False,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp cannot load {self.path}: {exc}") from exc
        self.context_window = int(self._llm.n_ctx())
        self.name = self.path.stem
        self._formatter: Any = None
        # the tokens whose keys and values the context still holds after the last scoring,
        # so that prompts sharing a prefix (one question, several candidate answers) reuse it
        self._scored: list[int] | None = None
        # what generation cost since loading: prompt tokens, those whose keys and values were
        # kept from the previous call (a shared prefix is not evaluated again) and answer tokens
        self.usage: dict[str, int] = {"calls": 0, "prompt_tokens": 0, "reused_tokens": 0, "completion_tokens": 0}

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None

    # -- core ---------------------------------------------------------------------------

    def _kwargs(self, messages: list[Message], options: GenerateOptions) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "messages": [m.model_dump() for m in messages],
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "stop": list(options.stop) or None,
        }
        if options.schema is not None:
            kw["response_format"] = {"type": "json_object", "schema": options.schema}
        return kw

    def _call(self, **kw: Any) -> Any:
        if self._llm is None:
            raise ModelError(f"{self.name} is closed")
        self._scored = None  # generation overwrites the cached prefix
        try:
            return self._llm.create_chat_completion(**kw)
        except ValueError as exc:  # e.g. the prompt exceeds the context window
            raise ModelError(f"{self.name}: {exc}") from exc
        except RuntimeError as exc:
            raise ModelError(f"{self.name} failed: {exc}") from exc

    def _complete(self, messages: list[Message], options: GenerateOptions) -> Completion:
        if options.schema is not None and options.temperature == 0:
            return self._complete_json(messages, options)
        llm = self._llm
        cached = list(llm._input_ids[: llm.n_tokens]) if llm is not None and llm.n_tokens > 0 else []
        out = self._call(**self._kwargs(messages, options))
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        prompt = int(usage.get("prompt_tokens", 0))
        if cached and prompt and self._llm is not None:  # the prefix llama.cpp kept, as generate() finds it
            reused = min(_shared_prefix(cached, list(self._llm._input_ids[:prompt])), prompt - 1)
        else:
            reused = 0
        self.usage["calls"] += 1
        self.usage["prompt_tokens"] += prompt
        self.usage["reused_tokens"] += max(0, reused)
        self.usage["completion_tokens"] += int(usage.get("completion_tokens", 0))
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            finish_reason=choice.get("finish_reason"),
            model=self.name,
        )

    def _complete_json(self, messages: list[Message], options: GenerateOptions) -> Completion:
        """Greedy decoding constrained by the schema's grammar, checking the grammar lazily.

        llama-cpp-python runs the grammar over the whole vocabulary (150,000 tokens for
        Qwen2.5) at every step, which on a CPU costs more than the model's own step. Here the
        likeliest token is tried against the grammar alone and the whole vocabulary is
        filtered only when it is refused (llama.cpp's own samplers do the same). Greedy over
        the grammar's tokens picks the same token either way, so answers do not change.
        The prompt's longest prefix shared with the previous call keeps its keys and values
        (only the rest is evaluated), as ``Llama.generate`` does."""
        import json as _json

        from llama_cpp.llama_grammar import LlamaGrammar

        llm, lib = self._llm, self._lib
        if llm is None:
            raise ModelError(f"{self.name} is closed")
        assert options.schema is not None
        tokens = llm.tokenize(self.prompt_text(messages).encode("utf-8"), add_bos=False, special=True)
        if len(tokens) + options.max_tokens > self.context_window:
            raise ModelError(
                f"{self.name}: the prompt has {len(tokens)} tokens and the answer may take "
                f"{options.max_tokens}; the window is {self.context_window}"
            )
        grammar = LlamaGrammar.from_json_schema(_json.dumps(options.schema), verbose=False)
        vocab = lib.llama_model_get_vocab(llm.model)
        sampler = lib.llama_sampler_init_grammar(vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not sampler:
            raise ModelError(f"{self.name}: llama.cpp cannot build a grammar for this schema")
        n_vocab = llm.n_vocab()
        one = (lib.llama_token_data * 1)()
        cached = list(llm._input_ids[: llm.n_tokens]) if llm.n_tokens > 0 else []
        keep = min(_shared_prefix(cached, tokens), len(tokens) - 1) if cached else 0
        self._scored = None
        out: list[int] = []
        finish = "length"
        try:
            llm.n_tokens = keep  # eval drops the cache past this point and decodes the rest
            llm.eval(tokens[keep:])
            for _ in range(options.max_tokens):
                logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
                tok = int(np.argmax(logits))
                one[0] = lib.llama_token_data(tok, float(logits[tok]), 0.0)
                probe = lib.llama_token_data_array(one, 1, -1, False)
                lib.llama_sampler_apply(sampler, ctypes.byref(probe))
                if not np.isfinite(one[0].logit):  # refused: filter every token, take the best left
                    data = (lib.llama_token_data * n_vocab)()
                    view = np.ctypeslib.as_array(data)
                    view["id"] = np.arange(n_vocab)
                    view["logit"] = logits
                    full = lib.llama_token_data_array(data, n_vocab, -1, False)
                    lib.llama_sampler_apply(sampler, ctypes.byref(full))
                    tok = int(view["id"][int(np.argmax(view["logit"]))])
                    if not np.isfinite(view["logit"].max()):
                        finish = "stop"
                        break
                if lib.llama_vocab_is_eog(vocab, tok):
                    finish = "stop"
                    break
                lib.llama_sampler_accept(sampler, tok)
                out.append(tok)
                llm.eval([tok])
        except RuntimeError as exc:
            raise ModelError(f"{self.name} failed: {exc}") from exc
        finally:
            lib.llama_sampler_free(sampler)
        text = llm.detokenize(out).decode("utf-8", "replace")
        self.usage["calls"] += 1
        self.usage["prompt_tokens"] += len(tokens)
        self.usage["reused_tokens"] += keep
        self.usage["completion_tokens"] += len(out)
        return Completion(
            text=text,
            prompt_tokens=len(tokens),
            completion_tokens=len(out),
            finish_reason=finish,
            model=self.name,
        )

    def _stream(self, messages: list[Message], options: GenerateOptions) -> Iterator[str]:
        chunks = self._call(stream=True, **self._kwargs(messages, options))
        try:
            for chunk in chunks:
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    yield text
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.name} failed while streaming: {exc}") from exc

    def count_tokens(self, text: str) -> int:
        if self._llm is None:
            raise ModelError(f"{self.name} is closed")
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt_text(self, messages: list[Message]) -> str:
        """The exact prompt the chat template makes of ``messages``, ready for the answer."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            meta = self._llm.metadata
            template = meta.get("tokenizer.chat_template")
            if not template:
                raise ModelError(f"{self.name} has no chat template in its metadata")
            vocab = self._llm
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=vocab.detokenize([vocab.token_eos()], special=True).decode("utf-8", "replace"),
                bos_token=vocab.detokenize([vocab.token_bos()], special=True).decode("utf-8", "replace"),
            )
        return str(self._formatter(messages=[m.model_dump() for m in messages]).prompt)

    def count_message_tokens(self, messages: Any, *, system: str | None = None) -> int:
        from .base import to_messages

        prompt = self.prompt_text(to_messages(messages, system))
        return len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def _last_logits(self, messages: list[Message]) -> np.ndarray:
        """The logits of the token after the prompt, reusing the cached prefix of the last
        scoring (one question scored against several answers decodes the question once)."""
        llm = self._llm
        if llm is None:
            raise ModelError(f"{self.name} is closed")
        tokens = llm.tokenize(self.prompt_text(messages).encode("utf-8"), add_bos=False, special=True)
        if len(tokens) >= self.context_window:
            raise ModelError(f"{self.name}: the prompt has {len(tokens)} tokens; the window is {self.context_window}")
        keep = min(_shared_prefix(self._scored, tokens), len(tokens) - 1) if self._scored else 0
        # Reuse only whole chunks: every token is then decoded in the same batch, at the same
        # place, as in a run from scratch. The CPU kernels' sums depend on the batch shape,
        # so a tail decoded on its own scored up to 0.07 nats away from the same prompt cold.
        keep -= keep % _SCORE_CHUNK
        llm.reset()
        llm.n_tokens = keep  # eval drops the cache past this point and decodes the rest
        self._scored = None
        try:
            for start in range(keep, len(tokens), _SCORE_CHUNK):
                llm.eval(tokens[start : start + _SCORE_CHUNK])
        except RuntimeError as exc:
            raise ModelError(f"{self.name} failed: {exc}") from exc
        n_vocab = llm.n_vocab()
        ptr = self._lib.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
        llm.reset()  # the next generation must not mistake these logits for its own
        self._scored = tokens
        shifted = logits - logits.max()
        logp: np.ndarray = shifted - np.log(np.exp(shifted).sum())
        return logp

    def _next_token_logprobs(self, messages: list[Message], top_k: int) -> dict[str, float]:
        logp = self._last_logits(messages)
        top = np.argsort(-logp)[:top_k]
        out: dict[str, float] = {}
        for tok in top:
            piece = self._llm.detokenize([int(tok)]).decode("utf-8", "replace")
            out.setdefault(piece, float(logp[tok]))
        return out

    def _choice_logprobs(self, messages: list[Message], choices: list[str]) -> dict[str, float]:
        """Exact: the first token of each choice, with and without a leading space, summed."""
        logp = self._last_logits(messages)
        out: dict[str, float] = {}
        for choice in choices:
            ids = {
                self._llm.tokenize(variant.encode("utf-8"), add_bos=False, special=False)[0]
                for variant in (choice.strip(), " " + choice.strip())
            }
            out[choice] = float(np.logaddexp.reduce([logp[i] for i in sorted(ids)]))
        return out


_SCORE_CHUNK = 64  # tokens per decode when scoring (at most n_batch)


def _shared_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` have in common."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
