"""Personalized safety: how risky a request is for this user, and which of their facts matter.

``Engine.assess`` returns an ``Assessment``; ``sensitive.categories`` labels any memory or
event text with the sensitive categories it reveals; ``guidance`` turns an assessment into
the context block and the clarifying question of the chat's safety modes.
"""

from __future__ import annotations

from .assess import RISK_LEVELS, Assessment, Assessor, MissingFact, RiskLevel, SafetyFact, SafetySource, Thresholds
from .domains import DOMAINS, Domain
from .sensitive import CATEGORIES, Category, categories, is_sensitive

__all__ = [
    "CATEGORIES",
    "DOMAINS",
    "RISK_LEVELS",
    "Assessment",
    "Assessor",
    "Category",
    "Domain",
    "MissingFact",
    "RiskLevel",
    "SafetyFact",
    "SafetySource",
    "Thresholds",
    "categories",
    "is_sensitive",
]
