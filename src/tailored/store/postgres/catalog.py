"""The catalogue table of the PostgreSQL store, and the tenant-wide read of interaction
events.

A mixin of ``PostgresStore`` (it uses its ``_read`` and ``_write``), kept apart so that each
file stays about one thing. Items belong to a tenant; interactions are ordinary events
(their item id in the JSON payload), so they need no table of their own here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from ...types import CatalogItem
from ..base import Interaction
from .codec import us_sql
from .migrations import Conn

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

_ITEM_COLS = "item_id, title, text, attributes"


def _row_item(r: Row) -> CatalogItem:
    attributes = r[3] if isinstance(r[3], dict) else json.loads(r[3]) if r[3] else {}
    return CatalogItem.model_construct(id=r[0], title=r[1], text=r[2], attributes=attributes)


class CatalogTables:
    """Mixed into ``PostgresStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Params = (), *, binary: bool = False) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[Conn]:
        raise NotImplementedError

    def put_catalog_items(self, tenant: str, items: Sequence[CatalogItem]) -> int:
        with self._write("cannot store the catalogue items, none of them was stored") as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO catalog_items (tenant, item_id, title, text, attributes, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s::json, now()) ON CONFLICT (tenant, item_id) DO UPDATE SET"
                    " title = excluded.title, text = excluded.text, attributes = excluded.attributes,"
                    " updated_at = excluded.updated_at",
                    [(tenant, it.id, it.title, it.text, json.dumps(it.attributes, ensure_ascii=False)) for it in items],
                )
        return len(items)

    def catalog_items(
        self, tenant: str, ids: Sequence[str] | None = None, limit: int | None = None, after: str = ""
    ) -> list[CatalogItem]:
        if ids is None:
            sql = f"SELECT {_ITEM_COLS} FROM catalog_items WHERE tenant = %s AND item_id > %s ORDER BY item_id"
            params: list[object] = [tenant, after]
            if limit is not None:
                sql += " LIMIT %s"
                params.append(limit)
            return [_row_item(r) for r in self._read(sql, params)]
        rows = self._read(
            f"SELECT {_ITEM_COLS} FROM catalog_items WHERE tenant = %s AND item_id = ANY(%s) ORDER BY item_id",
            (tenant, list(dict.fromkeys(ids))),
        )
        out = [_row_item(r) for r in rows]
        return out[:limit] if limit is not None else out

    def catalog_count(self, tenant: str) -> int:
        return int(self._read("SELECT count(*) FROM catalog_items WHERE tenant = %s", (tenant,))[0][0])

    def delete_catalog_items(self, tenant: str, ids: Sequence[str]) -> int:
        with self._write("cannot delete catalogue items") as conn:
            cur = conn.execute(
                "DELETE FROM catalog_items WHERE tenant = %s AND item_id = ANY(%s)", (tenant, list(dict.fromkeys(ids)))
            )
            return cur.rowcount

    def interactions(self, tenant: str, kinds: Sequence[str], user_id: str | None = None) -> list[Interaction]:
        if not kinds:
            return []
        sql = (
            "SELECT user_id, payload->>'item', kind, " + us_sql("happened_at") + ","
            " CASE WHEN json_typeof(payload->'rating') = 'number' THEN (payload->>'rating')::float8 END, id"
            " FROM events WHERE tenant = %s AND kind = ANY(%s)"
            " AND json_typeof(payload) = 'object' AND json_typeof(payload->'item') IN ('string', 'number')"
        )
        params: list[object] = [tenant, list(kinds)]
        if user_id is not None:
            sql += " AND user_id = %s"
            params.append(user_id)
        sql += " ORDER BY happened_at, id"
        return [
            Interaction(
                user_id=r[0],
                item_id=str(r[1]),
                kind=r[2],
                time_us=int(r[3]),
                rating=float(r[4]) if r[4] is not None else None,
                event_id=int(r[5]),
            )
            for r in self._read(sql, params)
        ]
