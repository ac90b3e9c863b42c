"""Which clauses of a user's message disclose something about the user.

A small perceptron (one hidden layer) over the clause's MiniLM vector (all-MiniLM-L6-v2, the engine's
default embedder) scores each sentence and clause of a turn. It was trained on
Synthetic-Persona-Chat's valid split (never its test split): a clause the user said is a
disclosure when the memory written from it (``phrase.rewrite``) matches one of that user's
persona lines at MiniLM cosine >= 0.6, the matching ``tailored bench extraction`` scores with. ``python -m tailored.memory.train_disclose``
reproduces the shipped weights from the data (see its docstring for the exact command).

The weights ship in the package (``data/disclose-minilm.npz``, 200 KB) and are checked
against the sha256 pinned here before use, the way model files are: a changed or damaged
file is refused, never read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelIntegrityError

WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "disclose-minilm.npz"
WEIGHTS_SHA256 = "6b81eae1fda0a91b817b1ebbe10d13db3a4335b42aedd81caf789c71fd535de5"
EMBEDDER = "all-MiniLM-L6-v2"
DIMENSIONS = 384

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE_BREAK = re.compile(r",\s*(?:and\s+)?|\s+(?:and|but)\s+")
# a question tagged onto a statement: "I love hiking, do you?", "I love hiking what about you?"
_TAG_QUESTION = re.compile(
    r"[\s,;:-]*\b(?:(?:and|so|but)\s+)?(?:(?:do|did|are|were|have|can|would|will)\s+you(?:\s+[\w']+){0,4}"
    r"|(?:what|how)\s+about\s+(?:you|yourself)|and\s+you|you\s+too|right|yourself)\s*\?+\s*$",
    re.I,
)


def untagged(sentence: str) -> str:
    """The sentence without a question tagged onto its end ("I love hiking do you?" ->
    "I love hiking."), so the statement is not dropped with the question.

    Examples
    --------
    >>> [untagged(s) for s in ["I love hiking do you?", "I have two cats what about you?", "Do you?"]]
    ['I love hiking.', 'I have two cats.', 'Do you?']
    >>> untagged("I'm married with three kids do you have any?")
    "I'm married with three kids."
    """
    head = _TAG_QUESTION.sub("", sentence)
    if head == sentence or len(head.split()) < 2:
        return sentence
    return head.rstrip(" ,;:-") + "."


@dataclass(frozen=True)
class Span:
    """A sentence of a turn, or a clause of that sentence (``sentence`` is its index)."""

    text: str
    sentence: int
    whole: bool  # the whole sentence, not one of its clauses


def spans(text: str) -> list[Span]:
    """Each sentence, then its clauses (split at commas, "and", "but") when there are several.

    One sentence often voices several facts ("I like to dance, run a dog obedience school,
    and eat sweets"); the whole sentence is too far from each of them to stand for it.

    Examples
    --------
    >>> [(s.text, s.whole) for s in spans("Hi! I have two dogs and I love hiking.")]
    [('Hi!', True), ('I have two dogs and I love hiking.', True), ('I have two dogs', False), ('I love hiking.', False)]
    >>> [s.text for s in spans("I love hiking, do you?")]
    ['I love hiking.']
    """
    out: list[Span] = []
    n = 0
    for sentence in _SENTENCE_END.split(text):
        sentence = untagged(sentence.strip())
        if not sentence:
            continue
        out.append(Span(sentence, n, True))
        parts = [p.strip() for p in _CLAUSE_BREAK.split(sentence) if len(p.split()) >= 2]
        if len(parts) > 1:
            out += [Span(p, n, False) for p in parts]
        n += 1
    return out


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class DisclosureClassifier:
    """P(a clause discloses something about the speaker) from its MiniLM vector.

    Parameters
    ----------
    path, sha256
        The weights file and the digest it must have (the shipped file by default).

    Raises
    ------
    ModelIntegrityError
        The file is missing, does not match ``sha256``, or is not a weights file.
    """

    def __init__(self, path: Path = WEIGHTS, sha256: str = WEIGHTS_SHA256) -> None:
        if not path.is_file():
            raise ModelIntegrityError(f"disclosure classifier weights missing: {path}")
        digest = sha256_of(path)
        if digest != sha256:
            raise ModelIntegrityError(
                f"{path.name}: sha256 is {digest}, expected {sha256}; the file is damaged or was changed, "
                "reinstall tailored or retrain it with python -m tailored.memory.train_disclose"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                self.w1 = np.asarray(data["w1"], dtype=np.float64)
                self.b1 = np.asarray(data["b1"], dtype=np.float64)
                self.w2 = np.asarray(data["w2"], dtype=np.float64)
                self.b2 = float(np.asarray(data["b2"]).reshape(-1)[0])
                self.threshold = float(data["threshold"])
                self.reinforce = float(data["reinforce"])
                self.embedder = str(data["embedder"])
        except (KeyError, ValueError, OSError) as exc:
            raise ModelIntegrityError(f"{path.name} is not a disclosure classifier: {exc}") from exc
        if self.w1.shape != (DIMENSIONS, len(self.b1)) or self.w2.shape != self.b1.shape:
            raise ModelIntegrityError(f"{path.name} holds weights of the wrong shapes")
        if self.embedder != EMBEDDER:
            raise ModelIntegrityError(f"{path.name} was trained on {self.embedder} vectors, not {EMBEDDER}")

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Probabilities, one per row of ``vectors`` (L2-normalised MiniLM vectors)."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float64)
        hidden = np.maximum(np.asarray(vectors, dtype=np.float64) @ self.w1 + self.b1, 0.0)
        z = hidden @ self.w2 + self.b2
        out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return out
