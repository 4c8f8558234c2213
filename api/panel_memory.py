"""The panel's memory: the locks, bans and rejections a re-run is given, and the panel's
decisions that change it (lock, ban, lift).

What a re-run keeps from the run it re-runs: every lock and ban that run was given (its own
memory, so a re-run of a re-run still holds the first run's decisions), then the panel's
decisions on it in the order made: a lock, a ban, or a rejection (the rejected pair is banned,
so the same proposal does not come back) replaces what was held for that pair, and a lift
takes it away. Each item keeps who set it, on which run, when and why.

Like every decision, each function here only adds to the session and flushes; the caller's one
transaction commits everything or nothing. Every decision writes an audit event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.refusals import Conflict
from api.run_records import decision_snapshot, get_run, named
from models import glossary
from models.accounts import User, record
from models.base import utcnow
from models.enums import DecisionKind, ReferralStatus
from models.panel import Decision, MatchRun
from models.people import Referral
from models.supply import Vacancy

CARRIED_KINDS = (DecisionKind.lock, DecisionKind.ban, DecisionKind.reject)
MEMORY_KINDS = (*CARRIED_KINDS, DecisionKind.lift)


@dataclass(frozen=True)
class Carried:
    """One pair in the panel's memory: locked, banned or rejected (a rejection is a ban in every
    later run until lifted), or (``kind`` lift, with ``lifted``) a lift the panel made.

    ``decision_id`` is None for a lock or ban given in a run's request, set by whoever
    submitted the run; ``set_by`` and ``set_by_role`` are the person's name and role then."""

    kind: DecisionKind
    referral_id: str
    vacancy_id: str
    run_id: int | None
    decision_id: int | None
    set_by_id: int | None
    set_by: str | None
    set_by_role: str | None
    set_at: str | None  # ISO date-time
    reason: str | None
    lifted: Carried | None = None

    @property
    def pair(self) -> tuple[str, str]:
        return (self.referral_id, self.vacancy_id)

    @property
    def is_lock(self) -> bool:
        return self.kind == DecisionKind.lock

    def as_record(self) -> dict:
        record_ = {name: getattr(self, name) for name in (
            "referral_id", "vacancy_id", "run_id", "decision_id", "set_by_id", "set_by", "set_by_role", "set_at",
            "reason")}
        record_["kind"] = self.kind.value
        if self.lifted is not None:
            record_["lifted"] = self.lifted.as_record()
        return record_

    @classmethod
    def from_record(cls, found: dict) -> Carried:
        fields_ = {k: v for k, v in found.items() if k not in ("kind", "lifted")}
        lifted = cls.from_record(found["lifted"]) if found.get("lifted") else None
        return cls(kind=DecisionKind(found["kind"]), lifted=lifted, **fields_)

    def words(self) -> str:
        """The item as the panel reads it: what, who, on which run and when, and why."""
        if self.kind == DecisionKind.lift:
            had = f" It had been: {self.lifted.words()}" if self.lifted is not None else ""
            return (f"{self.referral_id} and {self.vacancy_id} lifted by {self.who()} on {self.when()}. "
                    f"{self.why()}{had}")
        what = {DecisionKind.lock: f"{self.referral_id} locked to {self.vacancy_id}",
                DecisionKind.ban: f"{self.referral_id} banned from {self.vacancy_id}",
                DecisionKind.reject: f"{self.referral_id}'s proposal of {self.vacancy_id} rejected"}[self.kind]
        if self.decision_id is None:
            return f"{what} in the request for {self.when()} by {self.who()}. {self.why()}"
        kept = ", so it is kept out of later runs" if self.kind == DecisionKind.reject else ""
        return f"{what} by {self.who()} on {self.when()}{kept}. {self.why()}"

    def who(self) -> str:
        if self.set_by is None:
            return "someone not recorded"
        return f"{self.set_by} ({self.set_by_role})" if self.set_by_role else self.set_by

    def when(self) -> str:
        run = f"match run {self.run_id}" if self.run_id is not None else "this run"
        if not self.set_at:
            return run
        day = dt.datetime.fromisoformat(self.set_at)
        return f"{run} ({day.day} {day:%B %Y})"

    def why(self) -> str:
        if not self.reason or not self.reason.strip():
            return "No reason was given."
        reason = self.reason.strip()
        return f"Reason: {reason}" + ("" if reason[-1] in ".!?" else ".")


@dataclass
class Memory:
    """What a run hands on to its re-run: the items kept (locks, bans, rejections) and the
    items the panel lifted on it."""

    kept: list[Carried]
    lifted: list[Carried]

    @property
    def locks(self) -> list[tuple[str, str]]:
        return [c.pair for c in self.kept if c.is_lock]

    @property
    def bans(self) -> list[tuple[str, str]]:
        return [c.pair for c in self.kept if not c.is_lock]

    def holding(self, pair: tuple[str, str]) -> Carried | None:
        return next((c for c in self.kept if c.pair == pair), None)

    def locked_elsewhere(self, referral_id: str, vacancy_id: str) -> Carried | None:
        return next((c for c in self.kept if c.is_lock and c.referral_id == referral_id
                     and c.vacancy_id != vacancy_id), None)


def _person(session: Session, user_id: int | None) -> tuple[str | None, str | None]:
    user = session.get(User, user_id) if user_id is not None else None
    return (user.full_name, glossary.words(user.role, glossary.ROLES)) if user else (None, None)


def _iso_moment(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def carried_from_decision(session: Session, decision: Decision, lifted: Carried | None = None) -> Carried:
    name, role = _person(session, decision.decided_by_id)
    return Carried(kind=decision.kind, referral_id=decision.referral_id, vacancy_id=decision.vacancy_id,
                   run_id=decision.match_run_id, decision_id=decision.id, set_by_id=decision.decided_by_id,
                   set_by=name, set_by_role=role, set_at=_iso_moment(decision.created_at), reason=decision.reason,
                   lifted=lifted)


def given_to(session: Session, run: MatchRun) -> list[Carried]:
    """The locks and bans a run was given, each with who set it and why.

    A run records them in ``carried``; a run recorded without it (by the CLI, or before the
    service remembered) had them in its request: set by whoever submitted it, no reason."""
    recorded = [Carried.from_record(c) for c in run.carried or [] if c.get("kind") != DecisionKind.lift.value]
    known = {c.pair for c in recorded}
    name, role = _person(session, run.created_by_id)
    for kind, codes in ((DecisionKind.lock, run.locks), (DecisionKind.ban, run.bans)):
        for referral_id, vacancy_id in (tuple(code.split(":", 1)) for code in codes or []):
            if (referral_id, vacancy_id) not in known:
                known.add((referral_id, vacancy_id))
                recorded.append(Carried(kind=kind, referral_id=referral_id, vacancy_id=vacancy_id, run_id=run.id,
                                        decision_id=None, set_by_id=run.created_by_id, set_by=name,
                                        set_by_role=role, set_at=_iso_moment(run.created_at), reason=None))
    return recorded


def lifted_before(run: MatchRun) -> list[Carried]:
    """The lifts the panel made on the run this one re-ran (kept with the run for its record)."""
    return [Carried.from_record(c) for c in run.carried or [] if c.get("kind") == DecisionKind.lift.value]


def panel_memory(session: Session, run: MatchRun) -> Memory:
    """What a re-run of ``run`` keeps: its given locks and bans, then the panel's decisions on
    it in order (each replaces what was held for its pair; a lift removes it).

    A lock is kept only while its young person still waits for a placement: once placed (the
    lock honoured and accepted, or the panel chose another home) it has done its work, and
    carried on it would stop every later run, the young person being no longer in the queue."""
    held: dict[tuple[str, str], Carried] = {c.pair: c for c in given_to(session, run)}
    lifted: list[Carried] = []
    for decision in session.scalars(select(Decision).where(
            Decision.match_run_id == run.id, Decision.kind.in_(MEMORY_KINDS)).order_by(Decision.id)):
        pair = (decision.referral_id, decision.vacancy_id)
        if decision.kind == DecisionKind.lift:
            was = held.pop(pair, None)
            lifted.append(carried_from_decision(session, decision, lifted=was))
        else:
            held.pop(pair, None)  # re-inserted last: the order decided
            held[pair] = carried_from_decision(session, decision)
    waiting = set(session.scalars(select(Referral.id).where(
        Referral.id.in_(sorted({c.referral_id for c in held.values() if c.is_lock})),
        Referral.status == ReferralStatus.open)))
    kept = [c for c in held.values() if not c.is_lock or c.referral_id in waiting]
    return Memory(kept=kept, lifted=lifted)


def next_run_locks_and_bans(session: Session, run_id: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (referral_id, vacancy_id) pairs a re-run of the run is given as its locks and bans
    (rejected pairs among the bans), in the order decided."""
    memory = panel_memory(session, get_run(session, run_id))
    return memory.locks, memory.bans


def record_lock_or_ban(session: Session, user: User, run_id: int, kind: DecisionKind, referral_id: str,
                       vacancy_id: str, reason: str) -> Decision:
    """The panel fixes a pair for the next run (lock) or rules it out (ban)."""
    if kind not in (DecisionKind.lock, DecisionKind.ban):
        raise ValueError(f"not a lock or a ban: {kind}")
    run = get_run(session, run_id)
    named(session, Referral, referral_id, "body.referral_id", "referral")
    named(session, Vacancy, vacancy_id, "body.vacancy_id", "vacancy")
    memory = panel_memory(session, run)
    _refuse_contradiction(f"for the run after match run {run.id}", kind, (referral_id, vacancy_id), memory)
    decision = Decision(match_run_id=run.id, referral_id=referral_id, vacancy_id=vacancy_id, kind=kind,
                        reason=reason, decided_by_id=user.id)
    session.add(decision)
    session.flush()
    locks, bans = len(memory.locks), len(memory.bans)
    record(session, f"decision_{kind.value}", "decision", decision.id, actor=user,
           before={"run_locks": locks, "run_bans": bans},
           after={**decision_snapshot(decision), "run_locks": locks + (kind == DecisionKind.lock),
                  "run_bans": bans + (kind == DecisionKind.ban)})
    return decision


def _refuse_contradiction(where: str, kind: DecisionKind, pair: tuple[str, str], memory: Memory) -> None:
    """A pair is locked or banned once, never both; a young person is locked to one vacancy
    (the next run could not honour two locks for one person). What an earlier run carries must
    be lifted first, so that the panel changing its mind is itself a decision with a reason."""
    referral_id, vacancy_id = pair
    held = memory.holding(pair)
    clash = None
    if held is not None:
        state = {DecisionKind.lock: "locked", DecisionKind.ban: "banned", DecisionKind.reject: "rejected"}[held.kind]
        clash = held, f"{referral_id} -> {vacancy_id} is already {state} {where}"
    elif kind == DecisionKind.lock and (elsewhere := memory.locked_elsewhere(referral_id, vacancy_id)):
        clash = elsewhere, f"{referral_id} is already locked to vacancy {elsewhere.vacancy_id} {where}"
    if clash is not None:
        item, message = clash
        then = (f"lift it on match run {item.run_id} first" if item.run_id is not None
                else "this request asks for both")
        raise Conflict(f"{message} ({item.words()}): {then}", code="already_held")


def lift(session: Session, user: User, run_id: int, referral_id: str, vacancy_id: str, reason: str) -> Decision:
    """The panel takes back a lock, ban or rejection before re-running ``run_id``: the re-run
    will not be given it. The lift is a decision with its reason, and audited with what it lifted."""
    run = get_run(session, run_id)
    held = panel_memory(session, run).holding((referral_id, vacancy_id))
    if held is None:
        raise Conflict(f"nothing to lift: {referral_id} -> {vacancy_id} is not locked, banned or rejected for "
                       f"the run after match run {run.id}", code="nothing_to_lift")
    decision = Decision(match_run_id=run.id, referral_id=referral_id, vacancy_id=vacancy_id,
                        kind=DecisionKind.lift, reason=reason, decided_by_id=user.id)
    session.add(decision)
    session.flush()
    record(session, "decision_lift", "decision", decision.id, actor=user,
           before={"held": held.as_record()}, after=decision_snapshot(decision))
    return decision


def memory_for_new_run(session: Session, user: User, rerun_of: int | None,
                       locks: list[tuple[str, str, str | None]], bans: list[tuple[str, str, str | None]]) -> Memory:
    """What a new run is given: the panel's memory of ``rerun_of`` (if any) and the locks and
    bans of the request, each ``(referral_id, vacancy_id, reason)``, set by ``user``.

    A request that contradicts what is carried (locking a banned or rejected pair, banning a
    locked one, a second lock for one young person) is refused: the panel lifts it first."""
    memory = panel_memory(session, get_run(session, rerun_of)) if rerun_of is not None else Memory([], [])
    name, role = _person(session, user.id)
    now = utcnow().isoformat()
    for kind, given in ((DecisionKind.lock, locks), (DecisionKind.ban, bans)):
        for referral_id, vacancy_id, reason in given:
            pair = (referral_id, vacancy_id)
            held = memory.holding(pair)
            if held is not None and held.is_lock == (kind == DecisionKind.lock):
                continue  # asked again: the earlier decision, with its reason, stands
            _refuse_contradiction("for this run", kind, pair, memory)
            memory.kept.append(Carried(kind=kind, referral_id=referral_id, vacancy_id=vacancy_id, run_id=None,
                                       decision_id=None, set_by_id=user.id, set_by=name, set_by_role=role,
                                       set_at=now, reason=reason))
    return memory


def remember(session: Session, user: User, run_id: int, rerun_of: int | None, memory: Memory) -> None:
    """Write on the new run what it was given and by whom (the request's own items get its id),
    and audit it: the run's record then answers "who set this, and why" for every lock and ban."""
    if rerun_of is None and not memory.kept:
        return  # a fresh run with no locks or bans: nothing to remember
    run = get_run(session, run_id)
    kept = [c if c.run_id is not None else replace(c, run_id=run.id) for c in memory.kept]
    run.rerun_of_id = rerun_of
    run.carried = [c.as_record() for c in kept] + [c.as_record() for c in memory.lifted]
    session.flush()
    record(session, "match_run_memory", "match_run", run.id, actor=user, after={
        "rerun_of": rerun_of,
        "carried": [{"kind": c.kind.value, "pair": f"{c.referral_id}:{c.vacancy_id}", "run_id": c.run_id,
                     "decision_id": c.decision_id} for c in kept],
        "lifted": [{"pair": f"{c.referral_id}:{c.vacancy_id}", "decision_id": c.decision_id}
                   for c in memory.lifted],
    })
