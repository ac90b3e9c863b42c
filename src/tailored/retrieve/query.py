"""Turning a free-text question into full-text search terms."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t don ve ll re d m""".split()
)


def query_terms(query: str, max_terms: int = 32) -> list[str]:
    """Distinct content words of ``query``, in order; stopwords only if nothing else is left."""
    words = [w.lower().split("'")[0] for w in _WORD.findall(query)]
    content = [w for w in words if w not in STOPWORDS]
    chosen = content or words
    return list(dict.fromkeys(chosen))[:max_terms]
