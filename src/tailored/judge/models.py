"""What goes into the judge and what comes out: pydantic models at its boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..types import check_text

Winner = Literal["a", "b", "tie"]
Method = Literal["pointwise", "pairwise"]
ConfidenceSource = Literal["tokens", "verbal", "calibrated"]

MAX_QUERY_CHARS = 4000
MAX_RESPONSE_CHARS = 8000
MAX_PERSONA_CHARS = 4000


class Persona(BaseModel):
    """Who the judge judges for: free text, a user of the engine (their profile), or both.

    Examples
    --------
    >>> Persona(text="I am vegetarian").user_id is None
    True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(None, max_length=MAX_PERSONA_CHARS, description="free-text persona")
    user_id: str | None = Field(None, min_length=1, max_length=200, description="a user whose profile to use")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        return check_text(v, "persona")


class Judgement(BaseModel):
    """Which response the user would prefer, and how sure the judge is.

    ``probability`` is the probability that response A is the preferred one (calibrated
    when a calibrator is loaded); ``confidence`` is the winner's probability,
    ``max(p, 1 - p)``. ``pointwise`` reads each response alone (``margins``); ``pairwise``
    reads the pair in both presentation orders (``order_probabilities``, ``consistent``).
    """

    winner: Winner
    probability: float = Field(ge=0.0, le=1.0, description="P(response A is preferred)")
    confidence: float = Field(ge=0.0, le=1.0)
    source: ConfidenceSource = Field(description="where the probability came from")
    abstained: bool = Field(False, description="confidence below the judge's threshold")
    method: Method = "pointwise"
    margins: tuple[float, float] | None = Field(
        None, description="pointwise: log P(Yes) - log P(No) that response A, and B, fits the user"
    )
    order_probabilities: tuple[float, float] | None = Field(
        None, description="pairwise: P(A preferred) read with A shown first, and with B shown first"
    )
    consistent: bool = Field(
        description="pairwise: both presentation orders pick the same response; pointwise: always (no positions)"
    )
    verbal_winner: Winner | None = None
    verbal_confidence: int | None = Field(None, ge=1, le=10, description="the model's own 1-10 rating")
    rationale: str | None = None
    relied_on: list[str] = Field(default_factory=list, description="the persona items the rationale cites")
    model: str = ""


class Satisfaction(BaseModel):
    """``Judge.score``: the probability that the user would be satisfied with one response."""

    probability: float = Field(ge=0.0, le=1.0)
    source: ConfidenceSource
    model: str = ""


class PairIn(BaseModel):
    """One line of a batch file: ``{"id", "query", "response_a", "response_b"}``, and
    optionally whose judgement it is (``user_id`` and/or ``persona``) and a ``label``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    response_a: str = Field(min_length=1, max_length=MAX_RESPONSE_CHARS)
    response_b: str = Field(min_length=1, max_length=MAX_RESPONSE_CHARS)
    user_id: str | None = Field(None, min_length=1, max_length=200)
    persona: str | None = Field(None, max_length=MAX_PERSONA_CHARS)
    label: Literal["a", "b"] | None = Field(None, description="the preferred response, for evaluation")


class JudgedPair(BaseModel):
    """One line of a batch's output: the pair's id, its label if it had one, the judgement."""

    id: str
    label: Literal["a", "b"] | None = None
    judgement: Judgement
