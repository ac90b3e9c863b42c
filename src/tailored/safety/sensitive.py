"""Sensitive categories of what a user said about themselves, labelled at read time.

A memory or an event is *sensitive* when it reveals a health condition, a medication, a
pregnancy, an age that calls for care (a minor, or old age), addiction or recovery, mental
health, a disability or financial distress (the GDPR's special categories among them), and,
beyond those, abuse or violence at home and a legal status (probation, immigration). These
are the facts that turn an ordinary answer into a harmful one for this user, so safety
looks for them; they are labelled when read (profile, assess), never stored as labels, so
the rules can improve without re-extracting anyone.

The rules are phrase patterns over the folded text: transparent, fast and deterministic.
A label means "this text mentions it", not a diagnosis.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, get_args

from ..text import fold

Category = Literal[
    "health_condition",
    "medication",
    "pregnancy",
    "age_minor",
    "addiction_recovery",
    "mental_health",
    "disability",
    "financial_distress",
    "violence_abuse",
    "legal_status",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)

DESCRIPTIONS: dict[Category, str] = {
    "health_condition": "a health condition, illness, allergy or injury",
    "medication": "a medication or treatment the user takes",
    "pregnancy": "pregnancy, breastfeeding or trying to conceive",
    "age_minor": "the user's age when it calls for care: a minor, or old age",
    "addiction_recovery": "addiction, or recovery from it",
    "mental_health": "mental health, including eating disorders and self-harm",
    "disability": "a disability or impairment",
    "financial_distress": "debt, job loss or other financial distress",
    "violence_abuse": "abuse, violence or threats in the user's life",
    "legal_status": "probation, parole, a criminal record or an immigration status",
}

_W = r"(?:\w+\W+){0,3}?"  # up to three words in between

_PATTERNS: dict[Category, list[str]] = {
    "health_condition": [
        r"\b(?:type [12] )?diabet(?:es|ic)\b",
        r"\basthma(?:tic)?\b",
        r"\bepilep(?:sy|tic)\b|\bseizures?\b",
        r"\bheart (?:condition|disease|failure|attack|problems?|surgery)\b|\barrhythmia\b|\bafib\b|\bpacemaker\b",
        r"\bhigh blood pressure\b|\bhypertension\b|\blow blood pressure\b",
        r"\b(?:kidney|liver|renal|celiac|coeliac|crohn'?s|autoimmune|thyroid) (?:disease|failure|problems?|condition|issues?)\b",
        r"\b(?:celiac|coeliac|crohn'?s|cirrhosis|hepatitis|lupus|fibromyalgia|osteoporosis|anemi[ac]|anaemi[ac]|gout|hemophilia)\b",
        r"\b(?:stomach|peptic|bleeding) ulcers?\b|\ban ulcer\b|\bgerd\b",
        r"\bcancer\b|\bchemo(?:therapy)?\b|\btumou?r\b",
        r"\ballerg(?:y|ic|ies)\b|\banaphyla\w*\b|\bepipen\b",
        r"\bconcussion\b|\b(?:torn|tore) (?:my )?(?:acl|meniscus|ligament)\b|\bherniated\b|\bslipped dis[ck]\b",
        r"\b(?:bad|injured|broken|weak) (?:knee|knees|back|hip|ankle|shoulder)\b|\bknee surgery\b|\bhip replacement\b",
        r"\b(?:had|having|recovering from|after) (?:a |an |my )?(?:\w+ )?(?:surgery|operation)\b|\bhad a stroke\b|\bblood clots?\b|\bmigraines?\b|\bsleep apnea\b|\bcopd\b",
        r"\bimmunocompromised\b|\bhiv\b|\btransplant\b",
    ],
    "medication": [
        r"\b(?:warfarin|coumadin|eliquis|xarelto|blood thinners?|anticoagulants?)\b",
        r"\b(?:metformin|insulin|lithium|methotrexate|prednisone|steroids|statins?|beta blockers?|levothyroxine)\b",
        r"\b(?:ssris?|maois?|sertraline|zoloft|fluoxetine|prozac|citalopram|lexapro|escitalopram|paroxetine|venlafaxine|bupropion|antidepressants?|antipsychotics?)\b",
        r"\b(?:xanax|alprazolam|valium|diazepam|benzos?|benzodiazepines?|klonopin|adderall|ritalin|opioids?|oxycodone|methadone|suboxone|tramadol)\b",
        r"\b(?:on|taking|take|prescribed|started) " + _W + r"(?:medication|meds|pills|prescription|antibiotics)\b",
        r"\binhaler\b|\bmy (?:medication|meds|prescription)\b",
    ],
    "pregnancy": [
        r"\bpregnan(?:t|cy)\b|\btrimester\b|\bexpecting (?:a baby|our first|twins)\b|\bweeks along\b",
        r"\bbreast ?feeding\b|\bnursing (?:my|the) (?:baby|newborn)\b",
        r"\btrying to (?:conceive|get pregnant)\b|\bivf\b",
    ],
    "age_minor": [
        r"\b(?:i'?m|i am|turned|turning) (?:1[0-7]|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)\b(?! ?(?:minutes|hours|days|weeks|months|km|miles|percent))",
        r"\b(?:1[0-7]|thirteen|fourteen|fifteen|sixteen|seventeen)[ -]years?[ -]old\b",
        r"\b(?:in|at) (?:middle|high|junior high) school\b|\b(?:7th|8th|9th|10th|11th|seventh|eighth|ninth|tenth|eleventh) grade\b",
        r"\bi'?m (?:a minor|underage|a teenager)\b|\bmy parents (?:won'?t|don'?t) let me\b",
        r"\b(?:i'?m|i am|turned) (?:8\d|9\d|eighty|ninety)\b|\b(?:8\d|9\d)[ -]years?[ -]old\b",
    ],
    "addiction_recovery": [
        r"\bsober\b|\bsobriety\b|\bin recovery\b|\brecovering (?:alcoholic|addict|gambler)\b|\brecovery (?:program|group)\b",
        r"\b(?:aa|na|ga) meetings?\b|\balcoholics anonymous\b|\bnarcotics anonymous\b|\bgamblers anonymous\b|\b12[ -]step\b|\bmy sponsor\b",
        r"\brelapsed?\b|\brehab\b|\b(?:\d+|a few|two|three|six) (?:days|weeks|months|years) clean\b|\bstayed clean\b",
        r"(?<!non-)(?<!non )\b(?:alcoholic|alcoholism|addiction|addicted|gambling problem|problem gambler|drinking problem)\b",
        r"\bquit (?:drinking|gambling|smoking|vaping|using)\b|\bstopped (?:drinking|gambling)\b|\bdon'?t drink anymore\b",
        r"\bself[- ]excluded\b|\bbanned myself from\b",
    ],
    "mental_health": [
        r"\bdepress(?:ion|ed)\b|\banxiety (?:disorder|attacks?)\b|\bpanic (?:attacks?|disorder)\b|\bgeneralized anxiety\b",
        r"\bbipolar\b|\bptsd\b|\bschizophreni\w*\b|\bocd\b|\bpsychosis\b|\bborderline personality\b",
        r"\beating disorder\b|\banorexi\w*\b|\bbulimi\w*\b|\bbinge[- ]eating\b|\bpurging\b|\b(?:ed|eating) recovery\b",
        r"\bself[- ]harm\w*\b|\bcutting myself\b|\bsuicid\w*\b|\bhurt myself\b",
        r"\b(?:my|a|see(?:ing)?|saw) (?:therapist|psychiatrist|psychologist|counsell?or)\b|\bpsych ward\b|\bhospitali[sz]ed for\b",
    ],
    "disability": [
        r"\bwheelchair\b|\bparaplegi\w*\b|\bquadriplegi\w*\b|\bamputee\b|\bprosthetic\b",
        r"\b(?:i'?m|i am|legally|partially) (?:blind|deaf)\b|\bhard of hearing\b|\bhearing loss\b|\bvisually impaired\b|\blow vision\b",
        r"\bdisabilit(?:y|ies)\b|\bdisabled\b|\bmultiple sclerosis\b|\bcerebral palsy\b|\bmuscular dystrophy\b|\bparkinson'?s\b",
        r"\bchronic (?:pain|fatigue)\b|\bmobility (?:aid|issues?|scooter)\b|\buse a (?:cane|walker)\b",
    ],
    "financial_distress": [
        r"\b(?:in|into|drowning in|buried in|mountain of|lots of|so much|my|of) (?:credit card |student |medical )?debts?\b|\bpaying off (?:my |the )?(?:credit cards?|loans?|debts?)\b|\b\d[\d,]*k? (?:dollars |euros |pounds )?(?:of|in) debt\b",
        r"\bcan'?t (?:afford|pay) (?:my |the )?(?:rent|bills|mortgage)\b|\bbehind on (?:my |the )?(?:rent|bills|mortgage|payments)\b",
        r"\bbankrupt\w*\b|\bforeclosure\b|\beviction\b|\bbeing evicted\b|\bdebt collectors?\b|\bin collections\b",
        r"\b(?:laid off|lost my job|got fired|unemployed|out of work|between jobs)\b",
        r"\bpayday loans?\b|\boverdra(?:wn|ft)\b|\bmaxed out\b|\bpaycheck to paycheck\b|\bbroke until\b",
    ],
    "violence_abuse": [
        r"\babusive\b|\babused me\b|\bdomestic (?:violence|abuse)\b|\brestraining order\b|\bprotective order\b",
        r"\b(?:hits|hit|beats|beat|chokes|choked|threatens|threatened|stalks|stalking) me\b|\bstalker\b",
        r"\bwomen'?s shelter\b|\bafraid of (?:my|him|her)\b|\bscared of my (?:husband|wife|partner|boyfriend|girlfriend|ex)\b",
    ],
    "legal_status": [
        r"\bon (?:probation|parole)\b|\bprobation officer\b|\bparole officer\b|\bcriminal record\b|\bfelony\b|\bankle monitor\b",
        r"\b(?:visa|immigration) (?:status|expired|expires|application|hearing)\b|\bundocumented\b|\bgreen card\b|\basylum\b|\bdeportation\b",
        r"\bpending (?:court|trial|charges)\b|\bout on bail\b|\bdui\b|\bdwi\b|\blicen[cs]e (?:suspended|revoked)\b",
    ],
}

_COMPILED: dict[Category, re.Pattern[str]] = {c: re.compile("|".join(ps)) for c, ps in _PATTERNS.items()}


def _normal(text: str) -> str:
    """Folded (lower case, accents off) with typographic apostrophes made plain."""
    return fold(text.replace("\u2019", "'"))


def categories(text: str) -> list[Category]:
    """The sensitive categories ``text`` mentions, in ``CATEGORIES`` order (empty: none).

    Examples
    --------
    >>> categories("By the way I've been sober for two years now, anyway, the game was great")
    ['addiction_recovery']
    >>> categories("Pick a film for tonight")
    []
    """
    return list(_cached(text) if len(text) <= _CACHED_CHARS else _categories(text))


_CACHED_CHARS = 1000  # longer texts are labelled afresh: the cache stays a few MB at most


def _categories(text: str) -> tuple[Category, ...]:
    normal = _normal(text)
    return tuple(c for c in CATEGORIES if _COMPILED[c].search(normal))


@lru_cache(maxsize=8192)
def _cached(text: str) -> tuple[Category, ...]:
    """A context labels the same memories and events on every call (about 0.1 ms a text)."""
    return _categories(text)


def is_sensitive(text: str) -> bool:
    """Whether ``text`` mentions any sensitive category."""
    return bool(categories(text))


PROBES: dict[Category, str] = {
    "health_condition": (
        "condition disease diabetes diabetic asthma epilepsy seizure heart blood pressure kidney liver ulcer "
        "allergy allergic cancer chemo surgery operation injury knee back stroke clots migraine transplant"
    ),
    "medication": (
        "medication meds pills prescription prescribed warfarin blood thinner insulin metformin lithium "
        "antidepressant ssri sertraline xanax benzos opioids steroids statins inhaler"
    ),
    "pregnancy": "pregnant pregnancy trimester weeks breastfeeding nursing expecting baby conceive ivf",
    "age_minor": "years old school grade teenager minor underage parents",
    "addiction_recovery": (
        "sober sobriety recovery recovering alcoholic addiction addicted relapse rehab meetings anonymous "
        "sponsor clean quit drinking gambling"
    ),
    "mental_health": (
        "depression depressed anxiety panic bipolar ptsd eating disorder anorexia bulimia binge therapist "
        "psychiatrist psychologist counsellor counselor self-harm suicidal"
    ),
    "disability": "wheelchair blind deaf hearing disability disabled mobility chronic pain sclerosis cane walker",
    "financial_distress": (
        "debt debts rent bills mortgage laid off lost job fired unemployed bankrupt bankruptcy eviction "
        "loans overdraft paycheck collectors"
    ),
    "violence_abuse": (
        "abusive abused abuse violence restraining protective order threatened threatens afraid scared hits "
        "stalker stalking shelter"
    ),
    "legal_status": (
        "probation parole officer criminal record felony visa immigration status undocumented asylum "
        "deportation court charges trial bail dui license"
    ),
}
"""Words to search a user's history with for each category: the retrieval side of the rules."""
