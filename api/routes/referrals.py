"""Referrals: the panel's queue of young people, read with filters, and referrals.csv upload.

A referral is a young person's case (date of birth, postcodes, needs, risks), so only the
people who work cases read it (``CASE_READERS``): not commissioners, not admins. Uploads go
through exactly the importer the command line uses (``placematch import referrals``), so a file
is judged by the same rules whichever way it arrives, and a refused file writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, case

from api.deps import CASE_READERS, PANEL, Allowed, SessionDep, get_engine
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.pagination import Limit, Offset, Page, columns_of, page
from models.accounts import User
from models.enums import ReferralStatus, Tier, Urgency
from models.people import Referral
from models.schemas import ReferralPublic
from providers.csvfiles import ImportFailed
from providers.interchange import ImportReport
from providers.limits import MAX_ERRORS_SHOWN, MAX_FILE_BYTES
from providers.placements_standard import import_referrals_file

router = APIRouter(prefix="/referrals", tags=["referrals"], responses=ERROR_RESPONSES)
CaseReader = Allowed(*CASE_READERS)
PanelMember = Allowed(*PANEL)
EngineDep = Annotated[Engine, Depends(get_engine)]

# The same bound as the command line's (providers.limits, where the reason is); the request as
# a whole is bounded before it is read (api.body_limit).
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
# The file's name becomes the audit event's entity id, which holds at most 60 characters.
MAX_NAME_LENGTH = 60


class ImportResult(BaseModel):
    """What an accepted upload changed. Counts only: the rows themselves are personal data."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"file": "referrals.csv", "entity": "referrals", "rows": 64, "created": 3, "updated": 61, "details": {}},
    ]})

    file: str
    entity: str = Field(description="referrals or vacancies")
    rows: int
    created: int
    updated: int
    details: dict[str, int] = Field(default_factory=dict,
                                    description="For vacancies: providers and properties created and updated")

    @classmethod
    def of(cls, report: ImportReport) -> "ImportResult":
        return cls(file=report.file, entity=report.entity, rows=report.rows, created=report.created,
                   updated=report.updated, details=dict(report.details))


Importer = Callable[..., ImportReport]


def import_upload(run: Importer, engine: Engine, upload: UploadFile, user: User, default_name: str) -> ImportResult:
    """Run an interchange importer on an uploaded file, as the signed-in user.

    The importer opens its own transaction on the engine (as it does for the CLI), so the file
    is written whole or not at all whatever the request's session does; a refused file is 422
    with one field per problem, the first MAX_ERRORS_SHOWN of them as the command line lists.
    """
    data = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(413, f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the limit for one file",
                       fields=[("body.file", "too large")])
    try:
        return ImportResult.of(run(engine, data, actor=user, name=upload_name(upload, default_name)))
    except ImportFailed as exc:
        raise refused_file(exc) from None


def refused_file(exc: ImportFailed) -> ApiError:
    """422 naming each problem (``<file> row R column C``), at most MAX_ERRORS_SHOWN of them."""
    shown = exc.errors[:MAX_ERRORS_SHOWN]
    listed = f", the first {len(shown)} listed" if len(shown) < len(exc.errors) or exc.stopped else ""
    fields = [(" ".join(x for x in (e.file, f"row {e.row}" if e.row is not None else "",
                                    f"column {e.column}" if e.column else "") if x), e.reason) for e in shown]
    return ApiError(422, f"the file was refused; nothing was written ({exc.summary()}{listed})",
                    code="file_refused", fields=fields)


def upload_name(upload: UploadFile, default: str) -> str:
    """The name errors and the audit log show: the file's own name as the person saved it
    (without any folder a browser sends), or the default when it has none or is too long."""
    name = Path(upload.filename or "").name.strip()
    return name if 0 < len(name) <= MAX_NAME_LENGTH else default


# Most urgent first: the codes do not sort alphabetically in urgency order ("over_5_days" <
# "today"), so order by the enum's rank.
URGENCY_ORDER = case({u.value: u.rank for u in Urgency}, value=Referral.urgency)


def referral_query(status: ReferralStatus | None, urgency: Urgency | None, tier: Tier | None,
                   authority: str | None):
    query = columns_of(Referral).order_by(URGENCY_ORDER, Referral.referred_on, Referral.id)
    for column, value in ((Referral.status, status), (Referral.urgency, urgency), (Referral.tier, tier),
                          (Referral.home_la_code, authority)):
        if value is not None:
            query = query.where(column == value)
    return query


@router.get("", response_model=Page[ReferralPublic],
            summary="Referrals, most urgent first (then oldest referral), filtered")
def list_referrals(session: SessionDep, _: CaseReader, limit: Limit = 50, offset: Offset = 0,
                   status: ReferralStatus | None = None, urgency: Urgency | None = None, tier: Tier | None = None,
                   authority: str | None = None):
    """``authority`` is the ONS code of the local authority of the young person's home
    postcode (``home_la_code``), e.g. E06000035 for Medway."""
    return page(session, referral_query(status, urgency, tier, authority), limit, offset, ReferralPublic)


@router.get("/{referral_id}", response_model=ReferralPublic, summary="One referral")
def get_referral(referral_id: str, session: SessionDep, _: CaseReader):
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise not_found("referral", referral_id)
    return ReferralPublic.model_validate(referral)


@router.post("/upload", response_model=ImportResult,
             summary="Upload referrals.csv: all rows are created or updated, or none (422 names each problem)")
def upload_referrals(engine: EngineDep, user: PanelMember,
                     file: Annotated[UploadFile, File(description="referrals.csv, UTF-8, columns as the README lists")]):
    """The same checks and upsert as ``placematch import referrals``: new ids are created as
    open referrals, known ids are updated (keeping their status). A refused file returns 422
    with one field per problem, ``<file> row R column C``, and nothing is written."""
    return import_upload(import_referrals_file, engine, file, user, "referrals.csv")
