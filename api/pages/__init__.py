"""Pages for people: server-rendered HTML (Jinja2) on the same app, sessions and role checks as
the API. Every script, style sheet and picture is served from ``static/``: the pages work with
no internet.

Each module here named ``*_pages.py`` has a ``router`` (included by ``install``); pages and
their forms call the same workflow functions as the API, so a decision made on a page is the
same decision, audited the same way.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.pages.core import install_handlers

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_handlers(app)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.endswith("_pages"):
            app.include_router(importlib.import_module(f"{__name__}.{info.name}").router)
