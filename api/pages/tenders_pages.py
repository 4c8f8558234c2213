"""Tenders for commissioners: upload a tender's files (its definition, the bids, the evaluators'
scores and the moderation), see every bid scored price against quality and ranked per lot, and
have a senior manager award the lots (providers.tender_store). Bid prices are commercial in
confidence: the pages are for commissioners, the head of service and the director only.
"""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from api.deps import COMMISSIONING, RecordId, SessionDep
from api.pages.core import PageAllowed, back_to, not_found_page, render
from api.pages.field_errors import FieldErrors
from models import glossary
from models.accounts import User
from models.enums import Role, Tier
from models.supply import TenderEvaluation
from providers.limits import MAX_ERRORS_SHOWN, MAX_FILE_BYTES, MAX_YAML_CHARS, MB
from providers.tender_award import AwardRefused
from providers.tender_files import TenderFilesRefused
from providers.tender_store import AWARDERS, award_kept, evaluation_of, save_upload
from scenarios.award_options import framework_years

router = APIRouter(include_in_schema=False)
UPLOADERS = (Role.commissioner, Role.head_of_service)
READERS = (Role.commissioner, Role.head_of_service, Role.director)
Reader = PageAllowed(*READERS)
Uploader = PageAllowed(*UPLOADERS)
Awarder = PageAllowed(*AWARDERS)
Tester = PageAllowed(*COMMISSIONING)  # who runs tender scenarios (api.pages.tender_pages)
FIELDS = {"tender": "tender-file", "bids": "bids-file", "scores": "scores-file", "moderation": "moderation-file"}


def _page(request: Request, session, user: User, *, errors: FieldErrors | None = None, status_code: int = 200):
    rows = session.scalars(select(TenderEvaluation).order_by(TenderEvaluation.id.desc()).limit(50)).all()
    return render(request, "tenders.html", user, status_code=status_code, rows=rows, errors=errors or FieldErrors(),
                  can_upload=user.role in UPLOADERS, max_mb=MAX_FILE_BYTES // MB)


@router.get("/tenders")
def tenders_page(request: Request, session: SessionDep, user: Reader):
    return _page(request, session, user)


def _read(upload: Optional[UploadFile], field: str, errors: FieldErrors, *, text: bool = False):
    """(name, bytes or text) of an uploaded file, or None (an error said when it was needed)."""
    if upload is None or not upload.filename:
        return None
    data = upload.file.read(MAX_FILE_BYTES + 1)
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200] or f"{field}.csv"
    if len(data) > MAX_FILE_BYTES:
        errors.add(FIELDS[field], f"{name} is larger than {MAX_FILE_BYTES // MB} MB, the limit for one file")
        return None
    if not text:
        return name, data
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.add(FIELDS[field], f"{name} is not text saved as UTF-8: save the tender file as plain text")
        return None
    if len(decoded) > MAX_YAML_CHARS:
        errors.add(FIELDS[field], f"{name} is {len(decoded):,} characters; the limit is {MAX_YAML_CHARS:,}")
        return None
    return name, decoded


@router.post("/tenders")
def upload_tender(request: Request, session: SessionDep, user: Uploader,
                  tender_file: Annotated[Optional[UploadFile], File()] = None,
                  bids_file: Annotated[Optional[UploadFile], File()] = None,
                  scores_file: Annotated[Optional[UploadFile], File()] = None,
                  moderation_file: Annotated[Optional[UploadFile], File()] = None):
    """The four files checked whole; kept and ranked, or the page again with every problem."""
    errors = FieldErrors()
    tender = _read(tender_file, "tender", errors, text=True)
    files = {"bids": _read(bids_file, "bids", errors), "scores": _read(scores_file, "scores", errors),
             "moderation": _read(moderation_file, "moderation", errors)}
    for part, label in (("tender", "the tender file (tender.yaml)"), ("bids", "the bids"), ("scores", "the scores")):
        if (tender if part == "tender" else files[part]) is None and FIELDS[part] not in errors:
            errors.add(FIELDS[part], f"Choose {label} to upload")
    if not errors:
        try:
            row = save_upload(session, tender, files, user)
        except TenderFilesRefused as exc:
            names = {"tender": tender[0], **{k: v[0] for k, v in files.items() if v}}
            for problem in exc.problems[:MAX_ERRORS_SHOWN]:
                part = next((k for k, name in names.items() if str(problem).startswith(name)), "tender")
                errors.add(FIELDS[part], str(problem))
        else:
            return back_to(f"/tenders/{row.id}", done=f"Evaluated '{row.name}': every bid is ranked below")
    return _page(request, session, user, errors=errors, status_code=422)


def _kept(session, tender_id: int) -> TenderEvaluation | None:
    return session.get(TenderEvaluation, tender_id)


@router.get("/tenders/{tender_id}")
def tender_page(request: Request, tender_id: RecordId, session: SessionDep, user: Reader):
    row = _kept(session, tender_id)
    if row is None:
        return not_found_page(request, user, f"tender {tender_id}")
    evaluation = evaluation_of(row)
    spec = evaluation.tender.spec
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(
        [i for i in (row.created_by_id, row.awarded_by_id) if i])))}
    problems = evaluation.award_problems() if row.framework_id is None else []
    may_award = (row.framework_id is None and user.role in AWARDERS and row.created_by_id != user.id
                 and not problems)
    return render(request, "tender_evaluation.html", user, row=row, evaluation=evaluation, spec=spec,
                  lots=[(lot, evaluation.lots.get(lot.number, [])) for lot in spec.lots], tiers=list(Tier),
                  criteria=spec.criteria, problems=problems, may_award=may_award, people=people,
                  options=_option_words(spec, row.id) if user.role in COMMISSIONING and row.framework_id is None
                  else None, option_years=framework_years(spec),
                  awarder_roles=" or ".join(glossary.ROLES[r.value].lower() for r in AWARDERS),
                  flag_words=glossary.TENDER_FLAGS, method=glossary.PRICE_METHODS[spec.price_method])


def _option_words(spec, tender_id: int) -> list[str]:
    """The award options the page offers to try, in words (their scenario files' descriptions)."""
    from scenarios.award_options import standard_options
    from scenarios.tender import parse_scenario

    return [parse_scenario(text, name).name for name, text in standard_options(spec, tender_id).items()]


@router.post("/tenders/{tender_id}/award")
def award_tender(request: Request, tender_id: RecordId, session: SessionDep, user: Awarder):
    row = _kept(session, tender_id)
    if row is None:
        return not_found_page(request, user, f"tender {tender_id}")
    try:
        framework = award_kept(session, row, user)
    except AwardRefused as exc:
        return back_to(f"/tenders/{tender_id}", problem="Not awarded: " + "; ".join(exc.problems))
    return back_to(f"/tenders/{tender_id}", done=f"Awarded: framework '{framework.name}' with "
                                                  f"{len(framework.lots)} lots")


@router.post("/tenders/{tender_id}/options")
def try_options(request: Request, tender_id: RecordId, session: SessionDep, user: Tester):
    """Start the award options (scenarios.award_options.standard_options) as tender scenario
    runs against forecast demand, and show them side by side as they finish. Every option is
    checked before any is started: all four run, or none."""
    from urllib.parse import urlencode

    from api import scenario_runs
    from models.base import council_today
    from scenarios.award_options import standard_options, tenders_from
    from scenarios.tender import TenderFileError, supply_from_database
    from scenarios.tender_form import check

    row = _kept(session, tender_id)
    if row is None:
        return not_found_page(request, user, f"tender {tender_id}")
    market = supply_from_database(session, council_today())
    checked = []
    try:
        for name, text in standard_options(evaluation_of(row).tender.spec, row.id).items():
            checked.append((name, text, *check(text, name, market, (), tenders=tenders_from(session))))
    except TenderFileError as exc:
        return back_to(f"/tenders/{tender_id}", problem="The award options cannot be tried: "
                                                         + "; ".join(p.reason for p in exc.problems[:5]))
    ids = [scenario_runs.start(session, scenario, supply, user, text=text, file_name=name).id
           for name, text, scenario, supply in checked]
    return back_to("/tender-page?" + urlencode([("ids", i) for i in ids]),
                   done=f"Started {len(ids)} runs: the award options of '{row.name}' against forecast demand")


@router.get("/tenders/{tender_id}/ranking.csv")
def ranking_csv(request: Request, tender_id: RecordId, session: SessionDep, user: Reader):
    """The ranking as ranking.csv from the command line: every score, in words, formulas made inert."""
    import csv
    import io

    from models.spreadsheet import inert_row
    from providers.tender_evaluation import ranking_table

    row = _kept(session, tender_id)
    if row is None:
        return not_found_page(request, user, f"tender {tender_id}")
    columns, rows = ranking_table(evaluation_of(row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(inert_row(["" if r.get(c) is None else r.get(c) for c in columns]) for r in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="tender-{tender_id}-ranking.csv"'})
