"""The panel's pages: the referral queue, match runs and their proposals, one proposal's case
with the panel's decision forms, and the check of the panel's own choice before an override.

Every form calls the function the API calls (``api.panel_decisions``, ``panel_memory`` for decisions, the match-runs
route for submitting a job), so a decision made here is the same decision, audited the same
way. A refusal comes back to the page it was made on as a one-line problem (Post/Redirect/Get).
Managers may read runs and cases (they approve what the panel decides); only the panel sees
and uses the forms.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import selectinload

from api import (
    grade_changes,
    jobs,
    panel_decisions,
    panel_memory,
    refusals,
    run_records,
    trial_stays,
)
from api.deps import RecordId, SessionDep, get_engine
from api.errors import ApiError
from api.pages import panel_map
from api.pages.core import (
    MANAGERS,
    PANEL,
    ROLE_NAMES,
    PageAllowed,
    back_to,
    render,
    say,
)
from api.routes.match_runs import (
    ONE_ID,
    MatchRunCreate,
    submit_run,
)
from matching import measures
from models import glossary
from models.accounts import User
from models.base import council_today
from models.enums import DecisionKind, MatchRunStatus, ReferralStatus, Role, Urgency
from models.panel import Decision, MatchRun, ProposedMatch
from models.people import Referral
from models.supply import Property, Vacancy
from providers import price_benchmarks
from providers.authorities import default_authorities
from providers.offers import answers_by_referral

router = APIRouter(include_in_schema=False)
Panel = PageAllowed(*PANEL)
Reader = PageAllowed(*dict.fromkeys(PANEL + MANAGERS))  # as the API: managers read what they approve
EngineDep = Annotated[Engine, Depends(get_engine)]

# Status tags: (words, colour). The words carry the meaning; the colour only repeats it.
URGENCY = {u: (glossary.URGENCIES[u.value], colour) for u, colour in
           ((Urgency.today, "red"), (Urgency.within_5_days, "yellow"), (Urgency.over_5_days, "grey"))}
RUN_STATUS = {MatchRunStatus.queued: "grey", MatchRunStatus.running: "yellow", MatchRunStatus.succeeded: "green",
              MatchRunStatus.failed: "red", MatchRunStatus.cancelled: "grey"}
APPROVER = {Role(code): who for code, who in glossary.APPROVERS.items()}
RECENT_RUNS = 20
CHOICES = 100  # vacancies listed in an override's drop-down; any other is typed by its id
REASON_MIN, REASON_MAX = 3, 2000  # as the API's ReasonIn
DECISION_VERBS = {"accept": "accepting", "reject": "rejecting", "lock": "locking", "ban": "banning",
                  "override": "choosing this home", "lift": "lifting it"}


# --- reading -------------------------------------------------------------------------------------


def _flags(referral: Referral) -> list[tuple[str, str]]:
    flags = []
    if referral.deprivation_of_liberty:
        flags.append(("Deprivation of liberty order", "red"))
    if referral.risks_to_others:
        flags.append(("Risk of " + ", ".join(say(r, "RISKS_TO_OTHERS") for r in referral.risks_to_others), "yellow"))
    if referral.sibling_group:
        flags.append((f"Sibling group {referral.sibling_group}", "purple"))
    return flags


def _area_tag(out_of_area: bool, at_a_distance: bool) -> tuple[str, str]:
    if not out_of_area:
        return ("In area", "green")
    return ("At a distance", "red") if at_a_distance else ("Out of area, adjoining", "yellow")


def _approval_tags(codes: list[str]) -> list[tuple[str, str]]:
    """Stored as "rule:role" codes; shown as who approves, with the rule in words."""
    tags = []
    for code in codes:
        rule, _, role = code.partition(":")
        tags.append((APPROVER.get(Role(role), say(role, "ROLES")) if role in Role.codes() else say(role, "ROLES"),
                     say(rule, "APPROVAL_REASONS")))
    return tags


def _queue(session, today: dt.date) -> list[dict]:
    referrals = session.scalars(select(Referral).where(Referral.status == ReferralStatus.open)).all()
    referrals = sorted(referrals, key=lambda r: (r.urgency.rank, r.referred_on, r.id))  # most urgent, longest waiting
    return [{"r": r, "age": r.age_on(today), "urgency": URGENCY[r.urgency], "flags": _flags(r),
             "waiting": max(0, (today - r.referred_on).days)} for r in referrals]


def _decisions_by_referral(session, run_id: int) -> dict[str, list[Decision]]:
    found: dict[str, list[Decision]] = {}
    for d in session.scalars(run_records.decisions_query(run_id)):
        found.setdefault(d.referral_id, []).append(d)
    return found


def _decision_tags(proposal: ProposedMatch, decisions: list[Decision]) -> list[tuple[str, str]]:
    """What the panel has decided about this young person on this run, as tags."""
    tags = []
    for d in decisions:
        if d.proposed_match_id == proposal.id and d.kind == DecisionKind.accept:
            tags.append(("Accepted", "green"))
        elif d.proposed_match_id == proposal.id and d.kind == DecisionKind.reject:
            tags.append(("Rejected: kept out of re-runs", "red"))
        elif d.kind == DecisionKind.accept:
            tags.append((f"Alternative {d.vacancy_id} accepted", "green"))
        elif d.kind == DecisionKind.override:
            tags.append((f"Overridden: {d.vacancy_id}", "purple"))
        elif d.kind in (DecisionKind.lock, DecisionKind.ban) and d.vacancy_id == proposal.vacancy_id:
            tags.append(("Locked for re-run" if d.kind == DecisionKind.lock else "Banned for re-run",
                         "grey"))
        elif d.kind == DecisionKind.lift and d.vacancy_id == proposal.vacancy_id:
            tags.append(("Lifted for re-run", "grey"))
    return tags


# How each thing a run was given reads in its table: (words, colour).
DECISION_WORDS = {kind: glossary.DECISIONS[kind.value] for kind in DecisionKind}
CARRIED_TAGS = {DecisionKind.lock: ("Locked", "green"), DecisionKind.ban: ("Banned", "red"),
                DecisionKind.reject: ("Rejected: kept out", "red")}


def _carried_rows(items: list[panel_memory.Carried]) -> list[dict]:
    """Each lock, ban or rejection with who set it, on which run, when and why, as the page shows it."""
    return [{"c": c, "tag": CARRIED_TAGS[c.kind], "on": c.when(), "who": c.who(),
             "reason": c.reason or "No reason was given."} for c in items]


# Each vacancy shown names its home and provider: load them with it, not one query per row.
_WITH_HOME = selectinload(Vacancy.property).selectinload(Property.provider)


def _places(session, proposals: list[ProposedMatch]) -> dict[str, Vacancy]:
    ids = {p.vacancy_id for p in proposals}
    if not ids:
        return {}
    return {v.id: v for v in session.scalars(select(Vacancy).where(Vacancy.id.in_(ids)).options(_WITH_HOME))}


def _area_name(code: str) -> str:
    return default_authorities().name(code)


def _map(session, run: MatchRun, proposals: list[ProposedMatch], vacancies: dict[str, Vacancy],
         referrals: dict[str, Referral], title: str):
    try:
        council = run_records.placing_authority_of(session, run)
    except refusals.Refused:  # a run that does not say its council: the map without the area
        council = None
    pairs = []
    for p in proposals:
        r, v = referrals[p.referral_id], vacancies.get(p.vacancy_id)
        if v is None:
            continue
        prop = v.property
        pairs.append(panel_map.Pair(
            label=p.referral_id, home=(r.home_easting, r.home_northing), placement=(prop.easting, prop.northing),
            miles=p.miles_from_home, far=p.miles_from_home > 20 or p.out_of_area,
            where=_area_tag(p.out_of_area, p.at_a_distance)[0].lower(),
            name=prop.name, href=f"/panel/runs/{run.id}/proposals/{p.id}" if len(proposals) > 1 else None))
    return panel_map.council_map(council, pairs, title=title)


def _run_or_none(session, run_id: int) -> MatchRun | None:
    try:
        return run_records.get_run(session, run_id)
    except refusals.NotFound:
        return None


def _not_found(request: Request, user: User, what: str):
    return render(request, "panel_not_found.html", user, status_code=404, what=what)


# --- the board -----------------------------------------------------------------------------------


@router.get("/panel")
def board(request: Request, session: SessionDep, user: Panel):
    today = council_today()
    runs = session.scalars(select(MatchRun).order_by(MatchRun.id.desc()).limit(RECENT_RUNS)).all()
    placed = dict(session.execute(  # proposals (rank 0) per run: the young people each run placed
        select(ProposedMatch.match_run_id, func.count()).where(
            ProposedMatch.rank == 0, ProposedMatch.match_run_id.in_([r.id for r in runs]))
        .group_by(ProposedMatch.match_run_id)).all())
    reviews = [{"p": p, "home": p.property, "overdue": p.review_due_on < today,
                "why": [line.split(": ", 1)[0] for line in (p.review_reason or "").splitlines() if line]}
               for p in grade_changes.reviews_due(session)]
    queue = _queue(session, today)
    return render(request, "panel_board.html", user, queue=queue, runs=runs, placed=placed,
                  answers=answers_by_referral(session, [row["r"].id for row in queue]),
                  reviews=reviews,
                  run_status=RUN_STATUS, default_panel_date=today.isoformat(), default_time_limit=30)


def _submit(engine: Engine, user: User, **fields) -> int:
    """A run submitted exactly as POST /match-runs submits one (the same route function)."""
    body = MatchRunCreate(**{k: v for k, v in fields.items() if v not in (None, "")})
    return submit_run(body, Response(), engine, user).id


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, ApiError):
        details = "; ".join(f"{f.path}: {f.message}" for f in exc.fields)
        return f"{exc.message} ({details})" if details else exc.message
    return str(exc)


@router.post("/panel/runs")
def start_run(engine: EngineDep, user: Panel, panel_date: Annotated[str, Form()] = "",
              time_limit_seconds: Annotated[str, Form()] = ""):
    try:
        run_id = _submit(engine, user, panel_date=panel_date.strip() or council_today().isoformat(),
                         time_limit_seconds=time_limit_seconds.strip(), placing_authority=user.council_code)
    except (ValidationError, ApiError) as exc:
        return back_to("/panel", problem=f"The run was not started: {_problem(exc)}")
    return back_to(f"/panel/runs/{run_id}", done=f"Match run {run_id} started")


# --- a run ---------------------------------------------------------------------------------------


@router.get("/panel/runs/{run_id}")
def run_page(request: Request, run_id: RecordId, session: SessionDep, user: Reader,
             show: Annotated[str, Query(max_length=20)] = "all",
             page: Annotated[int, Query(ge=1, le=100_000)] = 1,
             at: Annotated[str, Query(max_length=40)] = ""):
    run = _run_or_none(session, run_id)
    if run is None:
        return _not_found(request, user, f"match run {run_id}")
    context = {"run": run, "run_status": RUN_STATUS, "can_decide": user.role in PANEL, "proof": _proof(run),
               "progress": {k: v for k, v in (run.progress or {}).items() if k != jobs.UNPLACED_KEY},
               "given": _carried_rows(panel_memory.given_to(session, run)),
               "lifted_before": panel_memory.lifted_before(run)}
    if run.status == MatchRunStatus.succeeded:
        context |= _proposals_context(session, run, _show(show), page, at.strip())
    return render(request, "panel_run.html", user, **context)


# The run page's worklist filters: (words, which rows). "all" is the default.
FILTERS = {
    "all": "Everyone",
    "undecided": "Not yet decided",
    "approval": "Needs approval",
    "out_of_area": "Out of area",
    "over_20": "Over 20 miles",
    "unplaced": "Without a proposal",
}


WORKLIST_PAGE = 25  # young people to a page of the worklist: a region's run lists thousands


def _show(value: str) -> str:
    return value if value in FILTERS else "all"


def _worklist_page(rows: list[dict], number: int, at: str) -> tuple[list[dict], int, int]:
    """(the rows shown, the page's number, the number of pages): the page holding the young
    person ``at`` (the one the panel has just decided on) if given, else page ``number``."""
    pages = max(1, -(-len(rows) // WORKLIST_PAGE))
    where = next((i for i, row in enumerate(rows) if row["id"] == at), None) if at else None
    number = where // WORKLIST_PAGE + 1 if where is not None else min(number, pages)
    return rows[(number - 1) * WORKLIST_PAGE:number * WORKLIST_PAGE], number, pages


def _in_filter(row: dict, show: str) -> bool:
    p = row["p"]
    return {
        "all": True,
        "undecided": not row["decided"],
        "approval": p is not None and bool(p.approvals_required),
        "out_of_area": p is not None and p.out_of_area,
        "over_20": p is not None and p.miles_from_home > 20,
        "unplaced": p is None,
    }[show]


def _proposals_context(session, run: MatchRun, show: str, page: int = 1, at: str = "") -> dict:
    proposals = sorted((p for p in run.proposals if p.rank == 0), key=lambda p: p.referral_id)
    vacancies = _places(session, proposals)
    unplaced = (run.progress or {}).get(jobs.UNPLACED_KEY)
    unplaced_by_id = {u["referral_id"]: u for u in unplaced or []}
    referrals = {r.id: r for r in session.scalars(select(Referral).where(
        Referral.id.in_({p.referral_id for p in proposals} | set(unplaced_by_id))))}
    decisions = _decisions_by_referral(session, run.id)
    rows = [{"id": p.referral_id, "p": p, "r": referrals[p.referral_id], "v": vacancies.get(p.vacancy_id),
             "area": _area_tag(p.out_of_area, p.at_a_distance),
             "approvals": _approval_tags(p.approvals_required),
             "decided": _decision_tags(p, decisions.get(p.referral_id, []))} for p in proposals]
    rows += [{"id": rid, "p": None, "r": referrals.get(rid), "v": None, "u": u, "approvals": [],
              "decided": [t for d in decisions.get(rid, []) for t in _unplaced_decision_tags(d)]}
             for rid, u in sorted(unplaced_by_id.items())]
    rows.sort(key=lambda row: row["id"])
    counts = {name: sum(_in_filter(row, name) for row in rows) for name in FILTERS}
    memory = panel_memory.panel_memory(session, run)
    shown, number, pages = _worklist_page([row for row in rows if _in_filter(row, show)], page, at)

    def page_link(n: int) -> str:
        return f"/panel/runs/{run.id}?show={show}&page={n}#worklist"

    return {
        "rows": shown, "counts": counts, "filters": FILTERS, "listed": counts[show], "page_size": WORKLIST_PAGE,
        "page": {"number": number, "pages": pages, "first": (number - 1) * WORKLIST_PAGE + 1,
                 "last": (number - 1) * WORKLIST_PAGE + len(shown),
                 "previous": page_link(number - 1) if number > 1 else None,
                 "next": page_link(number + 1) if number < pages else None},
        "show": show, "placed": len(proposals), "unplaced_known": unplaced is not None,
        "headline": _headline(proposals), "practice": (run.progress or {}).get(jobs.PRACTICE_KEY),
        "kept": _carried_rows(memory.kept), "decision_words": DECISION_WORDS,
        "decisions": [d for ds in decisions.values() for d in ds],
        "map_svg": _map(session, run, proposals, vacancies, referrals, f"Map of match run {run.id}'s proposals"),
    }


def _unplaced_decision_tags(d: Decision) -> list[tuple[str, str]]:
    if d.kind == DecisionKind.override:
        return [(f"Panel's own choice: {d.vacancy_id}", "purple")]
    return [(DECISION_WORDS[d.kind], "grey")] if d.kind in (DecisionKind.lock, DecisionKind.ban) else []


def _headline(proposals: list[ProposedMatch]) -> dict:
    """The run's headline counts, as the page's summary shows them."""
    return {
        "needing_approval": sum(bool(p.approvals_required) for p in proposals),
        "out_of_area": sum(p.out_of_area for p in proposals),
        "over_20_miles": sum(p.miles_from_home > 20 for p in proposals),
        "weekly_cost": sum(p.weekly_cost for p in proposals),
        "total_miles": sum(p.miles_from_home for p in proposals),
    }


def _proof(run: MatchRun) -> str:
    """How sure the engine is of the run's proposal, in words."""
    if run.solver_status is None:
        return ""
    words_ = glossary.words(run.solver_status, glossary.PROOF)
    if run.solver_status == "FEASIBLE" and run.gap:
        words_ += f" (at most {run.gap * 100:.1f}% short of it)"
    return words_


def _open_vacancies(session, near: Referral | None = None) -> dict:
    """The vacancies with a free bed a panel can choose from: the CHOICES nearest to ``near``'s
    home (else the first CHOICES by id), and how many there are in all. A region lists tens of
    thousands: a page must not carry them all, so any other is chosen by typing its id."""
    stmt = select(Vacancy).join(Vacancy.property).where(Vacancy.beds > 0).options(_WITH_HOME)
    if near is not None:
        de, dn = Property.easting - near.home_easting, Property.northing - near.home_northing
        stmt = stmt.order_by(de * de + dn * dn, Vacancy.id)
    else:
        stmt = stmt.order_by(Vacancy.id)
    total = session.scalar(select(func.count()).select_from(Vacancy).where(Vacancy.beds > 0))
    return {"listed": list(session.scalars(stmt.limit(CHOICES))), "total": total or 0}


@router.post("/panel/runs/{run_id}/cancel")
def cancel_run(run_id: RecordId, session: SessionDep, engine: EngineDep, user: Panel):
    if _run_or_none(session, run_id) is None:
        return back_to("/panel", problem=f"match run {run_id} not found")
    try:
        jobs.cancel(engine, run_id, user)
    except jobs.JobFinished as finished:
        return back_to(f"/panel/runs/{run_id}", problem=f"Match run {run_id} has already finished "
                                                        f"({finished.status.value}): it cannot be cancelled")
    return back_to(f"/panel/runs/{run_id}", done=f"Match run {run_id} cancelled")


@router.post("/panel/runs/{run_id}/rerun")
def rerun(run_id: RecordId, session: SessionDep, engine: EngineDep, user: Panel,
          panel_date: Annotated[str, Form()] = "", time_limit_seconds: Annotated[str, Form()] = ""):
    """A new run with the panel's locks and bans carried over (``rerun_of``), on the same
    policy and for the same council as the run it follows."""
    run = _run_or_none(session, run_id)
    if run is None:
        return back_to("/panel", problem=f"match run {run_id} not found")
    try:
        new_id = _submit(engine, user, panel_date=panel_date.strip() or run.panel_date.isoformat(),
                         placing_authority=user.council_code,
                         policy=run.policy or {}, time_limit_seconds=time_limit_seconds.strip(), rerun_of=run.id)
    except (ValidationError, ApiError) as exc:
        return back_to(f"/panel/runs/{run_id}", problem=f"The re-run was not started: {_problem(exc)}")
    return back_to(f"/panel/runs/{new_id}", done=f"Match run {new_id} started: a re-run of {run_id} with its "
                                                 "locks, bans and rejections")


@router.post("/panel/runs/{run_id}/lifts")
def lift(run_id: RecordId, session: SessionDep, user: Panel,
         referral_id: Annotated[str, Form(max_length=40)] = "",
         vacancy_id: Annotated[str, Form(max_length=40)] = "",
         reason: Annotated[str, Form()] = ""):
    """Lift a lock, ban or rejection so that the re-run is not given it (the same decision as
    POST /match-runs/{run_id}/lifts)."""
    here = f"/panel/runs/{run_id}"
    try:
        panel_memory.lift(session, user, run_id, referral_id, vacancy_id, _reason(reason))
    except refusals.Refused as exc:
        return back_to(here, problem=str(exc))
    return back_to(here, done=f"Lifted: a re-run will not be given {referral_id} and {vacancy_id}")


# --- one proposal --------------------------------------------------------------------------------


def _proposal_in(session, run: MatchRun, proposal_id: int) -> ProposedMatch | None:
    proposal = session.get(ProposedMatch, proposal_id)
    return proposal if proposal is not None and proposal.match_run_id == run.id else None


def _facts(run: MatchRun, p: ProposedMatch, r: Referral, v: Vacancy) -> panel_decisions.PairFacts:
    return panel_decisions.PairFacts(tier=p.tier, need_tier=r.tier, weekly_cost=p.weekly_cost,
                              starts_on=max(run.panel_date, v.available_from), miles_from_home=p.miles_from_home,
                              miles_from_education=p.miles_from_education, out_of_area=p.out_of_area,
                              at_a_distance=p.at_a_distance)


def _approvals_needed(facts: panel_decisions.PairFacts, r: Referral, prop: Property,
                      broken: list = ()) -> list[tuple[str, str]]:
    """(who approves, why) under the council's policy, as accepting (or overriding, with the
    rules it breaks) would raise them."""
    policy = panel_decisions.council_approval_policy(r.council_code)
    return [(ROLE_NAMES[role], panel_decisions.RULE_WORDS[rule].format(miles=policy.distance_miles))
            for rule, role in panel_decisions.approvals_for(facts, r, prop, policy, broken)]


@router.get("/panel/runs/{run_id}/proposals/{proposal_id}")
def proposal_page(request: Request, run_id: RecordId, proposal_id: RecordId, session: SessionDep, user: Reader,
                  show: Annotated[str, Query(max_length=20)] = "all"):
    return _proposal_view(request, session, user, run_id, proposal_id, _show(show))


def _proposal_view(request: Request, session, user: User, run_id: int, proposal_id: int, show: str,
                   errors: dict[str, str] | None = None, typed: dict[str, str] | None = None):
    """The proposal's case page; drawn again (422) with ``errors`` beside their fields and what
    was ``typed`` kept when a decision form is refused (GOV.UK's error pattern)."""
    run = _run_or_none(session, run_id)
    proposal = _proposal_in(session, run, proposal_id) if run is not None else None
    if proposal is None:
        return _not_found(request, user, f"proposal {proposal_id} of match run {run_id}")
    referral = session.get(Referral, proposal.referral_id)
    options = sorted((p for p in run.proposals if p.referral_id == referral.id), key=lambda p: p.rank)
    vacancies = _places(session, options)
    vacancy = vacancies.get(proposal.vacancy_id)
    decisions = _decisions_by_referral(session, run.id).get(referral.id, [])
    decided = any(d.proposed_match_id == proposal.id and d.kind in (DecisionKind.accept, DecisionKind.reject)
                  for d in decisions)
    others = [p for p in options if p.id != proposal.id]
    alternatives = [{"p": p, "v": vacancies.get(p.vacancy_id), "area": _area_tag(p.out_of_area, p.at_a_distance),
                     "why_not": (p.score or {}).get("why_not", "") if p.rank > 0 else "the engine's proposal"}
                    for p in others]
    listed = {p.vacancy_id for p in others}
    choices = [(p.vacancy_id, vacancies[p.vacancy_id]) for p in others if p.vacancy_id in vacancies]
    open_vacancies = _open_vacancies(session, near=referral)
    choices += [(v.id, v) for v in open_vacancies["listed"] if v.id not in listed and v.id != proposal.vacancy_id]
    shown = {id_ for id_, v in choices if v.beds > 0} | ({vacancy.id} if vacancy is not None and vacancy.beds > 0 else set())
    unlisted = open_vacancies["total"] - len(shown)  # free vacancies a reference must name
    return render(
        request, "panel_proposal.html", user, run=run, p=proposal, r=referral, v=vacancy,
        age=referral.age_on(run.panel_date), urgency=URGENCY[referral.urgency], flags=_flags(referral),
        area=_area_tag(proposal.out_of_area, proposal.at_a_distance), area_name=_area_name,
        weighed=_weighed(proposal, referral) if proposal.rank == 0 else [],
        why=_why_this_home(proposal, referral, vacancy, alternatives) if proposal.rank == 0 else "",
        price=price_benchmarks.standing(price_benchmarks.spreads(session), vacancy.property.service_type, proposal.tier,
                             proposal.weekly_cost) if vacancy is not None else None,
        approvals=_approvals_needed(_facts(run, proposal, referral, vacancy), referral, vacancy.property)
        if vacancy is not None else [],
        alternatives=alternatives, chosen=next((o for o in options if o.rank == 0), None), show=show,
        decisions=decisions, decided=decided, can_ask=run.status == MatchRunStatus.succeeded,
        can_decide=user.role in PANEL and not decided
        and run.status == MatchRunStatus.succeeded, choices=choices, unlisted=unlisted,
        map_svg=_map(session, run, [proposal], vacancies, {referral.id: referral},
                     f"Map of {referral.id}'s home and the proposed placement") if vacancy is not None else None,
        **_trial_context(session, user, run, referral, vacancy, decided),
        errors=errors or {}, typed=typed or {}, status_code=422 if errors else 200,
    )


def _trial_context(session, user: User, run: MatchRun, referral: Referral, vacancy: Vacancy | None,
                   decided: bool) -> dict:
    """The trial-stay section of a proposal's page (api.trial_stays has the rules)."""
    trials = trial_stays.trials_for(session, referral.id)
    panel = user.role in PANEL
    bookable = (panel and not decided and run.status == MatchRunStatus.succeeded and vacancy is not None
                and vacancy.beds > 0 and referral.status == ReferralStatus.open
                and trial_stays.booked_for(session, referral.id) is None)
    return {"trials": trials, "can_book_trial": bookable, "can_cancel_trial": panel,
            "trial_earliest": max(trial_stays.today(), vacancy.available_from) if vacancy is not None
            else trial_stays.today(),
            "trial_within": trial_stays.BOOK_WITHIN_DAYS, "trial_max_nights": trial_stays.MAX_NIGHTS}


def _why_this_home(p: ProposedMatch, r: Referral, v: Vacancy | None, alternatives: list[dict]) -> str:
    """Why the engine chose this home, in the words matches.csv uses (matching.why), with the
    homes' names as they are today."""
    from matching.why import Home, why_this_home

    if v is None:
        return ""
    others = [Home(_home_name(a["v"], a["p"]), a["p"].miles_from_home, a["why_not"]) for a in alternatives]
    return why_this_home(Home(_home_name(v, p), p.miles_from_home), service_type=v.property.service_type,
                         tier=p.tier, assessed_tier=r.tier, out_of_area=p.out_of_area, at_a_distance=p.at_a_distance,
                         la_code=v.property.la_code, miles_from_education=p.miles_from_education, others=others,
                         area_name=_area_name)


def _home_name(v: Vacancy | None, p: ProposedMatch) -> str:
    return (v.property.name or v.property.id) if v is not None else p.vacancy_id


def _weighed(p: ProposedMatch, r: Referral) -> list[str]:
    """What counted against the proposal when the engine weighed it, in words with the facts
    behind each (never the weights): the panel sees what it accepted in choosing this home."""
    facts = {
        "pen_home_miles": f"{p.miles_from_home:.1f} miles from home",
        "pen_education_miles": (f"{p.miles_from_education:.1f} miles from school, college or work"
                                if p.miles_from_education is not None else None),
        "pen_over_provision": f"{say(p.tier, 'TIERS').lower()} support, above the {say(r.tier, 'TIERS').lower()} "
                              "support assessed",
    }
    return [facts.get(term) or say(term, "WEIGHED") for term, value in (p.score or {}).items()
            if term.startswith("pen_") and term != "pen_weekly_cost" and value]


@router.get("/panel/runs/{run_id}/proposals/{proposal_id}/what-if")
def what_if_page(request: Request, run_id: RecordId, proposal_id: RecordId, session: SessionDep, user: Reader,
                 vacancy_id: Annotated[str, Query(max_length=40)] = "",
                 show: Annotated[str, Query(max_length=20)] = "all"):
    """What giving this young person another home would do to everyone in the run: the queue
    re-run with that pair locked (api.counterfactuals, the API's own question)."""
    from api import counterfactuals

    run = _run_or_none(session, run_id)
    proposal = _proposal_in(session, run, proposal_id) if run is not None else None
    if proposal is None:
        return _not_found(request, user, f"proposal {proposal_id} of match run {run_id}")
    vacancy = session.get(Vacancy, vacancy_id.strip())
    back = f"/panel/runs/{run_id}/proposals/{proposal_id}?show={_show(show)}"
    try:
        answer = counterfactuals.what_if_for_run(session, run, proposal.referral_id, vacancy_id.strip())
    except refusals.Refused as exc:
        return back_to(back, problem=f"That question cannot be answered: {exc}")
    cf = answer.counterfactual
    homes = _vacancy_names(session, {v for _, a, b in cf.moved for v in (a, b) if v} | {cf.vacancy_id})
    return render(request, "panel_what_if.html", user, run=run, p=proposal, v=vacancy, cf=cf, back=back,
                  same_as_run=answer.same_as_run, homes=homes,
                  changes=[(measures.BY_NAME[n].words, measures.difference(n, d, 0)) for n, d in cf.change.items() if d])


def _vacancy_names(session, ids: set[str]) -> dict[str, str]:
    return {v.id: f"{v.property.name or v.property.id} ({v.id})"
            for v in session.scalars(select(Vacancy).where(Vacancy.id.in_(ids)).options(_WITH_HOME))}


@router.get("/panel/runs/{run_id}/young-people/{referral_id}")
def unplaced_page(request: Request, run_id: RecordId, session: SessionDep, user: Reader,
                  referral_id: Annotated[str, Path(max_length=40, pattern=ONE_ID)],
                  show: Annotated[str, Query(max_length=20)] = "all"):
    """A young person the run left without a proposal: why, the nearest miss (the one change
    that would place them) and the panel's own choice of a home."""
    run = _run_or_none(session, run_id)
    detail = next((u for u in (run.progress or {}).get(jobs.UNPLACED_KEY, []) if u["referral_id"] == referral_id),
                  None) if run is not None else None
    referral = session.get(Referral, referral_id) if detail is not None else None
    if referral is None:
        return _not_found(request, user, f"young person {referral_id} without a proposal in match run {run_id}")
    excluded = sorted(((say(code, "RULES") if not code.startswith("side:") else say(code[5:], "SIDE_RULES"),
                        int(count)) for code, _, count in
                       (part.partition("=") for part in (detail.get("excluded_by") or "").split(";"))
                       if code and not code.startswith("declined:")),  # providers' reasons: providers_asked
                      key=lambda e: -e[1])
    decisions = _decisions_by_referral(session, run.id).get(referral.id, [])
    return render(request, "panel_unplaced.html", user, run=run, r=referral, u=detail, excluded=excluded,
                  age=referral.age_on(run.panel_date), urgency=URGENCY[referral.urgency], flags=_flags(referral),
                  area_name=_area_name, decisions=decisions, show=_show(show),
                  taken_by=[t for t in (detail.get("taken_by") or "").split(";") if t],
                  can_decide=user.role in PANEL and run.status == MatchRunStatus.succeeded
                  and referral.status == ReferralStatus.open,
                  open_vacancies=_open_vacancies(session, near=referral))


def _reason(text: str) -> str:
    reason = text.strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise refusals.Invalid(f"Give the panel's reason (between {REASON_MIN} and {REASON_MAX} characters): "
                               "nothing was recorded")
    return reason


def _approvers(placed: panel_decisions.Placed) -> str:
    if not placed.requests:
        return f"placement {placed.placement.id} is active; it needs no approval"
    who = ", ".join(dict.fromkeys(ROLE_NAMES[r.role] for r in placed.requests))
    return f"placement {placed.placement.id} {placed.placement.status.value.replace('_', ' ')}; " \
           f"it needs approval from: {who}"


@router.post("/panel/runs/{run_id}/proposals/{proposal_id}/{action}")
def decide(request: Request, run_id: RecordId, proposal_id: RecordId, action: str, session: SessionDep,
           user: Panel, reason: Annotated[str, Form()] = "", show: Annotated[str, Form(max_length=20)] = "all"):
    """Accept, reject, lock or ban one proposal; back to the run, at the young person's row in
    the worklist the panel came from, with what happened. A missing reason draws the case
    again with the message beside that form's reason and the rest kept."""
    here = f"/panel/runs/{run_id}/proposals/{proposal_id}?show={_show(show)}"
    if action in ("accept", "reject", "lock", "ban") and not REASON_MIN <= len(reason.strip()) <= REASON_MAX:
        message = (f"Give the panel's reason for {DECISION_VERBS[action]} (between {REASON_MIN} and "
                   f"{REASON_MAX:,} characters)")
        return _proposal_view(request, session, user, run_id, proposal_id, _show(show),
                              errors={f"{action}-reason": message}, typed={f"{action}-reason": reason})
    try:
        text = _reason(reason)
        if action == "accept":
            placed = panel_decisions.accept_proposal(session, user, run_id, proposal_id, text,
                                              panel_decisions.approvals_of(user))
            done = f"Accepted: {_approvers(placed)}"
        elif action == "reject":
            decision = panel_decisions.reject_proposal(session, user, run_id, proposal_id, text)
            done = (f"Rejected: {decision.referral_id} stays in the queue, and a re-run will not propose "
                    f"{decision.vacancy_id} for them unless the panel lifts it")
        elif action in ("lock", "ban"):
            run = run_records.get_run(session, run_id)
            proposal = _proposal_in(session, run, proposal_id)
            if proposal is None:
                raise refusals.NotFound(f"proposal {proposal_id} not found in match run {run_id}")
            kind = DecisionKind(action)
            panel_memory.record_lock_or_ban(session, user, run_id, kind, proposal.referral_id, proposal.vacancy_id, text)
            done = (f"{'Locked' if kind == DecisionKind.lock else 'Banned'}: {proposal.referral_id} "
                    f"{'to' if kind == DecisionKind.lock else 'from'} {proposal.vacancy_id} for the re-run")
        else:
            return back_to(here, problem=f"Unknown decision: {action}")
    except refusals.Refused as exc:
        return back_to(here, problem=str(exc))
    row = session.scalar(select(ProposedMatch.referral_id).where(ProposedMatch.id == proposal_id))
    return back_to(f"/panel/runs/{run_id}?show={_show(show)}&at={row}#young-person-{row}", done=done)


# --- the panel's own choice ----------------------------------------------------------------------


@router.get("/panel/runs/{run_id}/override")
def override_check(request: Request, run_id: RecordId, session: SessionDep, user: Panel,
                   referral_id: Annotated[str, Query(max_length=40)] = "",
                   vacancy_id: Annotated[str, Query(max_length=40)] = ""):
    """The choice scored and checked by the engine's analysis before anything is written."""
    return _override_view(request, session, user, run_id, referral_id, vacancy_id)


def _override_view(request: Request, session, user: User, run_id: int, referral_id: str, vacancy_id: str,
                   errors: dict[str, str] | None = None, typed: dict[str, str] | None = None):
    run = _run_or_none(session, run_id)
    if run is None:
        return _not_found(request, user, f"match run {run_id}")
    referral_id, vacancy_id = referral_id.strip(), vacancy_id.strip()  # a reference may be typed
    referral, vacancy = session.get(Referral, referral_id), session.get(Vacancy, vacancy_id)
    if run.status != MatchRunStatus.succeeded or referral is None or vacancy is None:
        why = (f"match run {run_id} is {run.status.value}" if run.status != MatchRunStatus.succeeded
               else f"no young person {referral_id or '(none chosen)'}" if referral is None
               else f"no vacancy {vacancy_id or '(none chosen)'}")
        return back_to(f"/panel/runs/{run_id}", problem=f"Cannot check that choice: {why}")
    facts, broken = panel_decisions.analyze_choice(session, run, referral, vacancy)
    proposed = next((p for p in run.proposals if p.referral_id == referral.id and p.rank == 0), None)
    option = next((p for p in run.proposals if p.referral_id == referral.id and p.vacancy_id == vacancy.id), None)
    proposed_vacancy = session.get(Vacancy, proposed.vacancy_id) if proposed else None
    prop = vacancy.property
    return render(
        request, "panel_override.html", user, run=run, r=referral, v=vacancy, facts=facts, broken=broken,
        proposed=proposed, proposed_vacancy=proposed_vacancy,
        proposed_starts_on=max(run.panel_date, proposed_vacancy.available_from) if proposed_vacancy else None,
        option=option, area=_area_tag(facts.out_of_area, facts.at_a_distance) if facts else None,
        proposed_area=_area_tag(proposed.out_of_area, proposed.at_a_distance) if proposed else None,
        approvals=_approvals_needed(facts, referral, prop, broken) if facts else [], area_name=_area_name,
        referral_open=referral.status == ReferralStatus.open,
        starts_on=_day(facts.starts_on) if facts else None,  # a date or a pandas Timestamp
        errors=errors or {}, typed=typed or {}, status_code=422 if errors else 200,
    )


def _day(value) -> dt.date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


@router.post("/panel/runs/{run_id}/override")
def override_confirm(request: Request, run_id: RecordId, session: SessionDep, user: Panel,
                     referral_id: Annotated[str, Form(max_length=40)] = "",
                     vacancy_id: Annotated[str, Form(max_length=40)] = "",
                     reason: Annotated[str, Form()] = ""):
    """Place the young person in the panel's choice. The rules it breaks were shown on the
    check page, so confirming here is the panel's ``confirm``; they are kept in the decision."""
    if not REASON_MIN <= len(reason.strip()) <= REASON_MAX:
        return _override_view(request, session, user, run_id, referral_id, vacancy_id, typed={"override-reason": reason},
                              errors={"override-reason": f"Give the panel's reason for choosing this home (between "
                                                         f"{REASON_MIN} and {REASON_MAX:,} characters)"})
    try:
        placed = panel_decisions.override(session, user, run_id, referral_id, vacancy_id, _reason(reason), True,
                                   panel_decisions.approvals_of(user))
    except refusals.Refused as exc:  # back to the check page, the choice still chosen
        query = urlencode({"referral_id": referral_id, "vacancy_id": vacancy_id})
        return back_to(f"/panel/runs/{run_id}/override?{query}", problem=str(exc))
    broke = (f"; {len(placed.broken_rules)} rule(s) knowingly broken, kept with the decision"
             if placed.broken_rules else "")
    return back_to(f"/panel/runs/{run_id}",
                   done=f"Overridden: {referral_id} placed in {vacancy_id}{broke}; {_approvers(placed)}")

