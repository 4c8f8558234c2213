"""Request bodies bounded before they are read: by their declared length, and again while they
stream in (a chunked upload declares none).

A request larger than its limit (providers.limits: MAX_UPLOAD_REQUEST_BYTES for a file upload,
MAX_REQUEST_BYTES for anything else) answers 413 in the service's one error shape, naming the
limit, without the rest of it being read: never parsed, never spooled to disk, never reaching a
route. A route never sees part of a body, so nothing is written.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import FieldProblem, body
from providers.limits import MAX_REQUEST_BYTES, MAX_UPLOAD_REQUEST_BYTES, MB


def limit_for(headers: Headers) -> int:
    """The most this request may carry: file uploads come as multipart forms."""
    kind = headers.get("content-type", "").lower()
    return MAX_UPLOAD_REQUEST_BYTES if kind.startswith("multipart/form-data") else MAX_REQUEST_BYTES


def _message(limit: int) -> str:
    what = "a file upload" if limit == MAX_UPLOAD_REQUEST_BYTES else "one request"
    return f"the request is too large: the limit for {what} is {limit // MB} MB"


def _too_large(limit: int) -> JSONResponse:
    problem = FieldProblem(path="body", message=f"larger than {limit:,} bytes")
    return JSONResponse(body(413, "too_large", _message(limit), [problem]), status_code=413,
                        headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware: refuse a body over its limit, declared or streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = limit_for(headers)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)  # refused unread
            return

        received, refused, started = 0, False, False

        async def bounded_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    # Raised into whatever is reading the body (FastAPI's form or JSON
                    # parsing, a page's request.form()): it stops there, and the service's
                    # handler answers 413 with this message.
                    raise HTTPException(413, detail=_message(limit))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if refused and message["status"] != 413:
                    # Something caught the refusal and answered otherwise: answer 413 instead.
                    await _too_large(limit)(scope, receive, send)
                    raise _Replaced
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except _Replaced:
            pass
        except HTTPException:
            if not refused or started:
                raise
            await _too_large(limit)(scope, receive, send)


class _Replaced(Exception):
    """The app's answer to a refused body was replaced by the 413."""
