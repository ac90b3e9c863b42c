"""``/docs`` without a CDN: a plain page of the routes, rendered on the server.

FastAPI's own ``/docs`` and ``/redoc`` load their scripts from a CDN, which an offline
install cannot reach: the page stays blank. No installed package ships Swagger UI in a
version that reads the OpenAPI 3.1 schema FastAPI writes (``swagger-ui-bundle`` 1.1.0
carries Swagger UI 4.15, which refuses it), so ``/docs`` is a plain HTML list of the
routes, from the schema, that points to ``/openapi.json`` for everything else.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def _plain_page(schema: dict[str, Any]) -> str:
    """Every route with its summary; escaped, since summaries come from docstrings."""
    rows = []
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            summary = html.escape(str(op.get("summary", "")))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{summary}</td></tr>"
            )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tailored API</title>
<style>body{{font:15px system-ui,sans-serif;margin:2em;max-width:60em}}td{{padding:2px 10px 2px 0}}</style>
</head><body>
<h1>tailored API {html.escape(str(schema.get("info", {}).get("version", "")))}</h1>
<p>This server has no interactive documentation (Swagger UI): its scripts are not bundled with
tailored, and the server loads nothing from the internet. The complete OpenAPI schema is at
<a href="/openapi.json">/openapi.json</a>; any OpenAPI 3.1 viewer or client generator reads it.</p>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<table><thead><tr><th>method</th><th>path</th><th>what it does</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>"""


def install(app: FastAPI) -> str:
    """Add ``/docs`` to ``app`` (built with ``docs_url=None``); returns the page's CSP."""

    @app.get("/docs", include_in_schema=False)
    async def plain() -> HTMLResponse:
        return HTMLResponse(_plain_page(app.openapi()))

    return CSP
