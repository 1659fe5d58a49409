"""The API's documentation pages, served offline: `/docs` (Swagger UI) and `/redoc` (ReDoc).

FastAPI's own pages load Swagger UI and ReDoc from a CDN and ReDoc's fonts from Google, so on an
isolated network (the platform's usual home) they stay blank. Here every script, style sheet and
icon comes from the installed `fastapi-offline` package (MIT; it ships Swagger UI, Apache-2.0,
and ReDoc's standalone bundle, MIT) under `ASSETS`, and ReDoc uses the browser's own fonts. The
pages carry a Content-Security-Policy that lets the browser load nothing from another host:
ReDoc's bundle still shows Redocly's logo from its CDN (it hides the image when that fails).

Like FastAPI's pages they replace, and like `/openapi.json`, the pages are public and outside
the access policy: they describe the API; every call they make goes through it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
DOCS, REDOC, OAUTH2_REDIRECT = "/docs", "/redoc", "/docs/oauth2-redirect"
#: this server only; inline for the pages' own start-up script and styles, data: for icons,
#: blob: for ReDoc's search worker
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page


def assets_folder() -> Path:
    """The folder of Swagger UI's and ReDoc's files in the installed `fastapi-offline`."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed (pip install -e . installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install(app: FastAPI) -> None:
    """Add `/docs`, `/redoc` and their assets to an application built with
    ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=assets_folder()), name="docs-assets")
    title = app.title

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_swagger_ui_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{base}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS}/favicon.png",
            oauth2_redirect_url=f"{base}{OAUTH2_REDIRECT}",
        )
        return _offline(page)

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _offline(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        page = get_redoc_html(
            openapi_url=f"{base}{app.openapi_url}",
            title=f"{title} — ReDoc",
            redoc_js_url=f"{base}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return _offline(page)
