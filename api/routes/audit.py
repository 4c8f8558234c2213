"""The audit log: read and export (append-only; nothing here changes it)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from api.deps import AUDITORS, Allowed, SessionDep
from api.errors import ERROR_RESPONSES
from api.pagination import Limit, Offset, Page, page
from models.accounts import AuditEvent
from models.schemas import AuditEventPublic
from models.spreadsheet import inert_row

router = APIRouter(prefix="/audit-events", tags=["audit"], responses=ERROR_RESPONSES)
Auditor = Allowed(*AUDITORS)


def _query(entity_type, entity_id, actor, action, since, until):
    query = select(AuditEvent).order_by(AuditEvent.id)
    for column, value in ((AuditEvent.entity_type, entity_type), (AuditEvent.entity_id, entity_id),
                          (AuditEvent.actor, actor), (AuditEvent.action, action)):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    return query


@router.get("", response_model=Page[AuditEventPublic], summary="Audit events, oldest first, filtered")
def list_events(session: SessionDep, _: Auditor, limit: Limit = 100, offset: Offset = 0,
                entity_type: str | None = None, entity_id: str | None = None, actor: str | None = None,
                action: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None):
    return page(session, _query(entity_type, entity_id, actor, action, since, until), limit, offset, AuditEventPublic)


@router.get("/export.csv", summary="Export the (filtered) audit log as CSV", response_class=StreamingResponse)
def export_events(session: SessionDep, _: Auditor, entity_type: str | None = None, entity_id: str | None = None,
                  actor: str | None = None, action: str | None = None, since: dt.datetime | None = None,
                  until: dt.datetime | None = None):
    rows = session.scalars(_query(entity_type, entity_id, actor, action, since, until)).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "actor", "action", "entity_type", "entity_id", "before", "after"])
    for e in rows:  # opened in a spreadsheet: no cell may run as a formula (models.spreadsheet)
        writer.writerow(inert_row([e.id, e.at.isoformat(), e.actor, e.action, e.entity_type, e.entity_id,
                         json.dumps(e.before, sort_keys=True) if e.before is not None else "",
                         json.dumps(e.after, sort_keys=True) if e.after is not None else ""]))
    return StreamingResponse(iter([out.getvalue()]), media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'})
