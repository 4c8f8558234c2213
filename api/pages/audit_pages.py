"""The audit log for people: every event, newest first, 50 to a page, filtered as
``GET /audit-events`` filters (the same query), with a link to the same filters' CSV export
(``/audit/export.csv``, api.pages.data_pages: the API's export, read with the page's session
cookie, since the API itself takes bearer tokens only)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import func, select

from api.deps import SessionDep
from api.input_checks import DATE_RANGE
from api.pages.core import AUDITORS, PageAllowed, render
from api.routes.audit import _query as audit_query
from models import glossary
from models.accounts import AuditEvent
from models.base import COUNCIL_ZONE
from providers.limits import EARLIEST_DATE, LATEST_DATE

router = APIRouter(include_in_schema=False)
Auditor = PageAllowed(*AUDITORS)  # as GET /audit-events

PER_PAGE = 50
TEXT_FILTERS = ("action", "entity_type", "entity_id", "actor")
LONGEST_VALUE = 160  # characters of one value shown in a change; the CSV export has it all


def _day(text: str | None) -> dt.date | None:
    """A date typed in a filter, or None for one that is not a date or not a plausible one (a
    year 9999 "to" date would overflow the day after it)."""
    try:
        day = dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day is None or EARLIEST_DATE <= day <= LATEST_DATE else None


def _start_of(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in England (the page shows London times), as UTC."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=COUNCIL_ZONE).astimezone(dt.timezone.utc)


def _shown(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= LONGEST_VALUE else text[:LONGEST_VALUE] + "..."


def changes(before: dict | None, after: dict | None) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field the event changed, in the order recorded, in
    words (a stored code reads as the glossary says; the CSV export keeps the codes)."""
    before, after = before or {}, after or {}
    keys = list(before) + [k for k in after if k not in before]
    return [(_field(k), glossary.plain(_shown(before[k])) if k in before else "",
             glossary.plain(_shown(after[k])) if k in after else "")
            for k in keys if before.get(k) != after.get(k) or (k in before) != (k in after)]


def _field(name: str) -> str:
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:]


def _code_of(value: str | None, table: dict[str, str]) -> str | None:
    """The code for a label typed or chosen as the page shows it; anything else as given."""
    if value is None:
        return None
    wanted = value.casefold()
    return next((code for code, label in table.items() if label.casefold() == wanted), value)


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, user: Auditor):
    params = request.query_params
    filters = {name: (params.get(name) or "").strip() or None for name in TEXT_FILTERS}
    # An action or record type may be given as the page shows it ("Signed in") or as its code.
    for name, table in (("action", glossary.AUDIT_ACTIONS), ("entity_type", glossary.AUDIT_RECORDS)):
        filters[name] = _code_of(filters[name], table)
    since, until = _day(params.get("since")), _day(params.get("until"))
    problems = [f"{label} is not a date {DATE_RANGE} (use YYYY-MM-DD): ignored." for label, name, day in
                (("From", "since", since), ("To", "until", until)) if params.get(name) and day is None]
    # The dates are whole days in England: from the start of ``since`` to the end of ``until``.
    moments = {"since": _start_of(since) if since else None,
               "until": _start_of(until + dt.timedelta(days=1)) if until else None}
    query = audit_query(filters["entity_type"], filters["entity_id"], filters["actor"], filters["action"],
                        moments["since"], moments["until"])
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    try:
        number = min(max(1, int(params.get("page", "1"))), pages)
    except ValueError:
        number = 1
    events = session.scalars(query.order_by(None).order_by(AuditEvent.id.desc())
                             .limit(PER_PAGE).offset((number - 1) * PER_PAGE)).all()

    chosen = {k: v for k, v in filters.items() if v}
    dates = {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v}
    export = {**chosen, **{k: v.isoformat() for k, v in moments.items() if v}}

    def page_link(n: int) -> str:
        return "/audit?" + urlencode({**chosen, **dates, "page": n})

    # What the filters can be (a few dozen actions and record types), offered as suggestions.
    known = {name: session.scalars(select(getattr(AuditEvent, name)).distinct().order_by(getattr(AuditEvent, name))
                                   .limit(200)).all() for name in ("action", "entity_type")}
    known = {"action": sorted(((glossary.words(a, glossary.AUDIT_ACTIONS), a) for a in known["action"])),
             "entity_type": sorted(((glossary.words(t, glossary.AUDIT_RECORDS), t) for t in known["entity_type"]))}
    return render(request, "audit_log.html", user, events=[(e, changes(e.before, e.after)) for e in events],
                  total=total, number=number, pages=pages, first=(number - 1) * PER_PAGE + 1,
                  filters=filters, since=dates.get("since", ""), until=dates.get("until", ""),
                  previous=page_link(number - 1) if number > 1 else None,
                  next=page_link(number + 1) if number < pages else None,
                  export="/audit/export.csv" + ("?" + urlencode(export) if export else ""),
                  known=known, filter_problems=problems)
