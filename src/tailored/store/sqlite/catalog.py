"""The catalogue table of the SQLite store, and the tenant-wide read of interaction events.

A mixin of ``SQLiteStore`` (it uses its ``_read`` and ``_write``), kept apart so that each
file stays about one thing. Items belong to a tenant; interactions are ordinary events
(their item id in the JSON payload), so they need no table of their own here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from ...types import CatalogItem, utcnow
from ..base import Interaction
from .codec import us

Row = tuple[Any, ...]

_ITEM_COLS = "item_id, title, text, attributes"


def _row_item(r: Row) -> CatalogItem:
    return CatalogItem.model_construct(id=r[0], title=r[1], text=r[2], attributes=json.loads(r[3]) if r[3] else {})


class CatalogTables:
    """Mixed into ``SQLiteStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def put_catalog_items(self, tenant: str, items: Sequence[CatalogItem]) -> int:
        now = us(utcnow())
        with self._write("cannot store the catalogue items, none of them was stored") as conn:
            conn.executemany(
                "INSERT INTO catalog_items (tenant, item_id, title, text, attributes, updated_us)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, item_id) DO UPDATE SET title = excluded.title,"
                " text = excluded.text, attributes = excluded.attributes, updated_us = excluded.updated_us",
                [
                    (tenant, it.id, it.title, it.text, json.dumps(it.attributes, ensure_ascii=False), now)
                    for it in items
                ],
            )
        return len(items)

    def catalog_items(
        self, tenant: str, ids: Sequence[str] | None = None, limit: int | None = None, after: str = ""
    ) -> list[CatalogItem]:
        if ids is None:
            sql = f"SELECT {_ITEM_COLS} FROM catalog_items WHERE tenant = ? AND item_id > ? ORDER BY item_id"
            params: list[object] = [tenant, after]
            if limit is not None:
                sql += " LIMIT ?"
                params.append(limit)
            return [_row_item(r) for r in self._read(sql, params)]
        found: dict[str, CatalogItem] = {}
        wanted = list(dict.fromkeys(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._read(
                f"SELECT {_ITEM_COLS} FROM catalog_items WHERE tenant = ?"
                f" AND item_id IN ({','.join('?' * len(chunk))})",
                [tenant, *chunk],
            )
            found.update({r[0]: _row_item(r) for r in rows})
        out = sorted(found.values(), key=lambda it: it.id)
        return out[:limit] if limit is not None else out

    def catalog_count(self, tenant: str) -> int:
        return int(self._read("SELECT count(*) FROM catalog_items WHERE tenant = ?", (tenant,))[0][0])

    def delete_catalog_items(self, tenant: str, ids: Sequence[str]) -> int:
        with self._write("cannot delete catalogue items") as conn:
            return sum(
                conn.execute("DELETE FROM catalog_items WHERE tenant = ? AND item_id = ?", (tenant, i)).rowcount
                for i in dict.fromkeys(ids)
            )

    def interactions(self, tenant: str, kinds: Sequence[str], user_id: str | None = None) -> list[Interaction]:
        if not kinds:
            return []
        sql = (
            "SELECT user_id, json_extract(payload, '$.item'), kind, time_us, json_extract(payload, '$.rating'), id"
            f" FROM events WHERE tenant = ? AND kind IN ({','.join('?' * len(kinds))})"
            " AND json_valid(payload) AND json_type(payload, '$.item') IN ('text', 'integer')"
        )
        params: list[object] = [tenant, *kinds]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        sql += " ORDER BY time_us, id"
        return [
            Interaction(
                user_id=r[0],
                item_id=str(r[1]),
                kind=r[2],
                time_us=int(r[3]),
                rating=float(r[4]) if isinstance(r[4], int | float) else None,
                event_id=int(r[5]),
            )
            for r in self._read(sql, params)
        ]
