"""The rules extractor on known answers: stance, negation, retraction, facts, ratings, keys.

Each case is one user message and the exact proposals expected from it, as
``(kind, key, polarity or value, retract)``. Stance errors fail: a dislike read as a like
gives a different tuple.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tailored.memory import available_extractors, load_extractor
from tailored.memory.normalize import normalize_key, normalize_title, singular
from tailored.memory.rules import RulesExtractor, clauses, extract_text, topics
from tailored.types import Event, MemoryIn

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def event(
    text: str,
    *,
    id: int = 1,
    kind: str = "message",
    role: str | None = "user",
    payload: dict | None = None,
    minutes: int = 0,
) -> Event:
    return Event(
        id=id,
        tenant="t",
        user_id="ana",
        kind=kind,
        role=role,
        text=text,
        time=T0 + timedelta(minutes=minutes),
        ingested_at=T0,
        payload=payload,
    )


def brief(mems: list[MemoryIn]) -> set[tuple[str, str, str | None, bool]]:
    return {(m.kind, m.key, m.polarity if m.kind == "preference" else m.value, m.retract) for m in mems}


def like(key: str) -> tuple[str, str, str, bool]:
    return ("preference", key, "like", False)


def dislike(key: str) -> tuple[str, str, str, bool]:
    return ("preference", key, "dislike", False)


def avoid(key: str) -> tuple[str, str, str, bool]:
    return ("preference", key, "avoid", False)


def no_longer(key: str, polarity: str = "like") -> tuple[str, str, str, bool]:
    return ("preference", key, polarity, True)


def fact(key: str, value: str, retract: bool = False) -> tuple[str, str, str, bool]:
    return ("fact", key, value, retract)


CASES: list[tuple[str, set[tuple[str, str, str | None, bool]]]] = [
    # likes
    ("I love sushi.", {like("sushi")}),
    ("I like spicy foods", {like("spicy food")}),
    ("I really enjoy hiking and reading", {like("hiking"), like("reading")}),
    ("I adore my garden", {like("garden")}),
    ("I'm a big fan of jazz", {like("jazz")}),
    ("I'm really into board games these days", {like("board game")}),
    ("Honestly, I prefer tea over coffee", {like("tea")}),
    ("I prioritize sustainability over convenience when shopping.", {like("sustainability")}),
    ("I thrive in collaborative environments.", {like("collaborative environment")}),
    ("I thrive on tight deadlines", {like("tight deadline")}),
    (
        "I refuse to use any beauty products that are tested on animals.",
        {avoid("use any beauty products that are tested on animal")},
    ),
    ("Pizza is my favorite food", {like("pizza"), fact("favorite food", "Pizza")}),
    ("My favourite colour is blue.", {like("blue"), fact("favorite colour", "blue")}),
    ("I play the guitar", {like("guitar")}),
    ("I have a big sweet tooth.", {like("sweets")}),
    ("Actually sushi is great again", {like("sushi")}),
    # negative stances: each must NOT come out as a like
    ("I don't like sushi", {dislike("sushi")}),
    ("I don't really like spicy food", {dislike("spicy food")}),
    ("I do not enjoy crowded bars", {dislike("crowded bar")}),
    ("I hate cilantro", {dislike("cilantro")}),
    ("I can't stand horror movies", {dislike("horror movie")}),
    ("I cannot stand reality TV", {dislike("reality tv")}),
    ("I dislike loud music", {dislike("loud music")}),
    ("I'm not a fan of country music", {dislike("country music")}),
    ("I'm not really into sports", {dislike("sport")}),
    ("Horror films are not for me", {dislike("horror film")}),
    ("I never watch TV", {dislike("tv")}),
    ("I love pasta but I hate olives", {like("pasta"), dislike("olive")}),
    # avoidances
    ("I don't eat pork", {avoid("pork")}),
    ("I never drink coffee", {avoid("coffee")}),
    ("I avoid gluten", {avoid("gluten")}),
    ("I'm allergic to peanuts", {avoid("peanut"), fact("allergy", "peanut")}),
    (
        "I'm allergic to peanuts and shellfish",
        {avoid("peanut"), avoid("shellfish"), fact("allergy", "peanut"), fact("allergy", "shellfish")},
    ),
    ("I have a severe nut allergy", {avoid("nut"), fact("allergy", "nut")}),
    ("I'm vegetarian", {fact("diet", "vegetarian"), avoid("meat")}),
    ("I am a vegan", {fact("diet", "vegan"), avoid("meat"), avoid("dairy"), avoid("egg")}),
    ("I've become vegetarian", {fact("diet", "vegetarian"), avoid("meat")}),
    # retractions and changes
    ("I don't like sushi anymore", {no_longer("sushi")}),
    ("I no longer like jazz", {no_longer("jazz")}),
    ("I'm not into video games anymore", {no_longer("video game")}),
    ("I used to like tea", {no_longer("tea")}),
    ("I used to like tea but now I prefer coffee", {no_longer("tea"), like("coffee")}),
    ("I used to love rock music, but now prefer jazz.", {no_longer("rock music"), like("jazz")}),
    ("I don't eat meat anymore", {avoid("meat")}),
    ("I'm not vegetarian anymore", {fact("diet", "vegetarian", True), no_longer("meat", "avoid")}),
    ("I eat meat again", {no_longer("meat", "avoid")}),
    ("I'm not allergic to milk anymore", {no_longer("milk", "avoid"), fact("allergy", "milk", True)}),
    # stances as assistants' users state them (PrefEval's explicit preferences)
    (
        "I avoid using any skincare products that contain retinol.",
        {avoid("using any skincare products that contain retinol")},
    ),
    (
        "I dislike gamified learning experiences as they feel distracting to me.",
        {dislike("gamified learning experience")},
    ),
    (
        "I strongly dislike flying on budget airlines due to their lack of comfort.",
        {dislike("flying on budget airline")},
    ),
    ("I have an intense fear of flying, so I actively avoid air travel.", {avoid("flying"), avoid("air travel")}),
    ("I'm not interested in any sci-fi games.", {dislike("sci-fi game")}),
    ("I am uncomfortable with crowded places.", {dislike("crowded place")}),
    ("I'm averse to shopping malls.", {dislike("shopping mall")}),
    ("I find scents containing vanilla to be very off-putting.", {dislike("scents containing vanilla")}),
    ("I do not want a dog", {avoid("dog")}),
    ("I will only use devices that integrate with Google.", {like("device")}),
    ("I exclusively read self-published books.", {like("self-published book")}),
    ("I have a strong preference for window seats.", {like("window seat")}),
    ("I strictly follow a vegan diet.", {fact("diet", "vegan"), avoid("meat"), avoid("dairy"), avoid("egg")}),
    ("I adhere to a raw food diet.", {fact("diet", "raw food")}),
    # facts
    ("I live in Lisbon", {fact("location", "Lisbon")}),
    ("I moved to Porto last year", {fact("location", "Porto")}),
    ("I'm from Ohio originally", {fact("hometown", "Ohio")}),
    ("I work as a software engineer", {fact("occupation", "software engineer")}),
    ("I'm a nurse", {fact("occupation", "nurse")}),
    ("I'm retired", {fact("occupation", "retired")}),
    ("My name is Ana", {fact("name", "Ana")}),
    ("I have a dog named Rex", {fact("pet", "dog named Rex")}),
    ("I have two cats", {fact("pet", "2 cats")}),
    ("I have two kids", {fact("children", "2 kids")}),
    ("I'm 34 years old", {fact("age", "34")}),
    ("I'm married", {fact("relationship", "married")}),
    ("My husband and I love hiking", {fact("relationship", "married"), like("hiking")}),
    ("I study biology", {fact("education", "biology")}),
    ("I live in Lisbon and I work as a nurse", {fact("location", "Lisbon"), fact("occupation", "nurse")}),
    # who the user is, was, and where they work
    ("I'm a biology teacher at a college.", {fact("occupation", "biology teacher")}),
    ("I'm a student myself.", {fact("occupation", "student")}),
    ("I'm a bodybuilder, so I eat a lot of meat.", {fact("identity", "bodybuilder")}),
    ("I'm an old man with one leg.", {fact("identity", "old man")}),
    ("I'm a proud Republican.", {fact("identity", "proud Republican")}),
    ("I used to be in the military.", {fact("former", "in the military")}),
    ("I used to be a carpenter before I retired.", {fact("former", "a carpenter")}),
    ("I used to be a vegetarian.", {fact("diet", "vegetarian", True), no_longer("meat", "avoid")}),
    ("I work in a factory.", {fact("field", "a factory")}),
    ("I work in IT as a sysadmin.", {fact("field", "IT")}),
    ("I was a teacher for 20 years before I retired.", {fact("former", "a teacher")}),
    ("I'm a mom and a teacher.", {fact("identity", "mom"), fact("occupation", "teacher")}),
    ("I'm a nurse practitioner.", {fact("occupation", "nurse practitioner")}),
    ("I'm an American living in Japan.", {fact("identity", "American")}),
    ("Like, I'm allergic to peanuts.", {avoid("peanut"), fact("allergy", "peanut")}),
    # lists after one verb, quantities
    ("I like to watch a lot of different kinds of movies and TV shows.", {like("movie"), like("tv show")}),
    ("I like to dance, run and swim.", {like("dance"), like("run"), like("swim")}),
    ("I restore classic cars.", {like("classic car")}),
    # nothing to keep
    ("I'm a bit tired.", set()),
    ("I'm a little nervous about it.", set()),
    ("I was a kid back then.", set()),
    ("I work in the mornings.", set()),
    ("I work in 20 minutes.", set()),
    ("I'm working in the garden today.", set()),
    ("I'm a day late.", set()),
    ("I'm a good 10 minutes away.", set()),
    ("I'm a person who loves cats.", set()),
    ("I'm a morning person? No way.", set()),
    ("Explain it like I'm a complete beginner.", set()),
    ("Write a story where I'm a pirate.", set()),
    ("My son thinks I'm a dinosaur.", set()),
    ("I used to be in your shoes.", set()),
    ("I draw the line at cheating.", set()),
    ("I don't eat a lot of meat.", {avoid("lot of meat")}),  # not "avoids meat"
    ("I like to watch movies and chill.", {like("movie"), like("chill")}),
    ("I love it!", set()),
    ("I would love that.", set()),
    ("I like you", set()),
    ("Do you like sushi?", set()),
    ("What do you like to do?", set()),
    ("I never tried sushi", set()),
    ("I don't mind the rain", set()),
    ("I think that is what I like about it", set()),
    ("My sister hates cilantro", set()),
    ("I find it difficult to focus.", set()),
    ("I follow a strict diet.", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_known_answers(text: str, expected: set[tuple[str, str, str | None, bool]]) -> None:
    assert brief(extract_text(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I don't like sushi",
        "I do not really like sushi",
        "I can't stand sushi",
        "I hate sushi",
        "I'm not a fan of sushi",
        "I never eat sushi",
        "I don't eat sushi",
        "I'm allergic to sushi",
        "I avoid sushi",
        "Sushi is not for me",
        "I don't like sushi anymore",
        "I used to love sushi",
    ],
)
def test_negative_statements_are_never_likes(text: str) -> None:
    found = [m for m in extract_text(text) if m.key == "sushi"]
    assert found, text
    assert not any(m.polarity == "like" and not m.retract for m in found), text


def test_strength_and_confidence_follow_the_words() -> None:
    by_text = {
        t: extract_text(t)[0]
        for t in ("I love jazz", "I like jazz", "I don't really like jazz", "I hate jazz", "I'm allergic to jazz")
    }
    assert by_text["I love jazz"].strength > by_text["I like jazz"].strength
    assert by_text["I hate jazz"].strength > by_text["I don't really like jazz"].strength
    allergic = by_text["I'm allergic to jazz"]
    assert allergic.polarity == "avoid" and allergic.strength == 1.0 and allergic.confidence >= 0.9


def test_texts_are_short_third_person_sentences() -> None:
    texts = {m.text for m in extract_text("I love spicy foods. I'm allergic to peanuts. I live in Lisbon.")}
    assert texts == {"Loves spicy foods", "Avoids peanuts (allergic)", "Is allergic to peanuts", "Lives in Lisbon"}


def test_a_list_after_one_verb_keeps_the_verb() -> None:
    texts = [m.text for m in extract_text("I like to watch a lot of different kinds of movies and TV shows.")]
    assert texts == ["Likes to watch movies", "Likes to watch TV shows"]
    texts = [
        m.text
        for m in extract_text("I like to go to the gym, listen to 80s music, and collect vintage 50s decorations.")
    ]
    assert texts == [
        "Likes to go to the gym",
        "Likes to listen to 80s music",
        "Likes to collect vintage 50s decorations",
    ]


def test_self_descriptions_are_multi_valued_facts() -> None:
    mems = extract_text("I'm an environmentalist. I'm a Christian. I used to be in the military.")
    assert [(m.key, m.text, m.multi) for m in mems] == [
        ("identity", "Is an environmentalist", True),
        ("identity", "Is a Christian", True),
        ("former", "Used to be in the military", True),
    ]


def test_same_topic_lands_on_one_key() -> None:
    keys = {
        m.key
        for t in (
            "I love spicy foods",
            "Spicy food is great",
            "I hate Spicy Food.",
            "I don't like the spicy food anymore",
        )
        for m in extract_text(t)
    }
    assert keys == {"spicy food"}


def test_multi_valued_facts() -> None:
    mems = extract_text("I have a dog named Rex and I have a cat named Mia")
    assert {(m.key, m.value, m.multi) for m in mems} == {("pet", "dog named Rex", True), ("pet", "cat named Mia", True)}
    assert extract_text("I have two kids")[0].multi
    assert not extract_text("I live in Lisbon")[0].multi


def test_evidence_and_valid_from_come_from_the_event() -> None:
    ev = event("I hate olives", id=42, minutes=5)
    (mem,) = RulesExtractor().extract([ev], [])
    assert mem.evidence == [42] and mem.valid_from == ev.time


def test_only_the_users_own_statements_count() -> None:
    rx = RulesExtractor()
    assert rx.extract([event("I love sushi", role="assistant")], []) == []
    assert rx.extract([event("I love sushi", kind="click")], []) == []
    assert brief(rx.extract([event("I love sushi", role=None)], [])) == {like("sushi")}
    assert brief(rx.extract([event("I love sushi", kind="document")], [])) == {like("sushi")}


@pytest.mark.parametrize(
    ("payload", "text", "expected"),
    [
        ({"stars": 5, "item": "The Matrix"}, "rated", {like("matrix")}),
        ({"rating": 4, "title": "Alien"}, "rated", {like("alien")}),
        ({"stars": 2, "item": "Cats"}, "rated", {dislike("cats")}),
        ({"stars": 1, "item": "Cats"}, "rated", {dislike("cats")}),
        ({"stars": 3, "item": "Heat"}, "rated", set()),
        (None, "Rated Toy Story 4/5", {like("toy story")}),
        (None, "Rated Gigli 1 out of 5", {dislike("gigli")}),
        (None, "Rated Heat 8/10", {like("heat")}),
        (None, "no rating here", set()),
    ],
)
def test_ratings(payload: dict | None, text: str, expected: set) -> None:
    mems = RulesExtractor().extract([event(text, kind="rating", payload=payload)], [])
    assert brief(mems) == expected


def test_rating_strength_grows_with_distance_from_neutral() -> None:
    rx = RulesExtractor()
    five = rx.extract([event("r", kind="rating", payload={"stars": 5, "item": "A"})], [])[0]
    four = rx.extract([event("r", kind="rating", payload={"stars": 4, "item": "A"})], [])[0]
    assert five.strength > four.strength and "5/5" in five.text


def test_eating_again_ends_a_diet_known_from_the_profile(engine) -> None:  # type: ignore[no-untyped-def]
    engine.add([{"user_id": "ana", "text": "I'm vegetarian", "time": T0}])
    engine.extract("ana")
    profile = engine.store.memories(engine._scope("ana"), statuses=["active"])
    mems = RulesExtractor().extract([event("I eat meat again", id=99)], profile)
    assert brief(mems) == {no_longer("meat", "avoid"), fact("diet", "vegetarian", True)}


def test_clauses_and_topics() -> None:
    assert clauses("I like tea, but I hate coffee. Do you?") == ["I like tea", "I hate coffee."]
    assert topics("hiking, reading and rock and roll") == ["hiking", "reading", "rock and roll"]
    assert topics("it a lot") == []


def test_normalisation() -> None:
    assert [singular(w) for w in ("berries", "dishes", "glass", "news", "children", "tomatoes")] == [
        "berry",
        "dish",
        "glass",
        "news",
        "child",
        "tomato",
    ]
    assert normalize_key("  Spicy Foods! ") == normalize_key("spicy food") == "spicy food"
    assert normalize_key("eating the sushi") == "sushi"
    assert normalize_title("The Lord of the Rings") == "lord of the rings"


def test_registered_and_fast() -> None:
    assert {"rules", "llm"} <= set(available_extractors())
    rx = load_extractor("rules")
    assert rx.name == "rules"
    texts = [t for t, _ in CASES] * 40
    events = [event(t, id=i) for i, t in enumerate(texts)]
    start = time.perf_counter()
    rx.extract(events, [])
    per_second = len(events) / (time.perf_counter() - start)
    assert per_second > 1000, per_second


def test_adjectives_joined_by_and_are_separate_statements() -> None:
    from datetime import datetime

    from tailored.memory.rules import RulesExtractor
    from tailored.types import Event

    t = datetime(2024, 1, 1, tzinfo=UTC)
    ev = Event(
        id=1,
        tenant="t",
        user_id="u",
        kind="message",
        role="user",
        text="I'm vegetarian and allergic to peanuts",
        time=t,
        ingested_at=t,
    )
    got = {(m.key, m.polarity) for m in RulesExtractor().extract([ev], []) if m.kind == "preference"}
    assert got == {("meat", "avoid"), ("peanut", "avoid")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I have a strong aversion to smoothies containing bananas", ("dislike", "smoothies containing banana")),
        ("I have a deep dislike for jazz music", ("dislike", "jazz music")),
        ("I greatly dislike crowded beaches", ("dislike", "crowded beach")),
        ("I prefer to avoid eating seafood", ("avoid", "seafood")),
        ("I absolutely refuse to fly economy", ("avoid", "fly economy")),
    ],
)
def test_strong_negative_phrasings_keep_their_stance(text: str, expected: tuple[str, str]) -> None:
    from datetime import datetime

    from tailored.memory.rules import RulesExtractor
    from tailored.types import Event

    t = datetime(2024, 1, 1, tzinfo=UTC)
    ev = Event(id=1, tenant="t", user_id="u", kind="message", role="user", text=text, time=t, ingested_at=t)
    got = [(m.polarity, m.key) for m in RulesExtractor().extract([ev], []) if m.kind == "preference"]
    assert got == [expected]
