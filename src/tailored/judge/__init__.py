"""The personalized judge: which answer a given user would prefer, and how sure it is.

``Judge.compare`` reads a pair in both orders and combines them (``combine``), takes the
probability from the verdict token where the backend exposes it, and calibrates it with a
calibrator fitted on labelled pairs (``calibrate``); ``metrics`` measures the result.
Use it through ``Engine.judge()``, which binds it to the engine's users.
"""

from .batch import judge_file, read_pairs
from .calibrate import Calibrator, fit_calibrator, load_calibrator, pick_threshold, save_calibrator
from .judge import Judge, ProfileSource, Who
from .models import JudgedPair, Judgement, PairIn, Persona, Satisfaction

__all__ = [
    "Calibrator",
    "JudgedPair",
    "Judge",
    "Judgement",
    "PairIn",
    "Persona",
    "ProfileSource",
    "Satisfaction",
    "Who",
    "fit_calibrator",
    "judge_file",
    "load_calibrator",
    "pick_threshold",
    "read_pairs",
    "save_calibrator",
]
