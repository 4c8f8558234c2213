"""List endpoints share one page shape: ``items`` with ``total``, ``limit`` and ``offset``."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Skip this many items")]


@lru_cache(maxsize=None)
def _items(schema: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[schema])


def columns_of(model) -> Select:
    """``select`` of every column of a mapped class, read as plain rows by ``page``: for lists
    whose schema holds only the class's own columns (no relationships)."""
    return select(*model.__table__.columns)


def page(session: Session, query: Select, limit: int, offset: int, schema: type[BaseModel]) -> Response:
    """One page of ``query`` as JSON, ready to send.

    The items are validated once, from the ORM rows, and written to JSON by pydantic's own
    serialiser. Returning the response (rather than models for FastAPI to check against the
    route's ``response_model`` again) halves the work of the busiest routes; the route's
    ``response_model`` still documents the shape, and the tests hold the answers to it.
    """
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    query = query.limit(limit).offset(offset)
    # A query of one mapped class loads ORM objects (the schema may read relationships); a
    # query of plain columns (see ``columns_of``) skips the ORM's bookkeeping for read-only rows.
    entity = query.column_descriptions[0]
    rows = (session.scalars(query) if len(query.column_descriptions) == 1 and entity["expr"] is entity["entity"]
            else session.execute(query)).all()
    adapter = _items(schema)
    items = adapter.dump_json(adapter.validate_python(rows, from_attributes=True))
    body = b'{"items":%s,"total":%d,"limit":%d,"offset":%d}' % (items, int(total or 0), limit, offset)
    return Response(body, media_type="application/json")
