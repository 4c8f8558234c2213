"""What giving a young person another home would do, for a recorded match run: the run's queue
rebuilt from the database and re-run with that pair locked (:func:`matching.counterfactual.what_if`).

The run keeps its inputs (panel date, council, policy, locks, bans) and who it matched (its
proposals, and the young people it left unplaced), so the queue is rebuilt from those: the same
young people, against the vacancies and residents as they are now. The queue is solved once
as the run was (to compare with) and once with the pair locked; both with the run's own policy
and deterministic limits, so the answer is the same each time. Where the vacancies have changed
since the run (a bed taken by an accepted placement), the rebuilt proposal may differ from the
run's own: ``same_as_run`` says so.

Nothing here writes to the database or to a log: the ids asked about stay in the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import jobs
from api.refusals import Conflict, NotFound
from api.run_records import placing_authority_of
from api.run_records import policy_of as _policy_of
from matching.counterfactual import Counterfactual, what_if
from matching.engine import FULL_MODEL_PAIRS, MatchError, match
from matching.instance import from_database
from models.enums import MatchRunStatus, ReferralStatus
from models.panel import MatchRun, ProposedMatch
from models.people import Referral
from models.supply import Vacancy

# A question answered while the caller waits: queues up to the size the engine solves whole
# (measured: about a second each solve at panel size); larger ones through the CLI's --why-not.
MAX_PAIRS = FULL_MODEL_PAIRS


@dataclass
class Answer:
    counterfactual: Counterfactual
    same_as_run: bool  # the rebuilt queue's proposal is the run's own


def queue_of(session: Session, run: MatchRun) -> list[str]:
    """The young people the run matched: its proposals and those it left unplaced (a run the
    CLI recorded keeps no unplaced list: the queue still open stands in for them)."""
    proposed = session.scalars(select(ProposedMatch.referral_id).where(
        ProposedMatch.match_run_id == run.id, ProposedMatch.rank == 0)).all()
    progress = run.progress or {}
    if jobs.UNPLACED_KEY in progress:
        unplaced = [row["referral_id"] for row in progress[jobs.UNPLACED_KEY]]
    else:
        unplaced = session.scalars(select(Referral.id).where(Referral.status == ReferralStatus.open)).all()
    return sorted(set(proposed) | set(unplaced))


def what_if_for_run(session: Session, run: MatchRun, referral_id: str, vacancy_id: str) -> Answer:
    if run.status != MatchRunStatus.succeeded:
        raise Conflict(f"match run {run.id} is {run.status.value}: a what-if is asked of a run that has succeeded")
    queue = queue_of(session, run)
    if referral_id not in queue:
        raise NotFound(f"young person {referral_id} is not in match run {run.id}'s queue")
    vacancy = session.get(Vacancy, vacancy_id)
    if vacancy is None:
        raise NotFound(f"vacancy {vacancy_id} not found")
    if vacancy.beds < 1:
        raise Conflict(f"vacancy {vacancy_id} has no free bed now")
    policy = _policy_of(run)
    instance = from_database(session, placing_authority_of(session, run), run.panel_date, referral_ids=queue,
                             locks=jobs.pairs_of(run.locks), bans=jobs.pairs_of(run.bans))
    from matching.eligibility import eligible_pairs

    eligibility = eligible_pairs(instance, policy)
    if len(eligibility.pairs) > MAX_PAIRS:
        raise Conflict(f"match run {run.id}'s queue has {len(eligibility.pairs):,} eligible pairs, more than "
                       f"{MAX_PAIRS:,}: too large to answer while you wait (use placematch match --why-not)")
    try:
        before = match(instance, policy, eligibility=eligibility)
    except MatchError as exc:
        raise Conflict(f"match run {run.id}'s queue cannot be matched again as it stands now: {exc}") from None
    recorded = {(r, v) for r, v in session.execute(select(ProposedMatch.referral_id, ProposedMatch.vacancy_id).where(
        ProposedMatch.match_run_id == run.id, ProposedMatch.rank == 0))}
    now = set(zip(before.matches["referral_id"].astype(str), before.matches["vacancy_id"].astype(str), strict=True))
    return Answer(what_if(instance, policy, before, referral_id, vacancy_id), same_as_run=recorded == now)
