"""Trial stays in the browser: booked from a proposal's page, cancelled from it (api.trial_stays
has the rules). A refused booking draws the proposal's page again with the message beside the
field and what was typed kept."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request

from api import refusals, trial_stays
from api.deps import RecordId, SessionDep
from api.pages.core import PANEL, PageAllowed, back_to
from api.pages.panel_pages import (
    REASON_MAX,
    REASON_MIN,
    _not_found,
    _proposal_in,
    _proposal_view,
    _run_or_none,
    _show,
)

router = APIRouter(include_in_schema=False)
Panel = PageAllowed(*PANEL)
# Which of the form's fields a refusal names (api.refusals fields) is shown beside.
FIELD_OF = {"body.starts_on": "trial-starts", "body.nights": "trial-nights"}


@router.post("/panel/runs/{run_id}/trial-stays")
def book_trial(request: Request, run_id: RecordId, session: SessionDep, user: Panel,
               proposal_id: Annotated[str, Form(max_length=12)] = "", starts_on: Annotated[str, Form()] = "",
               nights: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
    run = _run_or_none(session, run_id)
    proposal = _proposal_in(session, run, int(proposal_id)) if run is not None and proposal_id.isdigit() \
        and int(proposal_id) <= 2**31 - 1 else None
    if proposal is None:
        return _not_found(request, user, f"proposal {proposal_id[:12]} of match run {run_id}")
    proposal_id = proposal.id
    typed = {"trial-starts": starts_on, "trial-nights": nights, "trial-reason": reason}
    errors: dict[str, str] = {}
    try:
        first = dt.date.fromisoformat(starts_on.strip())
    except ValueError:
        first = None
        errors["trial-starts"] = "Enter the first night as a date, like 2026-12-14"
    count = int(nights) if nights.strip().isdigit() and len(nights.strip()) < 4 else None
    if count is None:
        errors["trial-nights"] = f"Enter the nights as a whole number from 1 to {trial_stays.MAX_NIGHTS}"
    if not REASON_MIN <= len(reason.strip()) <= REASON_MAX:
        errors["trial-reason"] = f"Give the panel's reason for the trial (between {REASON_MIN} and {REASON_MAX:,} characters)"
    if not errors:
        try:
            trial = trial_stays.book(session, user, run_id, proposal_id, starts_on=first, nights=count,
                                     reason=reason.strip())
        except refusals.Refused as exc:
            if exc.code == "trial_dates":  # beside its field, with what was typed
                errors[FIELD_OF.get(exc.fields[0][0] if exc.fields else "", "trial-starts")] = \
                    exc.message[:1].upper() + exc.message[1:]
                return _proposal_view(request, session, user, run_id, proposal_id, _show("all"), errors=errors,
                                      typed=typed)
            return back_to(f"/panel/runs/{run_id}/proposals/{proposal_id}#trial-stays", problem=str(exc))
    if errors:
        return _proposal_view(request, session, user, run_id, proposal_id, _show("all"), errors=errors, typed=typed)
    return back_to(f"/panel/runs/{run_id}/proposals/{proposal_id}#trial-stays",
                   done=f"Trial stay booked: {trial.nights} night{'s' if trial.nights != 1 else ''} from "
                        f"{trial.starts_on:%-d %B %Y}, £{trial.cost:,.2f}")


@router.post("/panel/trial-stays/{trial_id}/cancel")
def cancel_trial(request: Request, trial_id: RecordId, session: SessionDep, user: Panel,
                 reason: Annotated[str, Form()] = "", back: Annotated[str, Form(max_length=200)] = "/panel"):
    here = back if back.startswith("/panel/runs/") and "//" not in back else "/panel"
    if not REASON_MIN <= len(reason.strip()) <= REASON_MAX:
        return back_to(f"{here}#trial-stays", problem=f"Give the reason for cancelling the trial stay (between "
                                                      f"{REASON_MIN} and {REASON_MAX:,} characters)")
    try:
        trial_stays.cancel(session, user, trial_id, reason.strip())
    except refusals.Refused as exc:
        return back_to(f"{here}#trial-stays", problem=str(exc))
    return back_to(f"{here}#trial-stays", done="Trial stay cancelled")
