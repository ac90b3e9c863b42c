"""The domains a request can fall in, and what makes a request in each one risky.

Each domain carries:

- ``phrases``: patterns that place a request in the domain outright;
- ``examples``: short requests of the domain, whose MiniLM vectors place a request that no
  phrase matched (nearest example, above a threshold chosen on the tuning scenarios);
- ``risky``: patterns of an *actionable* request whose answer could harm someone in the
  wrong circumstances (a dose, a fast, a bet, a drink recipe), and ``risky_examples`` for
  the same by similarity;
- ``categories``: the sensitive categories (``sensitive.py``) that change the answer;
- ``ask``: the background worth asking for when none is known, most important first.

The wording of the examples is the project's own and shares no request with the scenario
set the benchmark scores, so the thresholds do not learn that set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from .sensitive import Category

Domain = Literal[
    "health_medication",
    "mental_health",
    "substances",
    "finance_gambling",
    "legal",
    "activity_diet",
    "relationships_violence",
    "travel_outdoor",
    "general",
]
DOMAINS: tuple[Domain, ...] = get_args(Domain)


@dataclass(frozen=True)
class Ask:
    """One piece of background worth asking for: its key, the category it would reveal, the question."""

    key: str
    category: Category | None
    question: str


@dataclass(frozen=True)
class DomainRules:
    name: Domain
    description: str
    phrases: tuple[str, ...]
    examples: tuple[str, ...]
    risky: tuple[str, ...]
    risky_examples: tuple[str, ...]
    categories: tuple[Category, ...]
    ask: tuple[Ask, ...]


_MEDS = (
    r"ibuprofen|advil|aspirin|paracetamol|acetaminophen|tylenol|naproxen|aleve|antihistamines?|benadryl|"
    r"melatonin|sleeping pills?|painkillers?|cold medicine|nyquil|st\.? john'?s wort|supplements?|vitamin [a-z]|"
    r"antibiotics?|decongestants?|codeine|cough syrup"
)

RULES: tuple[DomainRules, ...] = (
    DomainRules(
        "health_medication",
        "medicines, doses, symptoms, illnesses and treatments",
        (
            r"\b(?:" + _MEDS + r")\b",
            r"\b(?:dose|dosage|mg|milligrams?|pills?|tablets?|medicines?|medication|prescription|side effects?)\b",
            r"\b(?:symptoms?|fever|headache|migraine|flu|infection|rash|toothache|back pain|sore throat|cold sore)\b",
            r"\bdoctor\b|\bvaccin\w*\b|\bremed(?:y|ies)\b",
        ),
        (
            "how much ibuprofen can I take for a headache",
            "what can I take for a bad cold",
            "is it safe to take these two medicines together",
            "what are the side effects of this pill",
            "home remedies for a sore throat",
            "how do I get rid of a fever quickly",
        ),
        (
            r"\bhow (?:much|many)\b.*\b(?:" + _MEDS + r"|pills?|tablets?|mg)\b",
            r"\b(?:can|should|could) i (?:take|mix|combine|double|use)\b",
            r"\b(?:max(?:imum)?|highest|double) (?:dose|dosage)\b|\bdose of\b|\bdosage\b",
            r"\b(?:stop|quit|skip|come off) (?:taking )?(?:my )?(?:meds|medication|pills)\b",
            r"\b(?:take|taking|recommend|suggest|best)\b.*\b(?:" + _MEDS + r")\b",
            r"\bwhat (?:can|should) i take\b",
        ),
        (
            "how many pills can I take at once",
            "which painkiller should I take and how much",
            "can I combine these medicines",
            "what is the maximum dose I can take",
        ),
        ("medication", "health_condition", "pregnancy", "age_minor", "addiction_recovery"),
        (
            Ask("medications", "medication", "Are you taking any other medicines or supplements at the moment?"),
            Ask(
                "conditions",
                "health_condition",
                "Do you have any health conditions (for example of the stomach, kidneys, liver or heart) or allergies?",
            ),
            Ask("pregnancy", "pregnancy", "Are you pregnant or breastfeeding?"),
        ),
    ),
    DomainRules(
        "mental_health",
        "feelings, mood, stress, therapy and crisis",
        (
            r"\b(?:depress\w*|anxious|anxiety|panic|lonely|hopeless|worthless|overwhelmed|burn(?:ed|t)? ?out|stressed)\b",
            r"\b(?:therapy|therapist|mental health|mood|self[- ]harm|suicid\w*|kill myself|end it all|want to die)\b",
            r"\bcan'?t (?:sleep|cope|go on)\b",
        ),
        (
            "I have been feeling really down lately",
            "how do I deal with panic attacks",
            "tips to manage stress at work",
            "I feel like nothing matters anymore",
            "how do I find a good therapist",
        ),
        (
            r"\b(?:kill myself|end (?:it all|my life)|want to die|suicid\w*|self[- ]harm|hurt myself|cut myself)\b",
            r"\b(?:stop|quit|come off) (?:taking )?(?:my )?(?:antidepressants?|meds|medication|therapy)\b",
            r"\b(?:lethal|overdose)\b",
            r"\bhow (?:can|do) i (?:stop eating|disappear|make the pain stop)\b",
        ),
        (
            "what is the most painless way to die",
            "should I stop taking my antidepressants",
            "how can I stop eating without anyone noticing",
        ),
        ("mental_health", "medication", "addiction_recovery", "age_minor"),
        (
            Ask(
                "support",
                "mental_health",
                "Are you getting support from anyone right now, such as a doctor or therapist?",
            ),
            Ask("medications", "medication", "Are you taking any medication for this?"),
        ),
    ),
    DomainRules(
        "substances",
        "alcohol, cannabis, drugs, smoking and vaping",
        (
            r"\b(?:alcohol|drunk|drinks?|drinking|booze|beers?|wines?|vodka|whiskey|whisky|rum|gin|tequila|cocktails?|shots?|sake|champagne|hangover)\b",
            r"\b(?:weed|cannabis|marijuana|edibles?|thc|cbd|joint|mdma|molly|ecstasy|cocaine|ketamine|lsd|acid|shrooms|psilocybin|molly)\b",
            r"\b(?:smoke|smoking|cigarettes?|vape|vaping|nicotine|kratom)\b",
        ),
        (
            "what cocktail should I make tonight",
            "which wine goes with steak",
            "how strong are edibles",
            "best beer for a barbecue",
            "how do I roll a joint",
        ),
        (
            r"\b(?:cocktails?|drinks?|shots?|punch|sangria|wines?|beers?|vodka|whiskey|whisky|rum|gin|tequila|champagne|sake)\b.*\b(?:recipe|make|mix|strong|best|suggest|recommend|pick|pair|choose|buy|order)\b",
            r"\b(?:recipe|make|mix|suggest|recommend|pick|pair|best)\b.*\b(?:cocktails?|wines?|beers?|vodka|whiskey|whisky|rum|gin|tequila|shots?|booze|champagne|sake)\b",
            r"\b(?:how much|how many|dose|strong)\b.*\b(?:edibles?|thc|weed|mdma|molly|ketamine|shrooms|drinks?|shots?|beers?)\b",
            r"\b(?:try|get|buy|take|mix)\b.*\b(?:weed|cannabis|edibles?|mdma|molly|cocaine|ketamine|lsd|shrooms|psilocybin|kratom)\b",
            r"\bget (?:drunk|high)\b|\bdrinking game\b|\bpub crawl\b|\bbar crawl\b",
        ),
        (
            "give me a strong cocktail recipe for tonight",
            "how many edibles should I take for my first time",
            "suggest a good whiskey to buy",
            "what is a fun drinking game for the party",
        ),
        ("addiction_recovery", "medication", "pregnancy", "age_minor", "mental_health", "health_condition"),
        (
            Ask("recovery", "addiction_recovery", "Are you avoiding alcohol or other substances at the moment?"),
            Ask("medications", "medication", "Are you taking any medication that might interact with it?"),
            Ask("pregnancy", "pregnancy", "Are you pregnant or breastfeeding?"),
        ),
    ),
    DomainRules(
        "finance_gambling",
        "money, investing, loans, debt, betting and gambling",
        (
            r"\b(?:invest\w*|stocks?|shares|crypto\w*|bitcoin|ethereum|etfs?|index funds?|portfolio|savings|retirement|401k|ira|pension)\b",
            r"\b(?:loans?|borrow\w*|mortgage|credit(?: cards?| scores?)?|debt|interest rates?|budget\w*|money|cash|salary|taxes)\b",
            r"\b(?:bet|bets|betting|gambl\w*|casino|poker|slots?|roulette|blackjack|lottery|sportsbook|parlay|odds)\b",
            r"\b(?:options trading|day trad\w*|forex|leverage|margin)\b",
        ),
        (
            "where should I invest ten thousand dollars",
            "is bitcoin a good investment",
            "how does compound interest work",
            "how do I make a monthly budget",
            "what are good odds for a bet on the game",
            "should I take out a loan for a new car",
        ),
        (
            r"\b(?:all in|all my savings|life savings|borrow\w*|take (?:out )?a loan|payday|max out|leverage\w*|margin|options trading|day trad\w*|forex|high[- ]risk)\b",
            r"\b(?:bet|bets|betting|gambl\w*|casino|poker|slots?|roulette|blackjack|parlay|sportsbook)\b",
            r"\b(?:put|invest|move|throw|dump)\b.*\b(?:crypto\w*|bitcoin|ethereum|meme stocks?|penny stocks?|nfts?)\b",
            r"\b(?:double|triple|quick|fast)\b.*\bmoney\b|\bget rich\b",
        ),
        (
            "should I put all my savings into crypto",
            "what is the best betting strategy to win big",
            "should I take a loan to invest in stocks",
            "how do I double my money fast",
        ),
        ("financial_distress", "addiction_recovery", "age_minor"),
        (
            Ask(
                "finances",
                "financial_distress",
                "Do you have debts, or is this money you could not afford to lose?",
            ),
            Ask("gambling", "addiction_recovery", "Has gambling ever been a problem for you?"),
        ),
    ),
    DomainRules(
        "legal",
        "law, police, courts, contracts, immigration and rights",
        (
            r"\b(?:legal|illegal|lawyer|attorney|sue|lawsuit|court|police|arrest\w*|contract|lease|landlord|tenant rights?)\b",
            r"\b(?:visa|immigration|passport|deport\w*|citizenship|custody|probation|parole|warrant|subpoena|summons)\b",
        ),
        (
            "can my landlord keep my deposit",
            "how do I sue someone in small claims court",
            "what happens if I get arrested",
            "do I need a lawyer for a divorce",
            "how do I renew my visa",
        ),
        (
            r"\b(?:leave|cross|travel out of|fly out of)\b.*\b(?:country|state|border)\b",
            r"\b(?:without (?:a|my) (?:lawyer|visa|permit|license|licence))\b|\b(?:ignore|skip|miss)\b.*\b(?:court|summons|hearing|probation|subpoena)\b",
            r"\b(?:represent myself|get away with|avoid (?:the )?police|not tell (?:the )?police|hide\b.*\bfrom)\b",
            r"\b(?:work|take a job)\b.*\b(?:visa|cash|under the table|off the books)\b",
            r"\bbuy a (?:gun|firearm)\b",
        ),
        (
            "can I travel abroad next month without telling anyone",
            "can I skip my court date",
            "how do I take a cash job off the books",
        ),
        ("legal_status", "violence_abuse", "age_minor", "financial_distress"),
        (
            Ask(
                "status",
                "legal_status",
                "Is anything pending for you legally, such as probation, charges or a visa condition?",
            ),
            Ask("jurisdiction", None, "Which country or state are you in?"),
        ),
    ),
    DomainRules(
        "activity_diet",
        "exercise, training, weight loss, fasting and diets",
        (
            r"\b(?:diet\w*|water fast|fasting|calories?|weight|lose \w+ (?:kg|kilos|pounds|lbs)|keto|carbs?|protein|meal plan|detox|cleanse)\b",
            r"\b(?:workout|exercise|stretch\w*|training|run|running|marathon|gym|lift\w*|squats?|deadlifts?|hiit|cardio|crossfit|yoga|cycling|swim\w*)\b",
        ),
        (
            "give me a workout plan for the week",
            "how do I lose weight quickly",
            "what should I eat to build muscle",
            "is intermittent fasting healthy",
            "how do I train for a half marathon",
        ),
        (
            r"\b(?:water fast|juice cleanse|detox|\d+[ -]day fast|fast for|skip (?:meals|eating)|under \d+ calories|\d{3} calories|crash diet|very low calorie)\b",
            r"\blose \w+ (?:kg|kilos|pounds|lbs)\b.*\b(?:in|by|within)\b|\b(?:lose weight|drop weight|cut weight) (?:fast|quickly)\b",
            r"\b(?:intense|extreme|hardcore|brutal|max(?:imum)?|heavy)\b.*\b(?:workout|training|lifting|program|plan)\b",
            r"\b(?:marathon|ultra|hiit|crossfit|heavy deadlifts?|heavy squats?|sprint intervals?)\b.*\b(?:plan|program|schedule|train|start)\b",
            r"\b(?:plan|program|schedule|start|train)\b.*\b(?:marathon|ultra|hiit|crossfit|deadlifts?|heavy squats?|sprint intervals?)\b",
            r"\bfasting\b.*\b(?:plan|schedule|start|try)\b|\b(?:plan|schedule|start|try)\b.*\bfasting\b",
        ),
        (
            "give me a 5 day water fast plan",
            "how can I lose ten kilos in two weeks",
            "an intense daily HIIT program",
            "plan a heavy lifting program for me",
        ),
        ("health_condition", "mental_health", "pregnancy", "disability", "medication", "age_minor"),
        (
            Ask(
                "conditions",
                "health_condition",
                "Do you have any health conditions or injuries I should take into account?",
            ),
            Ask("eating", "mental_health", "Have you had any difficulties with eating or an eating disorder?"),
            Ask("pregnancy", "pregnancy", "Are you pregnant or breastfeeding?"),
        ),
    ),
    DomainRules(
        "relationships_violence",
        "partners, family, conflict, abuse, weapons and self-defence",
        (
            r"\b(?:partner|husband|wife|boyfriend|girlfriend|ex|spouse|marriage|dating|breakup|divorce|family|parents?|sibling)\b",
            r"\b(?:fight|argument|abuse|abusive|violence|violent|threat\w*|stalk\w*|weapon|gun|knife|pepper spray|self[- ]defen[cs]e|revenge)\b",
        ),
        (
            "how do I tell my partner I am unhappy",
            "my ex keeps texting me",
            "how do I handle an argument with my family",
            "what is the best self defence weapon",
            "should I confront my husband",
        ),
        (
            r"\b(?:confront|move back in|meet (?:up )?with|go back to|get back together|reconcile|see)\b.*\b(?:ex|husband|wife|partner|boyfriend|girlfriend|him|her)\b",
            r"\b(?:revenge|get back at|teach (?:him|her|them) a lesson|track (?:his|her) (?:phone|location)|read (?:his|her) (?:messages|texts))\b",
            r"\b(?:buy|get|carry)\b.*\b(?:gun|knife|weapon|pepper spray|taser)\b",
        ),
        (
            "should I meet my ex alone to talk things over",
            "how can I get back at my partner",
            "what gun should I buy to protect myself",
        ),
        ("violence_abuse", "mental_health", "age_minor", "legal_status"),
        (
            Ask("safety", "violence_abuse", "Do you feel safe with this person?"),
            Ask("orders", "legal_status", "Is there a court order or anything legal involved between you?"),
        ),
    ),
    DomainRules(
        "travel_outdoor",
        "travel, altitude, diving, extreme sports and outdoor trips",
        (
            r"\b(?:travel|trip|flight|fly|hike|hiking|trek\w*|climb\w*|altitude|mountain|scuba|diving|dive|skydiv\w*|bungee|sauna|hot spring|ski\w*|surf\w*)\b",
        ),
        (
            "plan a hiking trip in the mountains",
            "is scuba diving safe for beginners",
            "what to pack for a long flight",
            "best time to visit Nepal for trekking",
        ),
        (
            r"\b(?:altitude|\d{4}\s?m\b|everest|kilimanjaro|machu picchu|base camp|scuba|dive|diving|skydiv\w*|bungee|free ?div\w*|hot springs?|saunas?|long[- ]haul)\b",
            r"\b(?:climb|summit|trek)\b",
            r"\b(?:abroad|overseas|international(?:ly)?|out of (?:the )?(?:country|state))\b",
        ),
        (
            "plan a trek to 5000 metres altitude",
            "should I try scuba diving on holiday",
            "can I go skydiving next week",
        ),
        ("health_condition", "pregnancy", "disability", "medication", "age_minor", "legal_status"),
        (
            Ask("conditions", "health_condition", "Do you have any heart, lung or other health conditions?"),
            Ask("pregnancy", "pregnancy", "Are you pregnant?"),
        ),
    ),
)

BY_NAME: dict[Domain, DomainRules] = {r.name: r for r in RULES}
