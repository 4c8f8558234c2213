"""Requests from elsewhere (issue 13, item 5): a change is accepted only from placematch's own
pages.

A page's form posts carry the signed-in person's session cookie, so another website that got a
browser to post one of our forms would act as that person (cross-site request forgery). Every
state-changing request (POST, PUT, PATCH, DELETE) is therefore checked for where it came from,
before any of it is read, on every route (the pages', and the API's: the one API route that takes
the cookie, ``DELETE /auth/session``, is covered without being listed):

1. ``Origin``, sent by every current browser on every POST: it must be placematch's own origin.
2. When there is no usable Origin (absent, or ``null``, which a browser sends from a sandboxed
   frame, a ``data:`` page or a page whose Referrer-Policy is no-referrer): ``Sec-Fetch-Site``
   (sent to https and localhost addresses), which must be ``same-origin`` (or ``none``: the
   person did it themselves, e.g. resent a form from their history).
3. Then ``Referer``, which must be on placematch's own origin. (Our pages send it to placematch
   only: ``Referrer-Policy: same-origin`` in api.headers.)

A ``null`` Origin that Sec-Fetch-Site does not vouch for is another site. A request with none of
the three is allowed only when no cookie-based session is involved: when it carries no session
cookie, or carries a bearer token (``Authorization``, which a browser never sends from another
site's page: that needs a CORS permission placematch never gives, and the API reads only the
token). Every browser sends at least Origin on a form post, so no evidence means a program (the
command line, a script, ``curl``), which has no one's authority but what it sends itself:
refusing it would protect nothing. With the cookie alone, no evidence means an old or unusual
browser that cannot show where the request came from, and the request is refused: the cookie is
the very thing a forging site relies on.

Placematch's own origin is the address the request was sent to (its scheme and ``Host``), plus
any in ``PLACEMATCH_ORIGINS`` (comma-separated, e.g. ``https://placematch.example.gov.uk``), for
a service behind a reverse proxy that does not pass on the ``Host`` people use (or terminates
https without ``--proxy-headers``). A refusal is a plain page for a browser ("This form came from
another website, so it was not sent.") and the service's error shape for anything else, 403
either way; nothing is read or written.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import SESSION_COOKIE
from api.errors import body
from api.pages.core import render

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OWN_SITE = frozenset({"same-origin", "none"})  # Sec-Fetch-Site values that are not another site
DEFAULT_PORTS = {"http": 80, "https": 443}
REFUSED = "This form came from another website, so it was not sent."
REFUSED_API = ("this request came from another website's page, so it was refused: placematch accepts changes "
               "only from its own pages, or from programs that send a bearer token")

Origin = tuple[str, str, int]  # scheme, host, port


def parse_origin(text: str) -> Origin | None:
    """``scheme://host[:port]`` (an Origin, or the start of a Referer) as a comparable triple."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def configured_origins(value: str | None = None) -> frozenset[Origin]:
    value = os.environ.get("PLACEMATCH_ORIGINS", "") if value is None else value
    return frozenset(o for o in (parse_origin(part) for part in value.split(",") if part.strip()) if o)


def own_origin(scope: Scope, headers: Headers) -> Origin | None:
    """Where this request was sent: its scheme and the Host it names."""
    host = headers.get("host")
    if not host and scope.get("server"):
        server_host, server_port = scope["server"]
        host = f"{server_host}:{server_port}"
    return parse_origin(f"{scope.get('scheme', 'http')}://{host}") if host else None


def from_our_pages(headers: Headers, ours: frozenset[Origin]) -> bool | None:
    """True: from placematch's own pages; False: from somewhere else; None: the request does not
    say (no Origin, Sec-Fetch-Site or Referer)."""
    origin = headers.get("origin")
    if origin and origin.strip() != "null":
        return parse_origin(origin) in ours
    site = headers.get("sec-fetch-site")
    if site:
        return site.strip().lower() in OWN_SITE
    if origin:  # "null", and nothing vouches for it
        return False
    referer = headers.get("referer")
    if referer:
        return parse_origin(referer) in ours
    return None


def _session_involved(headers: Headers) -> bool:
    """The session cookie is what the request relies on: it carries it, and no bearer token."""
    if headers.get("authorization"):
        return False
    cookies = headers.get("cookie", "")
    return any(part.strip().startswith(f"{SESSION_COOKIE}=") for part in cookies.split(";"))


def _wants_a_page(headers: Headers) -> bool:
    # A browser's form post (or anything that asks for HTML) gets a page; an API client, JSON.
    kind = headers.get("content-type", "").lower()
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")) or \
        "text/html" in headers.get("accept", "")


def refusal(scope: Scope, headers: Headers) -> Response:
    if not _wants_a_page(headers):
        return JSONResponse(body(403, "cross_site", REFUSED_API), status_code=403)
    return render(Request(scope), "refused.html", None, status_code=403, title="Not sent", message=None,
                  problem=None, explanation=REFUSED,
                  advice="Nothing was changed. If you meant to do this, open placematch yourself and use the form there.")


class OriginCheck:
    """ASGI middleware: refuse a change that did not come from placematch's own pages."""

    def __init__(self, app: ASGIApp, origins: str | None = None) -> None:
        self.app = app
        self.configured = configured_origins(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in CHANGES:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        here = own_origin(scope, headers)
        ours = self.configured | ({here} if here else set())
        verdict = from_our_pages(headers, ours)
        if verdict is False or (verdict is None and _session_involved(headers)):
            await refusal(scope, headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)
