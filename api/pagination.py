"""List endpoints share one page shape: ``items`` with ``total``, ``limit`` and ``offset``."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
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


def page(session: Session, query: Select, limit: int, offset: int, schema) -> dict:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.limit(limit).offset(offset)).all()
    return {"items": [schema.model_validate(r, from_attributes=True) for r in rows],
            "total": int(total or 0), "limit": limit, "offset": offset}
