"""One error shape for every failure the service reports:

    {"error": {"status": 422, "code": "invalid_input", "message": "...",
               "fields": [{"path": "body.tier", "message": "..."}]}}

``fields`` names where the problem is: a JSON path into the request, or for an uploaded CSV
``file row R column C``. 404 for something missing, 409 for a stale update (someone else
decided first) or a conflict with the current state, 422 for invalid input, 401/403 for
sign-in and role, 503 with Retry-After when the database is busy (another writer holds the lock,
or PostgreSQL gave up on a lock wait or a serialisable transaction): nothing was written and
trying again shortly will work. Messages never carry personal data beyond the ids the caller sent.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from providers.csvfiles import ImportFailed


class FieldProblem(BaseModel):
    path: str
    message: str


class ErrorDetail(BaseModel):
    status: int
    code: str
    message: str
    fields: list[FieldProblem] = []


class ErrorBody(BaseModel):
    error: ErrorDetail


CODES = {400: "bad_request", 401: "not_signed_in", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 422: "invalid_input", 500: "server_error", 503: "busy"}

# The database is busy rather than broken: SQLite's "database is locked" / "database table is
# locked" (SQLITE_BUSY, SQLITE_LOCKED, after the busy timeout), PostgreSQL's lock_timeout
# (55P03), serialization failure (40001) and deadlock (40P01). Each rolled the write back whole.
SQLITE_BUSY_CODES = {5, 6}
POSTGRES_BUSY_STATES = {"55P03", "40001", "40P01"}
RETRY_AFTER_SECONDS = 2
BUSY_MESSAGE = ("The database is busy with another change just now, so nothing was saved. "
                "Please wait a few seconds and try again.")


def database_busy(exc: OperationalError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlite_errorcode", None) is not None:
        return orig.sqlite_errorcode & 0xFF in SQLITE_BUSY_CODES  # the primary code, not the extended one
    if getattr(orig, "sqlstate", None) is not None:  # psycopg 3
        return orig.sqlstate in POSTGRES_BUSY_STATES
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


class ApiError(Exception):
    """Raised by routes and services; rendered in the one error shape."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 fields: list[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or CODES.get(status, "error")
        self.fields = [FieldProblem(path=p, message=m) for p, m in fields]


def not_found(what: str, key: object) -> ApiError:
    return ApiError(404, f"{what} {key} not found")


def body(status: int, code: str, message: str, fields: list[FieldProblem] = ()) -> dict:
    return ErrorBody(error=ErrorDetail(status=status, code=code, message=message, fields=list(fields))).model_dump()


def _respond(status: int, code: str, message: str, fields=(), headers=None) -> JSONResponse:
    return JSONResponse(body(status, code, message, fields), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError):
        return _respond(exc.status, exc.code, exc.message, exc.fields)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        fields = [FieldProblem(path=".".join(str(p) for p in e.get("loc", ())), message=e.get("msg", "invalid"))
                  for e in exc.errors()]
        return _respond(422, "invalid_input", "the request is not valid: see fields", fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
        return _respond(exc.status_code, CODES.get(exc.status_code, "error"), message, headers=exc.headers)

    @app.exception_handler(StaleDataError)
    async def stale(_: Request, exc: StaleDataError):
        return _respond(409, "stale", "someone else changed this record first: reload it and decide again")

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def out_of_range(_: Request, exc: Exception):
        # An id or offset beyond what the database can hold (SQLite: 64 bits, PostgreSQL
        # INTEGER: 32 bits) cannot name anything: say so instead of failing with a 500.
        return _respond(422, "invalid_input", "a number in the request is out of range")

    @app.exception_handler(OperationalError)
    async def busy(_: Request, exc: OperationalError):
        if not database_busy(exc):
            raise exc  # a real fault: the server error it is (logged without the query's values)
        return _respond(503, "busy", BUSY_MESSAGE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(ImportFailed)
    async def refused_file(_: Request, exc: ImportFailed):
        fields = [FieldProblem(path=" ".join(x for x in (e.file, f"row {e.row}" if e.row is not None else "",
                                                          f"column {e.column}" if e.column else "") if x),
                               message=e.reason) for e in exc.errors]
        return _respond(422, "file_refused", f"the file was refused; nothing was written ({len(exc.errors)} problems)",
                        fields)


# For OpenAPI: every route documents the shape of its errors.
ERROR_RESPONSES = {status: {"model": ErrorBody, "description": CODES[status].replace("_", " ")}
                   for status in (400, 401, 403, 404, 409, 422)}
