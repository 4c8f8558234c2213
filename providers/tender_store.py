"""Tenders evaluated in the service: the uploaded files kept whole (models.supply.TenderEvaluation),
read and checked before anything is saved, evaluated again from exactly those files whenever the
ranking is shown, and awarded from them.

Separation of duties: the award is a decision on public money, so it is made by a senior
manager (a head of service or the director) and never by the person who uploaded the bids.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from models.accounts import User, record
from models.base import utcnow
from models.enums import Role
from models.supply import Framework, TenderEvaluation
from providers.limits import MAX_YAML_CHARS
from providers.tender_award import AwardRefused, award
from providers.tender_evaluation import Evaluation, evaluate
from providers.tender_files import Tender, TenderFilesRefused, parse_spec, read_parts

AWARDERS = (Role.head_of_service, Role.director)
PARTS = ("bids", "scores", "moderation")


def _sha(text: str, files: dict[str, tuple[str, bytes] | None]) -> str:
    digest = hashlib.sha256(text.encode())
    for part in PARTS:
        if files.get(part):
            digest.update(b"\0" + part.encode() + b"\0" + files[part][1])
    return digest.hexdigest()


def save_upload(session: Session, tender: tuple[str, str], files: dict[str, tuple[str, bytes] | None],
                user: User) -> TenderEvaluation:
    """Check an uploaded tender (``tender``: (file name, its text); ``files``: part -> (file
    name, bytes), moderation optional) and keep it. ``TenderFilesRefused`` lists every problem;
    nothing is saved then."""
    name, text = tender
    if len(text) > MAX_YAML_CHARS:
        from providers.safe_yaml import Problem

        raise TenderFilesRefused([Problem(name, None, "", f"the file is {len(text):,} characters; the limit is "
                                                          f"{MAX_YAML_CHARS:,}")])
    spec = parse_spec(text, name)
    given = {k: v for k, v in files.items() if v}
    read_parts(spec, {k: given[k][1] if k in given else None for k in PARTS},
               {k: given[k][0] for k in given})  # refused here, whole, if any file is wrong
    row = TenderEvaluation(name=spec.name, tender_file=name[:200], tender_text=text, bids_file=given["bids"][0][:200],
                           bids_data=given["bids"][1], scores_file=given["scores"][0][:200],
                           scores_data=given["scores"][1],
                           moderation_file=given["moderation"][0][:200] if "moderation" in given else None,
                           moderation_data=given["moderation"][1] if "moderation" in given else None,
                           sha256=_sha(text, given), created_by_id=user.id)
    session.add(row)
    session.flush()
    record(session, "tender_evaluated", "tender_evaluation", row.id, actor=user,
           after={"name": row.name, "files": {k: given[k][0] for k in given}, "sha256": row.sha256})
    return row


def tender_of(row: TenderEvaluation) -> Tender:
    """A kept tender read again from its files as they were uploaded."""
    spec = parse_spec(row.tender_text, row.tender_file)
    names = {"bids": row.bids_file, "scores": row.scores_file}
    sources = {"bids": row.bids_data, "scores": row.scores_data, "moderation": row.moderation_data}
    if row.moderation_file:
        names["moderation"] = row.moderation_file
    return read_parts(spec, sources, names)


def evaluation_of(row: TenderEvaluation) -> Evaluation:
    """The ranking of a kept tender, worked out again from its files as they were uploaded."""
    return evaluate(tender_of(row))


def award_kept(session: Session, row: TenderEvaluation, user: User) -> Framework:
    """Award a kept tender as its ranking shows (``AwardRefused`` says why not)."""
    problems = []
    if row.framework_id is not None:
        problems.append("this tender has already been awarded")
    if user.role not in AWARDERS:
        problems.append("an award is made by a head of service or the director")
    if row.created_by_id == user.id:
        problems.append("you uploaded these bids, so another senior manager must award them")
    if problems:
        raise AwardRefused(problems)
    framework = award(session, evaluation_of(row), user)
    row.framework_id, row.awarded_by_id, row.awarded_at = framework.id, user.id, utcnow()
    return framework
