"""Trial stays (models.trials), booked by the panel from a proposal, cancelled, and kept to
when the placement is accepted.

The rules a booking is refused for, in words (api.refusals):

* the run can still be decided on and the proposal is one of its own;
* the young person is still waiting, and has no other trial booked (cancel that one first);
* the bed is still free and the home still meets every hard rule for them (checked as an
  acceptance is, on today's data: a trial in a home the panel could not then accept is no trial);
* 1 to ``MAX_NIGHTS`` nights, the first on or after the day the bed is free and no earlier than
  today, and no more than ``BOOK_WITHIN_DAYS`` ahead;
* a reason, as every panel decision has.

A trial costs its nights at the weekly price the proposal would cost, over seven. It does not
take the bed; when the panel accepts the proposal, the placement starts the day the trial ends
(api.panel_decisions), and a trial at another home is cancelled with the acceptance.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.refusals import Conflict, NotFound
from api.run_records import decidable_run
from models.accounts import User, record
from models.base import council_today, utcnow
from models.enums import ReferralStatus, TrialStatus
from models.panel import MatchRun, ProposedMatch
from models.people import Referral
from models.supply import Vacancy
from models.trials import TrialStay

MAX_NIGHTS = 7  # a week is a trial; longer is a placement
BOOK_WITHIN_DAYS = 28  # the proposal was made on today's beds: a trial further off is a new search


def today() -> dt.date:
    """The council's today, in one place (a test holds it on the demo's day)."""
    return council_today()


def booked_for(session: Session, referral_id: str) -> TrialStay | None:
    return session.scalar(select(TrialStay).where(TrialStay.referral_id == referral_id,
                                                  TrialStay.status == TrialStatus.booked))


def trials_for(session: Session, referral_id: str) -> list[TrialStay]:
    return list(session.scalars(select(TrialStay).where(TrialStay.referral_id == referral_id)
                                .order_by(TrialStay.booked_at, TrialStay.id)))


def snapshot(trial: TrialStay) -> dict:
    return {"referral": trial.referral_id, "vacancy": trial.vacancy_id, "starts_on": trial.starts_on.isoformat(),
            "nights": trial.nights, "nightly_cost": float(trial.nightly_cost), "status": trial.status.value}


def _dates(starts_on: dt.date, nights: int, vacancy: Vacancy) -> None:
    """Refused as a conflict with the bed and the day (409, ``trial_dates``), naming the field:
    the same request may be right tomorrow or for another bed."""
    if not 1 <= nights <= MAX_NIGHTS:
        raise Conflict(f"a trial stay is 1 to {MAX_NIGHTS} nights", code="trial_dates",
                       fields=[("body.nights", f"1 to {MAX_NIGHTS}")])
    on = today()
    earliest = max(on, vacancy.available_from)
    if starts_on < earliest:
        why = "today" if earliest == on else f"the day the bed is free ({earliest:%-d %B %Y})"
        raise Conflict(f"the first night cannot be before {why}", code="trial_dates",
                       fields=[("body.starts_on", f"from {earliest}")])
    if starts_on > on + dt.timedelta(days=BOOK_WITHIN_DAYS):
        raise Conflict(f"book a trial stay up to {BOOK_WITHIN_DAYS} days ahead: the proposal was made on today's "
                       "beds", code="trial_dates", fields=[("body.starts_on", f"within {BOOK_WITHIN_DAYS} days")])


def book(session: Session, user: User, run_id: int, proposal_id: int, *, starts_on: dt.date, nights: int,
         reason: str) -> TrialStay:
    """Book a trial stay in the proposal's home (see the module for the rules)."""
    from api.panel_decisions import analyze_choice, siblings_proposed_with

    run = decidable_run(session, run_id)
    proposal = session.get(ProposedMatch, proposal_id)
    if proposal is None or proposal.match_run_id != run.id:
        raise NotFound(f"proposal {proposal_id} not found in match run {run.id}")
    referral = session.get(Referral, proposal.referral_id)
    vacancy = session.get(Vacancy, proposal.vacancy_id)
    if referral.status != ReferralStatus.open:
        raise Conflict(f"{referral.id} is no longer waiting for a home")
    already = booked_for(session, referral.id)
    if already is not None:
        raise Conflict(f"{referral.id} already has a trial stay booked (from {already.starts_on:%-d %B %Y}, "
                       f"{already.nights} nights): cancel it first", code="trial_already_booked")
    if vacancy is None or vacancy.beds < 1:
        raise Conflict(f"the bed at {proposal.vacancy_id} is no longer free", code="no_free_bed")
    _dates(starts_on, nights, vacancy)
    facts, broken = analyze_choice(session, run, referral, vacancy, siblings_proposed_with(session, run, referral))
    if broken or facts is None:
        rules = "; ".join(b.words for b in broken) or "no support at the tier needed"
        raise Conflict(f"{referral.id} could not be placed in that home now ({rules}), so a trial stay there is "
                       "refused", fields=[(f"rule:{b.code}", b.words) for b in broken])
    trial = TrialStay(referral_id=referral.id, vacancy_id=vacancy.id, property_id=vacancy.property_id,
                      proposed_match_id=proposal.id, starts_on=starts_on, nights=nights,
                      nightly_cost=round(facts.weekly_cost / 7, 2), status=TrialStatus.booked, reason=reason,
                      booked_by_id=user.id)
    session.add(trial)
    session.flush()
    record(session, "trial_stay_booked", "trial_stay", trial.id, actor=user, after=snapshot(trial))
    return trial


def cancel(session: Session, user: User, trial_id: int, reason: str) -> TrialStay:
    trial = session.get(TrialStay, trial_id)
    if trial is None:
        raise NotFound(f"trial stay {trial_id} not found")
    if trial.status != TrialStatus.booked:
        raise Conflict(f"trial stay {trial_id} was cancelled already")
    if trial.starts_on <= today():
        raise Conflict(f"trial stay {trial_id} has begun (its first night was {trial.starts_on:%-d %B %Y}): it "
                       "runs its course", code="trial_begun")
    return _cancelled(session, trial, user, reason)


def _cancelled(session: Session, trial: TrialStay, user: User, reason: str) -> TrialStay:
    before = snapshot(trial)
    trial.status, trial.cancelled_by_id, trial.cancelled_at = TrialStatus.cancelled, user.id, utcnow()
    trial.cancel_reason = reason
    session.flush()
    record(session, "trial_stay_cancelled", "trial_stay", trial.id, actor=user, before=before,
           after=snapshot(trial) | {"reason": reason})
    return trial


def kept_on_acceptance(session: Session, user: User, run: MatchRun, referral: Referral, vacancy: Vacancy,
                       starts_on: dt.date) -> dt.date:
    """The placement's start once the panel accepts ``vacancy`` for ``referral``: the day a trial
    there ends, if one is booked; a trial booked at another home is cancelled (the young person
    is placed elsewhere)."""
    trial = booked_for(session, referral.id)
    if trial is None:
        return starts_on
    if trial.vacancy_id == vacancy.id:
        day = starts_on.date() if isinstance(starts_on, dt.datetime) else starts_on  # a pandas Timestamp too
        return max(day, trial.ends_on)
    _cancelled(session, trial, user, f"placed elsewhere by the panel (match run {run.id})")
    return starts_on
