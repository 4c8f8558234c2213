"""The placematch service: ``create_app(engine)`` builds the FastAPI application.

Routers are the modules of ``api.routes`` (each exposes ``router``; one may also define
``on_startup(engine)``, run once when the service starts, e.g. to mark match jobs a restart
killed as failed). Errors share one JSON shape (:mod:`api.errors`).
"""

from __future__ import annotations

import importlib
import pkgutil
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine

import api.routes
from api import errors, jobs, pages
from api.body_limit import BodyLimit
from api.deps import roles_of
from api.headers import SecurityHeaders
from api.input_checks import document_text_rules, refuse_control_characters
from api.origin_check import OriginCheck
from models.db import make_engine

DESCRIPTION = """placematch matches young people aged 16-25 in or leaving care to homes with the
right support, routes distant or costly placements to the managers who must approve them, and
keeps an append-only audit trail. Sign in with `POST /auth/token`, then send the token as
`Authorization: Bearer ...`. Every route says which roles may use it."""


def _route_modules():
    for info in sorted(pkgutil.iter_modules(api.routes.__path__), key=lambda m: m.name):
        yield importlib.import_module(f"api.routes.{info.name}")


def create_app(engine: Engine | None = None, *, warm_workers: bool = False) -> FastAPI:
    """The service on ``engine``. ``warm_workers``: keep a match worker started ahead of the
    next job (see api.jobs), as ``placematch serve`` does; tests start theirs as they need them."""
    engine = engine or make_engine()
    modules = list(_route_modules())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for module in modules:
            start = getattr(module, "on_startup", None)
            if start is not None:
                start(engine)
        if warm_workers:
            jobs.keep_warm(engine)
        yield
        for module in modules:
            stop = getattr(module, "on_shutdown", None)
            if stop is not None:
                stop(engine)

    # Every route: no control characters in a text field of a JSON body or a form (api.input_checks).
    app = FastAPI(title="placematch", version="0.4.0", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(refuse_control_characters)])
    app.state.engine = engine
    # Every request body is bounded before any of it is read (api.body_limit).
    app.add_middleware(BodyLimit)
    # Every change comes from placematch's own pages, or from a program without the session cookie
    # (api.origin_check); refused before its body is read.
    app.add_middleware(OriginCheck)
    # Every answer: no caching of case data, no framing, scripts only from placematch (api.headers).
    app.add_middleware(SecurityHeaders)
    errors.install(app)
    # The pages first: a page that shares its path with the API (/approvals, /providers) answers
    # browsers only (api.pages.core.BrowserRoute), and the first route that matches answers.
    pages.install(app)
    for module in modules:
        router = getattr(module, "router", None)
        if router is not None:
            _document_roles(router)
            app.include_router(router)
    _document_text_rules(app)
    return app


def _document_text_rules(app: FastAPI) -> None:
    """The schema says which characters a text field takes (api.input_checks)."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_text_rules(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi


def app_from_environment() -> FastAPI:
    """The app on the database DATABASE_URL names: the factory each ``placematch serve
    --workers N`` process calls (uvicorn starts the processes, so each builds its own engine)."""
    return create_app(make_engine(), warm_workers=True)


def _document_roles(router: APIRouter) -> None:
    """Say in each route's documentation which roles may use it (from its ``Allowed``)."""
    for route in router.routes:
        nested = getattr(route, "original_router", None)  # a router included in this one
        if nested is not None:
            _document_roles(nested)
        elif isinstance(route, APIRoute):
            roles = roles_of(route.dependant)
            if roles and "Roles:" not in (route.description or ""):
                who = ", ".join(r.value for r in roles)
                route.description = f"{route.description or ''}\n\nRoles: {who}.".strip()
