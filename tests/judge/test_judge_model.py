"""The judge on the real local model (Qwen2.5-1.5B through llama.cpp): one clear pair.

``make test`` pulls the model first; without it this skips with the command to run.
"""

from __future__ import annotations

import pytest

from tailored.judge import Judge, Persona

from ..test_llm import MODEL_FILE, needs_model

pytestmark = [needs_model, pytest.mark.slow]


def test_the_local_model_reads_a_preference_into_its_verdict() -> None:
    from tailored.llm.llamacpp import LlamaCppChatModel

    with LlamaCppChatModel(MODEL_FILE, n_ctx=1024, threads=2) as model:
        judge = Judge(model, calibrator=None)
        pair = (
            "Any dinner ideas for tonight?",
            "A juicy ribeye steak with fries.",
            "A spicy lentil and spinach curry.",
        )
        vegetarian = judge.compare(Persona(text="I am a strict vegetarian and never eat meat."), *pair, explain=False)
        assert vegetarian.winner == "b" and vegetarian.source == "tokens"
        assert vegetarian.margins is not None and vegetarian.margins[1] > vegetarian.margins[0]
