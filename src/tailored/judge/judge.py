"""``Judge``: which of two responses a given user would prefer, and how sure it is.

Two ways to read a pair, both free of the order in which the caller passes it:

- ``pointwise`` (the default where the backend exposes token probabilities): each response
  is read alone ("is this a good fit for me?"), its score is log P(Yes) - log P(No) of the
  answer's first token, and P(A preferred) = sigmoid(score A - score B). No position to be
  biased by. Chosen by measurement: on the tuning pairs the local 1.5B model read in both
  A/B orders leaned so hard towards a position that its two orders agreed on 1 pair in 3.
- ``pairwise``: the pair shown with A first and with B first, the A/B verdict token's
  probability read in each, the two averaged (see ``combine``); the only way without token
  probabilities, where the verdict and 1-10 confidence the model writes as JSON are read
  in both orders. A
calibrator fitted on labelled pairs (``calibrate``) turns it into a probability that means
what it says; a threshold on the confidence makes the judge abstain when unsure.

The judge needs only two verbs from the engine (``ProfileSource``), so it never reaches
into it: ``Engine.judge()`` hands it the engine itself.
"""

from __future__ import annotations

import json
import math
from typing import Literal, Protocol

from ..errors import InvalidInput, NotFound, SchemaError
from ..llm.base import ChatModel, Message
from ..types import Profile, check_text
from .calibrate import Calibrator, load_calibrator
from .combine import combine, consistent, order_probability, winner
from .models import (
    MAX_PERSONA_CHARS,
    MAX_QUERY_CHARS,
    MAX_RESPONSE_CHARS,
    Judgement,
    Method,
    Persona,
    Satisfaction,
)
from .prompt import VERBAL_QUESTION, pair_messages, point_messages
from .verbal import SCORE_SCHEMA, VERDICT_SCHEMA, Verbal, parse_verdict, verbal_probability

Who = Persona | str | None
"""Whose judgement: a ``Persona`` (free text, a user id, or both), a user id, or nobody."""


class ProfileSource(Protocol):
    """What the judge needs from the engine: whether a user exists, and their profile."""

    def user(self, user_id: str) -> object: ...

    def profile(self, user_id: str) -> Profile: ...


class Judge:
    """A personalized pairwise judge with calibrated confidence.

    Parameters
    ----------
    model
        The chat model that judges. Token probabilities are used when
        ``model.supports_logprobs``; the verbal confidence otherwise.
    profiles
        Where users' profiles come from (an ``Engine``); needed only to judge for a user.
    calibrator
        A fitted ``Calibrator``, ``"auto"`` (the one saved for this model's name, if any;
        see ``calibrate.save_calibrator``) or None (raw probabilities).
    threshold
        Abstain (``Judgement.abstained``) below this confidence; pick it with
        ``calibrate.pick_threshold`` on labelled pairs.
    max_items
        Profile memories shown to the model, pinned first.
    method
        ``pointwise`` or ``pairwise`` (see the module's notes); a backend without token
        probabilities is always read pairwise, verbally.

    Examples
    --------
    >>> from tailored.testing import ScriptedChatModel
    >>> judge = Judge(ScriptedChatModel(["Yes", "No"]), calibrator=None)
    >>> j = judge.compare(Persona(text="I am vegan"), "Dinner?", "Lentil curry", "Steak", explain=False)
    >>> (j.winner, round(j.probability, 3), j.method)
    ('a', 1.0, 'pointwise')
    """

    def __init__(
        self,
        model: ChatModel,
        profiles: ProfileSource | None = None,
        *,
        calibrator: Calibrator | Literal["auto"] | None = "auto",
        threshold: float | None = None,
        max_items: int = 20,
        method: Method = "pointwise",
    ) -> None:
        if method not in ("pointwise", "pairwise"):
            raise InvalidInput("method must be pointwise or pairwise")
        self.method: Method = method
        if threshold is not None and not 0.5 <= threshold <= 1.0:
            raise InvalidInput("threshold must be between 0.5 and 1")
        self.model = model
        self.profiles = profiles
        if calibrator == "auto":
            try:
                calibrator = load_calibrator(model.name)
            except NotFound:
                calibrator = None
        self.calibrator: Calibrator | None = calibrator
        self.threshold = threshold
        self.max_items = max_items

    # -- who ------------------------------------------------------------------------------

    def persona_items(self, who: Who) -> list[str]:
        """The numbered facts the prompt shows: the free text first, then the user's profile.

        Raises
        ------
        NotFound
            The user does not exist.
        InvalidInput
            A user was named but the judge has no profile source.
        """
        if who is None:
            return []
        persona = Persona(user_id=who) if isinstance(who, str) else who
        items = [persona.text] if persona.text else []
        if persona.user_id is not None:
            if self.profiles is None:
                raise InvalidInput("judging for a user needs an engine: use Engine.judge()")
            self.profiles.user(persona.user_id)  # NotFound for an unknown user
            profile = self.profiles.profile(persona.user_id)
            memories = sorted(profile.preferences + profile.facts, key=lambda m: not m.pinned)
            items += [m.text for m in memories[: self.max_items]]
        return items

    # -- checks ---------------------------------------------------------------------------

    @staticmethod
    def _check(text: str, what: str, limit: int) -> None:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f"{what} is missing or empty")
        if len(text) > limit:
            raise InvalidInput(f"{what} has {len(text)} characters; at most {limit}")
        try:
            check_text(text, what)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc

    def _fits(self, messages: list[Message]) -> list[Message]:
        used = self.model.count_message_tokens(messages)
        if used + 8 > self.model.context_window:
            raise InvalidInput(
                f"the pair and persona take {used} tokens; {self.model.name} reads at most "
                f"{self.model.context_window}: shorten the responses or the persona"
            )
        return messages

    # -- reading one order ----------------------------------------------------------------

    def read_tokens(self, query: str, first: str, second: str, items: list[str]) -> float:
        """One reading: P(the first-shown response wins) from the A/B token probabilities.

        ``compare`` makes two of these; a caller that judges one pair for several personas
        can make them persona after persona in one order, so the local backend decodes
        the shared prefix (instructions, query, responses) once."""
        msgs = self._fits(pair_messages(query, first, second, items))
        lp = self.model.choice_logprobs(msgs, ["A", "B"])
        return order_probability(math.exp(lp["A"]), math.exp(lp["B"]))

    def read_margin(self, query: str, response: str, items: list[str]) -> float:
        """One pointwise reading: log P(Yes) - log P(No) that ``response`` fits the user."""
        msgs = self._fits(point_messages(query, response, items))
        lp = self.model.choice_logprobs(msgs, ["Yes", "No"])
        return lp["Yes"] - lp["No"]

    def read_verbal(self, query: str, first: str, second: str, items: list[str]) -> Verbal | None:
        """One reading of the model's JSON verdict (winner as shown: ``a`` is ``first``)."""
        msgs = self._fits(pair_messages(query, first, second, items, VERBAL_QUESTION))
        try:
            value = self.model.generate_json(msgs, VERDICT_SCHEMA, max_tokens=200)
            return parse_verdict(json.dumps(value))
        except SchemaError as exc:
            return parse_verdict(exc.output)

    # -- what callers use -----------------------------------------------------------------

    def compare(
        self,
        who: Who,
        query: str,
        response_a: str,
        response_b: str,
        *,
        explain: bool = True,
    ) -> Judgement:
        """Which of ``response_a`` and ``response_b`` this user would prefer.

        Parameters
        ----------
        who
            A ``Persona`` (free text and/or a user id), a user id, or None (no persona).
        query
            What the user asked.
        response_a, response_b
            The two candidate answers.
        explain
            Also ask for the verbal verdict: a 1-10 confidence, a rationale and the persona
            items it relied on (one generation; the probability does not depend on it).

        Returns
        -------
        Judgement

        Raises
        ------
        InvalidInput
            A text is missing, empty or too long, or the prompt does not fit the model.
        NotFound
            ``who`` names a user the engine does not have.
        """
        self._check(query, "query", MAX_QUERY_CHARS)
        self._check(response_a, "response_a", MAX_RESPONSE_CHARS)
        self._check(response_b, "response_b", MAX_RESPONSE_CHARS)
        if isinstance(who, Persona) and who.text and len(who.text) > MAX_PERSONA_CHARS:
            raise InvalidInput(f"persona has more than {MAX_PERSONA_CHARS} characters")
        items = self.persona_items(who)
        verbal: Verbal | None = None
        margins: tuple[float, float] | None = None
        orders: tuple[float, float] | None = None
        method: Method = self.method if self.model.supports_logprobs else "pairwise"
        source: Literal["tokens", "verbal", "calibrated"] = "tokens"
        if method == "pointwise":
            margins = (self.read_margin(query, response_a, items), self.read_margin(query, response_b, items))
            p = 1.0 / (1.0 + math.exp(-max(min(margins[0] - margins[1], 50.0), -50.0)))
            agree = True
        else:
            if self.model.supports_logprobs:
                p_ab = self.read_tokens(query, response_a, response_b, items)
                p_ba = 1.0 - self.read_tokens(query, response_b, response_a, items)
            else:
                verbal = self.read_verbal(query, response_a, response_b, items)
                swapped = self.read_verbal(query, response_b, response_a, items)
                p_ab = verbal_probability(verbal) if verbal else 0.5
                p_ba = 1.0 - verbal_probability(swapped) if swapped else 0.5
                source = "verbal"
            orders = (p_ab, p_ba)
            p = combine(p_ab, p_ba)
            agree = consistent(p_ab, p_ba)
        cal = self.calibrator
        if cal is not None and cal.source == source and cal.method == method:
            p = cal.apply(p)
            source = "calibrated"
        if explain and verbal is None:
            verbal = self.read_verbal(query, response_a, response_b, items)
        conf = max(p, 1.0 - p)
        return Judgement(
            winner=winner(p),
            probability=p,
            confidence=conf,
            source=source,
            abstained=self.threshold is not None and conf < self.threshold,
            method=method,
            margins=margins,
            order_probabilities=orders,
            consistent=agree,
            verbal_winner=verbal.winner if verbal else None,
            verbal_confidence=verbal.confidence if verbal else None,
            rationale=verbal.rationale if verbal else None,
            relied_on=[items[i - 1] for i in dict.fromkeys(verbal.items) if 1 <= i <= len(items)] if verbal else [],
            model=self.model.name,
        )

    def score(self, who: Who, query: str, response: str) -> Satisfaction:
        """The probability that this user would be satisfied with ``response`` to ``query``.

        From P(Yes) against P(No) as the answer's first token where the backend exposes
        token probabilities, else from the model's JSON verdict and confidence.
        """
        self._check(query, "query", MAX_QUERY_CHARS)
        self._check(response, "response", MAX_RESPONSE_CHARS)
        items = self.persona_items(who)
        if self.model.supports_logprobs:
            margin = self.read_margin(query, response, items)
            p = 1.0 / (1.0 + math.exp(-max(min(margin, 50.0), -50.0)))
            return Satisfaction(probability=p, source="tokens", model=self.model.name)
        msgs = self._fits(point_messages(query, response, items))
        try:
            value = self.model.generate_json(msgs, SCORE_SCHEMA, max_tokens=40)
        except SchemaError:
            return Satisfaction(probability=0.5, source="verbal", model=self.model.name)
        share = 0.5 + 0.5 * (int(value["confidence"]) - 1) / 9
        return Satisfaction(
            probability=share if value["satisfied"] else 1.0 - share, source="verbal", model=self.model.name
        )
