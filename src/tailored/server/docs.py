"""``/docs`` without a CDN: Swagger UI from a local package, or an honest plain page.

FastAPI's own ``/docs`` and ``/redoc`` load their scripts from a CDN, which an offline
install cannot reach: the page stays blank. Here Swagger UI is served from the
``swagger-ui-bundle`` package when it is installed (it is not a dependency of tailored);
otherwise ``/docs`` is a plain HTML list of the routes, rendered on the server from the
OpenAPI schema, that says where the full schema is and how to get the interactive page.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"

SWAGGER_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PLAIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


def swagger_assets() -> Path | None:
    """The folder of a locally installed Swagger UI (``pip install swagger-ui-bundle``), if any."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-not-found]
    except ImportError:
        return None
    folder = Path(swagger_ui_path)
    needed = ("swagger-ui-bundle.js", "swagger-ui.css")
    return folder if all((folder / name).is_file() for name in needed) else None


def _plain_page(schema: dict[str, Any]) -> str:
    rows = []
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
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
<p>The interactive documentation (Swagger UI) is not available on this install: its scripts are
not bundled with tailored, and this server does not load them from the internet. The complete
OpenAPI schema is at <a href="/openapi.json">/openapi.json</a>; any OpenAPI viewer or client
generator reads it. To serve Swagger UI from this machine, install the
<code>swagger-ui-bundle</code> package next to tailored and restart the server.</p>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<table><thead><tr><th>method</th><th>path</th><th>what it does</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>"""


def install(app: FastAPI) -> str:
    """Add ``/docs`` to ``app`` (built with ``docs_url=None``); returns the page's CSP."""
    assets = swagger_assets()
    if assets is not None:
        app.mount(ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        async def swagger() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/openapi.json",
                title="tailored API",
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            )

        return SWAGGER_CSP

    @app.get("/docs", include_in_schema=False)
    async def plain() -> HTMLResponse:
        return HTMLResponse(_plain_page(app.openapi()))

    return PLAIN_CSP
