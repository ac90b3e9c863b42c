"""Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp's server, hosted APIs.

The ``openai`` client's exceptions, and answers that are not chat completions at all,
are turned into tailored's errors here, at the edge, with the cause chained.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Literal, NoReturn

from ..errors import InvalidInput, ModelError, ModelUnavailable
from ..text import estimate_tokens
from .base import ChatModel, Completion, GenerateOptions, Message, choices_from_top

JsonMode = Literal["json_schema", "json_object"]


class OpenAIChatModel(ChatModel):
    """A chat model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    Parameters
    ----------
    model
        The model name the server expects.
    base_url
        The server's API root, e.g. ``http://127.0.0.1:8080/v1``. Defaults to
        ``$TAILORED_OPENAI_BASE_URL``, then ``$OPENAI_BASE_URL``.
    api_key
        Defaults to ``$TAILORED_OPENAI_API_KEY``, then ``$OPENAI_API_KEY``, then a placeholder
        (local servers usually need none).
    json_mode
        How the server takes a schema: ``json_schema`` (OpenAI, vLLM) or ``json_object``
        with a ``schema`` field (llama.cpp's server).
    context_window
        The model's window, which the server does not report.
    timeout
        Seconds to wait for an answer.

    Examples
    --------
    >>> m = OpenAIChatModel("qwen", base_url="http://127.0.0.1:8080/v1")  # doctest: +SKIP
    >>> m.generate([{"role": "user", "content": "Say hi"}], max_tokens=5).text  # doctest: +SKIP
    'Hi!'

    Notes
    -----
    ``count_tokens`` is an estimate (about 4 characters per token): the OpenAI API has no
    tokenizer endpoint. ``Completion.prompt_tokens`` reports the server's exact count.
    """

    supports_json_schema = True
    supports_logprobs = True

    def __init__(
        self,
        model: str = "default",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        json_mode: JsonMode = "json_schema",
        context_window: int = 8192,
        timeout: float = 120.0,
    ) -> None:
        try:
            import openai
        except ImportError as exc:
            raise ModelError("the OpenAI-compatible backend needs the openai package: pip install openai") from exc
        if json_mode not in ("json_schema", "json_object"):
            raise InvalidInput("json_mode must be json_schema or json_object")
        base_url = base_url or os.environ.get("TAILORED_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise InvalidInput("the OpenAI-compatible backend needs base_url (or $TAILORED_OPENAI_BASE_URL)")
        key = api_key or os.environ.get("TAILORED_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none"
        self._openai = openai
        self._client: Any = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=0)
        self.base_url = base_url
        self.name = model
        self.json_mode = json_mode
        self.context_window = context_window

    def close(self) -> None:
        self._client.close()

    # -- error mapping ------------------------------------------------------------------

    def _fail(self, exc: Exception) -> NoReturn:
        o = self._openai
        if isinstance(exc, (o.APIConnectionError, o.APITimeoutError)):
            raise ModelUnavailable(f"cannot reach the model server at {self.base_url}: {exc}") from exc
        if isinstance(exc, o.APIStatusError):
            raise ModelError(
                f"the model server at {self.base_url} answered HTTP {exc.status_code}: {exc.message}"
            ) from exc
        raise ModelError(
            f"the model server at {self.base_url} did not answer with a chat completion: {type(exc).__name__}: {exc}"
        ) from exc

    _RESPONSE_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)

    # -- core ---------------------------------------------------------------------------

    def _kwargs(self, messages: list[Message], options: GenerateOptions) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "model": self.name,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
        }
        if options.stop:
            kw["stop"] = list(options.stop)
        if options.schema is not None:
            if self.json_mode == "json_schema":
                kw["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": options.schema},
                }
            else:
                kw["response_format"] = {"type": "json_object", "schema": options.schema}
        return kw

    def _create(self, **kw: Any) -> Any:
        try:
            return self._client.chat.completions.create(**kw)
        except self._openai.OpenAIError as exc:
            self._fail(exc)
        except self._RESPONSE_ERRORS as exc:
            self._fail(exc)

    def _complete(self, messages: list[Message], options: GenerateOptions) -> Completion:
        out = self._create(**self._kwargs(messages, options))
        try:
            choice = out.choices[0]
            text = choice.message.content
            if not isinstance(text, str):
                raise TypeError("the answer has no text content")
            usage = out.usage
            return Completion(
                text=text,
                prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                finish_reason=choice.finish_reason,
                model=self.name,
            )
        except self._RESPONSE_ERRORS as exc:
            self._fail(exc)

    def _stream(self, messages: list[Message], options: GenerateOptions) -> Iterator[str]:
        chunks = self._create(stream=True, **self._kwargs(messages, options))
        try:
            for chunk in chunks:
                if not chunk.choices:
                    continue
                text = chunk.choices[0].delta.content
                if text:
                    yield text
        except self._openai.OpenAIError as exc:
            self._fail(exc)
        except self._RESPONSE_ERRORS as exc:
            self._fail(exc)

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def _next_token_logprobs(self, messages: list[Message], top_k: int) -> dict[str, float]:
        opts = GenerateOptions(max_tokens=1, temperature=0.0)
        out = self._create(logprobs=True, top_logprobs=top_k, **self._kwargs(messages, opts))
        try:
            content = out.choices[0].logprobs.content
            if not content:
                raise ModelError(f"the model server at {self.base_url} returned no log-probabilities")
            return {t.token: float(t.logprob) for t in content[0].top_logprobs[:top_k]}
        except self._RESPONSE_ERRORS as exc:
            self._fail(exc)

    def _choice_logprobs(self, messages: list[Message], choices: list[str]) -> dict[str, float]:
        """One request: ``max_tokens: 1, logprobs: true, top_logprobs: 5`` (the most many
        servers allow); a choice outside the five gets an upper bound (``choices_from_top``)."""
        return choices_from_top(self._next_token_logprobs(messages, 5), choices)
