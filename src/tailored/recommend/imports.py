"""Reading catalogue and interaction files, checked whole before anything is stored.

Three kinds of file, told apart by their columns (CSV header or JSONL keys):
- items: ``id``/``item``/``movieId``, ``title``, optional ``text``, ``genres`` (``a|b``) and
  any other column as an attribute (MovieLens ``movies.csv`` as it is);
- tags: ``movieId``/``item`` and ``tag`` (MovieLens ``tags.csv``): each item's tags join its
  attributes and text;
- interactions: ``user``/``userId``, ``item``/``movieId``, ``time``/``timestamp`` (epoch
  seconds or ISO 8601), optional ``rating`` and ``kind`` (MovieLens ``ratings.csv``).

Every problem is reported with its file and line number; one problem rejects the batch.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ..errors import InvalidInput
from ..types import INTERACTION_KINDS, CatalogItem, EventIn

FileKind = Literal["items", "tags", "interactions"]

_USER = ("user", "user_id", "userId")
_ITEM = ("item", "item_id", "itemId", "movieId", "id")
_TIME = ("time", "timestamp")


@dataclass
class Catalog:
    """What a set of files adds: items, tags per item, and interactions."""

    items: dict[str, CatalogItem] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
    interactions: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # (file, line, record)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of a CSV (with a header) or JSONL file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from exc
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise InvalidInput(f"{path}:{n}: not a JSON object: {exc}") from exc
            if not isinstance(obj, dict):
                raise InvalidInput(f"{path}:{n}: not a JSON object")
            yield n, obj
        return
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{path}: the file is empty") from None
    for row in reader:
        n = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise InvalidInput(f"{path}:{n}: {len(row)} fields where the header has {len(header)}")
        yield n, dict(zip(header, row))


def _pick(record: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in record and record[name] not in (None, ""):
            return record[name]
    return None


def kind_of(keys: set[str]) -> FileKind:
    if "tag" in keys and keys & set(_ITEM):
        return "tags"
    if keys & set(_USER) and keys & set(_ITEM):
        return "interactions"
    if "title" in keys and keys & set(_ITEM):
        return "items"
    raise InvalidInput(
        f"columns {sorted(keys)} name no known file kind: items need id and title; interactions user,"
        " item and time; tags item and tag"
    )


def read_files(paths: list[Path]) -> Catalog:
    out = Catalog()
    for path in paths:
        records = list(_records(path))
        if not records:
            raise InvalidInput(f"{path}: no records")
        kind = kind_of(set(records[0][1]))
        for n, rec in records:
            if kind == "items":
                item_id = _pick(rec, _ITEM)
                attrs = {k: v for k, v in rec.items() if k not in (*_ITEM, "title", "text") and v not in (None, "")}
                if isinstance(attrs.get("genres"), str):
                    attrs["genres"] = [g for g in attrs["genres"].split("|") if g and g != "(no genres listed)"]
                try:
                    item = CatalogItem(
                        id=str(item_id) if item_id is not None else "",
                        title=str(rec.get("title") or ""),
                        text=str(rec.get("text") or ""),
                        attributes=attrs,
                    )
                except ValidationError as exc:
                    raise InvalidInput(f"{path}:{n}: {exc.errors()[0]['msg']}") from None
                if item.id in out.items:
                    raise InvalidInput(f"{path}:{n}: item {item.id!r} appears twice")
                out.items[item.id] = item
            elif kind == "tags":
                item_id, tag = _pick(rec, _ITEM), str(rec.get("tag") or "").strip()
                if item_id is None or not tag:
                    raise InvalidInput(f"{path}:{n}: a tag needs an item and a tag")
                tags = out.tags.setdefault(str(item_id), [])
                if tag.lower() not in (t.lower() for t in tags):
                    tags.append(tag)
            else:
                out.interactions.append((str(path), n, rec))
    return out


def _time(value: Any) -> datetime:
    text = str(value).strip()
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def interaction_events(
    catalog: Catalog,
    known_items: Mapping[str, str],
    *,
    rating_range: tuple[float, float] = (0.5, 5.0),
    default_kind: str = "rating",
) -> list[EventIn]:
    """Events for the interaction records, each checked: the item must be in
    ``known_items`` (id -> title), a rating inside ``rating_range``, the kind one of
    ``INTERACTION_KINDS``, and no (user, item, kind, time) twice."""
    events: list[EventIn] = []
    first: dict[tuple[str, str, str, datetime], str] = {}
    lo, hi = rating_range
    for path, n, rec in catalog.interactions:
        where = f"{path}:{n}"
        user, item, when = _pick(rec, _USER), _pick(rec, _ITEM), _pick(rec, _TIME)
        if user is None or item is None or when is None:
            raise InvalidInput(f"{where}: an interaction needs user, item and time")
        item = str(item)
        if item not in known_items:
            raise InvalidInput(f"{where}: unknown item {item!r}: add it to the catalogue first")
        kind = str(rec.get("kind") or default_kind)
        if kind not in INTERACTION_KINDS:
            raise InvalidInput(f"{where}: kind {kind!r} is not one of {', '.join(INTERACTION_KINDS)}")
        try:
            time = _time(when)
        except (ValueError, OverflowError, OSError):
            raise InvalidInput(f"{where}: time {when!r} is neither epoch seconds nor ISO 8601") from None
        payload: dict[str, Any] = {"item": item}
        raw = rec.get("rating")
        if raw not in (None, ""):
            try:
                rating = float(raw)
            except (TypeError, ValueError):
                raise InvalidInput(f"{where}: rating {raw!r} is not a number") from None
            if not lo <= rating <= hi:
                raise InvalidInput(f"{where}: rating {rating:g} is outside {lo:g}-{hi:g}")
            payload["rating"] = rating
        elif kind == "rating":
            raise InvalidInput(f"{where}: a rating interaction needs a rating")
        key = (str(user), item, kind, time)
        if key in first:
            raise InvalidInput(f"{where}: duplicate interaction (first at {first[key]})")
        first[key] = where
        title = known_items[item]
        text = f"rated {title} {payload['rating']:g}" if "rating" in payload else f"{kind} {title}"
        try:
            events.append(
                EventIn(
                    user_id=str(user),
                    kind=kind,
                    text=text,
                    time=time,
                    payload=payload,
                    source_id=f"{kind}:{item}:{int(time.timestamp() * 1_000_000)}",
                )
            )
        except ValidationError as exc:
            raise InvalidInput(f"{where}: {exc.errors()[0]['msg']}") from None
    return events


def with_tags(items: dict[str, CatalogItem], tags: dict[str, list[str]]) -> list[CatalogItem]:
    """Items with their tags in ``attributes["tags"]`` and in the text (for content)."""
    out = []
    for item in items.values():
        extra = tags.get(item.id, [])
        if not extra:
            out.append(item)
            continue
        attrs = dict(item.attributes)
        attrs["tags"] = list(dict.fromkeys([*attrs.get("tags", []), *extra]))
        text = (item.text + " " if item.text else "") + "Tags: " + ", ".join(extra)
        out.append(item.model_copy(update={"attributes": attrs, "text": text[:32_000]}))
    return out


def item_text(item: CatalogItem) -> str:
    """What the content embedder reads for an item: title, genres, text."""
    genres = item.attributes.get("genres")
    parts = [item.title]
    if isinstance(genres, list) and genres:
        parts.append("Genres: " + ", ".join(str(g) for g in genres))
    if item.text:
        parts.append(item.text)
    return ". ".join(parts)
