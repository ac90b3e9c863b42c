"""The chat-model interface: a backend implements a small core, the base does the rest.

A backend implements ``_complete`` (one whole answer), ``_stream`` (the answer as text
chunks) and ``count_tokens``; backends that expose next-token log-probabilities also
implement ``_next_token_logprobs`` (and may override ``_choice_logprobs`` where they can
read a given token's probability exactly). Checking messages, prepending a system prompt, JSON
schema output with one retry and typed errors live here, once for every backend.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ..errors import InvalidInput, ModelError, SchemaError

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message in the OpenAI shape: ``{"role": "user", "content": "..."}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Role
    content: str

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, list):  # OpenAI content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in v if isinstance(p, Mapping))
        return v


MessagesIn = Sequence[Message | Mapping[str, Any]]


class Completion(BaseModel):
    """One generated answer and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    model: str = ""


@dataclass(frozen=True)
class GenerateOptions:
    """Sampling settings every backend honours."""

    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    schema: dict[str, Any] | None = field(default=None)


def to_messages(messages: MessagesIn, system: str | None = None) -> list[Message]:
    """Validate OpenAI-style messages; ``system`` goes first, merged with a leading system message."""
    out: list[Message] = []
    for n, m in enumerate(messages):
        if isinstance(m, Message):
            out.append(m)
            continue
        if not isinstance(m, Mapping):
            raise InvalidInput(f"message {n} must be an object with role and content")
        try:
            out.append(Message.model_validate(m))
        except ValueError as exc:
            raise InvalidInput(f"message {n}: role must be system, user or assistant, with text content") from exc
    if system:
        if out and out[0].role == "system":
            out[0] = Message(role="system", content=system + "\n\n" + out[0].content)
        else:
            out.insert(0, Message(role="system", content=system))
    if not out or all(m.role == "system" for m in out):
        raise InvalidInput("messages need at least one user or assistant message")
    return out


def schema_of(schema: dict[str, Any] | type[BaseModel]) -> dict[str, Any]:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if not isinstance(schema, dict):
        raise InvalidInput("schema must be a JSON schema dict or a pydantic model class")
    return schema


def check_json(text: str, schema: dict[str, Any]) -> Any:
    """Parse ``text`` as JSON valid against ``schema``; raises ``ValueError`` saying why not."""
    import jsonschema

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at character {exc.pos})") from exc
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise ValueError(f"does not match the schema at {where}: {exc.message}") from exc
    except jsonschema.SchemaError as exc:
        raise InvalidInput(f"the JSON schema itself is invalid: {exc.message}") from exc
    return value


class ChatModel(ABC):
    """A chat model. Capabilities are class attributes, readable without calling anything.

    Attributes
    ----------
    name
        The model's name, recorded with answers.
    context_window
        Tokens the prompt and the answer may use together.
    supports_json_schema
        Output can be constrained to a JSON schema by the backend itself (otherwise the
        base asks for JSON and validates).
    supports_logprobs
        ``next_token_logprobs`` works.

    Examples
    --------
    >>> from tailored.testing import ScriptedChatModel
    >>> model = ScriptedChatModel(["Hello Ana!"])
    >>> model.generate([{"role": "user", "content": "Hi, I am Ana"}]).text
    'Hello Ana!'
    """

    name: str = "chat-model"
    context_window: int = 4096
    supports_json_schema: bool = False
    supports_logprobs: bool = False
    supports_streaming: bool = True

    # -- the core a backend implements ------------------------------------------------

    @abstractmethod
    def _complete(self, messages: list[Message], options: GenerateOptions) -> Completion:
        """Generate one whole answer (constrained to ``options.schema`` if it supports that)."""

    @abstractmethod
    def _stream(self, messages: list[Message], options: GenerateOptions) -> Iterator[str]:
        """Generate an answer as text chunks."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's vocabulary (an estimate where there is no tokenizer)."""

    def _next_token_logprobs(self, messages: list[Message], top_k: int) -> dict[str, float]:
        raise ModelError(f"{self.name} does not expose log-probabilities")

    # -- what callers use -------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 (an optional hook: most backends hold nothing)
        """Release what the model holds (memory, connections)."""

    def __enter__(self) -> ChatModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _options(max_tokens: int, temperature: float, stop: Sequence[str] | None) -> GenerateOptions:
        if max_tokens < 1:
            raise InvalidInput("max_tokens must be at least 1")
        if not 0.0 <= temperature <= 2.0:
            raise InvalidInput("temperature must be between 0 and 2")
        return GenerateOptions(max_tokens=max_tokens, temperature=temperature, stop=tuple(stop or ()))

    def generate(
        self,
        messages: MessagesIn,
        *,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        """Answer the conversation.

        Parameters
        ----------
        messages
            OpenAI-style messages, oldest first.
        system
            A system prompt put before the messages (merged with a leading system message).
        max_tokens, temperature, stop
            Sampling settings.

        Returns
        -------
        Completion
            The text and its token counts.

        Raises
        ------
        InvalidInput
            Messages or settings are malformed.
        ModelError
            The backend failed (``ModelUnavailable`` for an unreachable server).
        """
        return self._complete(to_messages(messages, system), self._options(max_tokens, temperature, stop))

    def stream(
        self,
        messages: MessagesIn,
        *,
        system: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """Like ``generate``, but yields the answer as it is produced, in text chunks."""
        msgs = to_messages(messages, system)
        options = self._options(max_tokens, temperature, stop)
        return self._stream(msgs, options)

    def generate_json(
        self,
        messages: MessagesIn,
        schema: dict[str, Any] | type[BaseModel],
        *,
        system: str | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> Any:
        """Generate a value that parses against ``schema``; one retry, then ``SchemaError``.

        ``schema`` is a JSON schema dict (the parsed JSON is returned) or a pydantic model
        class (an instance is returned).

        Raises
        ------
        SchemaError
            Twice the output did not parse against the schema; ``exc.output`` has the last one.
        """
        schema_dict = schema_of(schema)
        msgs = to_messages(messages, system)
        instruction = "Answer with one JSON value only, no prose, that matches this JSON schema:\n" + json.dumps(
            schema_dict, ensure_ascii=False
        )
        first = msgs[0]
        if first.role == "system":
            msgs[0] = Message(role="system", content=first.content + "\n\n" + instruction)
        else:
            msgs.insert(0, Message(role="system", content=instruction))
        options = self._options(max_tokens, temperature, None)
        options = GenerateOptions(max_tokens=options.max_tokens, temperature=options.temperature, schema=schema_dict)
        problem = ""
        text = ""
        for attempt in range(2):
            text = self._complete(msgs, options).text
            try:
                value = check_json(_strip_fences(text), schema_dict)
                if isinstance(schema, type) and issubclass(schema, BaseModel):
                    return schema.model_validate(value)
                return value
            except ValueError as exc:  # pydantic's ValidationError is a ValueError too
                problem = str(exc).splitlines()[0]
            if attempt == 0:  # show the model its mistake once
                msgs = [
                    *msgs,
                    Message(role="assistant", content=text),
                    Message(role="user", content=f"That output {problem}. Reply again with only valid JSON."),
                ]
        raise SchemaError(f"{self.name}: output did not parse against the schema after a retry: {problem}", text)

    def next_token_logprobs(
        self, messages: MessagesIn, *, system: str | None = None, top_k: int = 5
    ) -> dict[str, float]:
        """The ``top_k`` most likely first tokens of the answer and their natural-log probabilities.

        Raises
        ------
        ModelError
            The backend does not expose log-probabilities (see ``supports_logprobs``).
        """
        if not self.supports_logprobs:
            raise ModelError(f"{self.name} does not expose log-probabilities")
        if not 1 <= top_k <= 20:
            raise InvalidInput("top_k must be between 1 and 20")
        return self._next_token_logprobs(to_messages(messages, system), top_k)

    def choice_logprobs(
        self, messages: MessagesIn, choices: Sequence[str], *, system: str | None = None
    ) -> dict[str, float]:
        """Natural-log probabilities that the answer starts with each of ``choices``.

        One forward pass over the prompt, no generation: the way to read a verdict ("A" or
        "B", "Yes" or "No") as a probability. Each choice counts with or without a leading
        space. A backend that sees only the top few tokens (OpenAI-compatible servers) gives
        a choice missing from them an upper bound: the smaller of the least likely listed
        token and the mass left unlisted.

        Raises
        ------
        ModelError
            The backend does not expose log-probabilities (see ``supports_logprobs``).

        Examples
        --------
        >>> from tailored.testing import ScriptedChatModel
        >>> probs = ScriptedChatModel(["B"]).choice_logprobs([{"role": "user", "content": "A or B?"}], ["A", "B"])
        >>> probs["B"] > probs["A"]
        True
        """
        if not self.supports_logprobs:
            raise ModelError(f"{self.name} does not expose log-probabilities")
        wanted = [c for c in dict.fromkeys(choices)]
        if not wanted or any(not c.strip() for c in wanted):
            raise InvalidInput("choices must be non-empty strings")
        return self._choice_logprobs(to_messages(messages, system), wanted)

    def _choice_logprobs(self, messages: list[Message], choices: list[str]) -> dict[str, float]:
        """From the top tokens: each choice's listed variants summed, else the upper bound."""
        top = self._next_token_logprobs(messages, 20)
        return choices_from_top(top, choices)

    def count_message_tokens(self, messages: MessagesIn, *, system: str | None = None) -> int:
        """Tokens a prompt of these messages takes, with a few per message for the chat format."""
        return sum(self.count_tokens(m.content) + 4 for m in to_messages(messages, system)) + 2


def choices_from_top(top: Mapping[str, float], choices: Sequence[str]) -> dict[str, float]:
    """Each choice's log-probability from a top-k listing of next tokens.

    Tokens equal to the choice once surrounding spaces are stripped are summed; a choice not
    listed gets an upper bound on its probability: the least likely listed token's, or the
    mass the listing leaves out, whichever is smaller (at least 1e-9).

    Examples
    --------
    >>> out = choices_from_top({"A": math.log(0.7), " A": math.log(0.1), "B": math.log(0.15)}, ["A", "B", "C"])
    >>> [round(math.exp(out[c]), 2) for c in "ABC"]
    [0.8, 0.15, 0.05]
    """
    listed = [math.exp(v) for v in top.values()]
    left = max(1.0 - sum(listed), 0.0)
    floor = math.log(max(min([*listed, left]) if listed else 1e-9, 1e-9))
    out: dict[str, float] = {}
    for choice in choices:
        mass = sum(math.exp(v) for t, v in top.items() if t.strip() == choice.strip())
        out[choice] = math.log(mass) if mass > 0 else floor
    return out


def _strip_fences(text: str) -> str:
    """Models sometimes wrap JSON in a Markdown code fence; accept that."""
    t = text.strip()
    if t.startswith("```") and t.endswith("```"):
        t = t[3:-3]
        if t.startswith("json"):
            t = t[4:]
    return t.strip()
