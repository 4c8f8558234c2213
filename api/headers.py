"""Security headers on every answer (issue 13, item 5).

The pages carry young people's cases, so no answer may be kept by the browser or a proxy
(``Cache-Control: no-store``: after signing out, Back shows nothing), framed by another site
(clickjacking), sniffed into another type, or followed to another site by a Referer that leaks
the ids in our URLs. ``Referrer-Policy: same-origin`` sends no Referer elsewhere, while our own
pages' requests to placematch keep their Origin and Referer, which api.origin_check reads: under
``no-referrer`` a browser sends ``Origin: null`` on a same-origin form post, and over plain http
nothing else would say where the form came from. The Content-Security-Policy allows scripts only
from placematch itself (every script lives in ``api/pages/static``; no page has inline script)
and nothing from elsewhere at all. Inline ``style`` attributes stay allowed: a few pages and the
inline map SVG use them, and the issue's concern is script. The static files (a style sheet and
a script, no case data) may be cached. FastAPI's /docs and /redoc pages load their script inline,
so they get every header but the policy.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def content_security_policy() -> str:
    """POLICY, with the council's own map tile server (PLACEMATCH_MAP_TILES, checked by
    api.pages.panel_map) allowed as an image source: the only other origin a page may load."""
    from urllib.parse import urlsplit

    from api.pages.panel_map import configured_tiles

    tiles = configured_tiles()
    if not tiles:
        return POLICY
    parts = urlsplit(tiles)
    return POLICY.replace("img-src 'self' data:;", f"img-src 'self' data: {parts.scheme}://{parts.netloc};")
ALWAYS = ((b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
          (b"referrer-policy", b"same-origin"))
CACHEABLE = ("/static/",)  # no case data there
NO_POLICY = ("/docs", "/redoc")


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.policy = content_security_policy().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = list(ALWAYS)
        if not path.startswith(NO_POLICY):
            extra.append((b"content-security-policy", self.policy))
        if not path.startswith(CACHEABLE):
            extra += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
        replaced = {name for name, _ in extra}

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, with_headers)
