"""The interchange files referrals.csv and vacancies.csv: validate, import, export.

Columns are those of DESIGN.md ("Interchange files"), in that order, followed by the optional
documented columns. Lists in a cell are ';'-separated; an empty cell means "not given".

An import is all-or-nothing. The whole file is checked first and every problem is reported
(``ImportFailed``, one ``RowError`` per problem naming file, spreadsheet row, column and reason);
only a clean file is written, in one transaction with one audit event. Checks run in passes over
the whole file so the slow parts happen once: cells are read, every postcode of the file is
located in one ``locate()`` call, rows are judged by the same Pydantic schemas the API uses
(``ReferralIn``, ``VacancyIn``), then rules across rows (duplicate ids, one property described
the same way on each of its rows) and rules needing the database (referral ids) are applied.
A row's cross-field rules (age at referral, a price for each offered tier) are judged once its
cells can be read, so a second run may find more in a row that had unreadable cells.

Upsert: a row whose id is already in the database updates it, others are created. An optional
column left out of the file leaves that field of existing records alone, so a file laid out
only as DESIGN.md lists cannot wipe, say, a Staying Put reservation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models.accounts import User, record
from models.bulk import BulkWrite
from models.db import transaction
from models.enums import (
    RISK_TO_OTHERS_PREFIX,
    LivingWith,
    Need,
    PlacementStatus,
    ReferralStatus,
    RiskToOthers,
    RiskToSelf,
    ServiceType,
    Setting,
    Suitability,
    Tier,
    Urgency,
    risk_codes,
)
from models.people import Placement, Referral
from models.schemas import ReferralIn, VacancyIn
from models.supply import Property, Provider, TierPrice, Vacancy
from models.tenancy import scope_of
from providers import codings
from providers import csvfiles as cf
from providers.csvfiles import ErrorLog, ImportFailed, RowError, Source
from providers.geography import Location, locate
from providers.workbooks import read_csv_or_sheet

__all__ = [
    "REFERRAL_COLUMNS", "REFERRAL_OPTIONAL_COLUMNS", "VACANCY_COLUMNS", "VACANCY_OPTIONAL_COLUMNS",
    "ImportFailed", "ImportReport", "ReferralRow", "RowError", "VacancyRow", "property_values", "referral_values",
    "export_dir", "import_referrals", "import_vacancies", "read_referrals", "read_vacancies",
]

logger = logging.getLogger(__name__)

REFERRALS_FILE, VACANCIES_FILE = "referrals.csv", "vacancies.csv"

REFERRAL_COLUMNS = [
    "id", "date_of_birth", "sex", "legal_status", "home_postcode", "education_postcode", "tier",
    "urgency", "needs", "risks_to_self", "risks_to_others", "living_with", "suitable_types",
    "unsuitable_types", "preferred_postcode", "avoid_postcodes", "avoid_radius_miles",
    "sibling_group", "deprivation_of_liberty", "referred_on",
]
REFERRAL_OPTIONAL_COLUMNS = ["duration_weeks", "step_down_weeks", "wishes"]

VACANCY_COLUMNS = [
    "id", "provider_id", "provider_name", "property_id", "postcode", "service_type", "setting",
    "ofsted_registered", "ofsted_grade", "beds", "available_from", "age_min", "age_max", "sex",
    "tiers", "price_standard", "price_enhanced", "price_intensive", "accepts_needs",
    "excludes_risks", "shared_with",
]
VACANCY_OPTIONAL_COLUMNS = ["reserved_for", "ofsted_urn", "in_house", "support_hours"]


def _codes(enum_cls, what: str) -> cf.Parser:
    return cf.code(enum_cls.codes(), what)


_SERVICE_TYPES = cf.list_of(_codes(ServiceType, "service type"))

REFERRAL_CELLS: dict[str, cf.Parser] = {
    "id": cf.text, "date_of_birth": cf.date, "sex": codings.reader(*codings.REFERRAL_CODINGS["sex"]),
    "legal_status": codings.reader(*codings.REFERRAL_CODINGS["legal_status"]), "home_postcode": cf.text,
    "education_postcode": cf.text, "tier": _codes(Tier, "tier"), "urgency": _codes(Urgency, "urgency"),
    "needs": cf.list_of(_codes(Need, "need")),
    "risks_to_self": cf.list_of(_codes(RiskToSelf, "risk to self")),
    "risks_to_others": cf.list_of(_codes(RiskToOthers, "risk to others")),
    "living_with": _codes(LivingWith, "living_with value"), "suitable_types": _SERVICE_TYPES,
    "unsuitable_types": _SERVICE_TYPES, "preferred_postcode": cf.text,
    "avoid_postcodes": cf.list_of(cf.text), "avoid_radius_miles": cf.number,
    "sibling_group": cf.text, "deprivation_of_liberty": cf.boolean, "referred_on": cf.date,
    "duration_weeks": cf.integer, "step_down_weeks": cf.integer, "wishes": cf.text,
}

VACANCY_CELLS: dict[str, cf.Parser] = {
    "id": cf.text, "provider_id": cf.text, "provider_name": cf.text, "property_id": cf.text,
    "postcode": cf.text, "service_type": codings.reader(*codings.VACANCY_CODINGS["service_type"]),
    "setting": _codes(Setting, "setting"), "ofsted_registered": cf.boolean,
    "ofsted_grade": codings.reader(*codings.VACANCY_CODINGS["ofsted_grade"]), "beds": cf.integer,
    "available_from": cf.date, "age_min": cf.integer, "age_max": cf.integer,
    "sex": codings.reader(*codings.VACANCY_CODINGS["sex"]), "tiers": cf.list_of(_codes(Tier, "tier")),
    "price_standard": cf.number, "price_enhanced": cf.number, "price_intensive": cf.number,
    "accepts_needs": cf.list_of(_codes(Need, "need")),
    "excludes_risks": cf.list_of(cf.code(risk_codes(), "risk code")),
    "shared_with": cf.list_of(cf.text), "reserved_for": cf.text, "ofsted_urn": cf.text,
    "in_house": cf.boolean, "support_hours": cf.integer,
}

# Columns that describe the property or the provider rather than the vacancy: every row of
# one property (provider) must give them the same way, or the file contradicts itself.
PROPERTY_COLUMNS = [
    "provider_id", "postcode", "service_type", "setting", "ofsted_registered", "age_min",
    "age_max", "sex", "tiers", "price_standard", "price_enhanced", "price_intensive",
    "accepts_needs", "excludes_risks", "shared_with",
]
PROVIDER_COLUMNS = ["provider_name", "ofsted_grade", "ofsted_urn", "in_house"]

# Larger than any real file, small enough for SQLite's and PostgreSQL's bound-parameter limits.
_IN_CHUNK = 10_000


@dataclass(frozen=True)
class ReferralRow:
    row: int
    referral: ReferralIn
    home: Location
    education: Optional[Location]


@dataclass(frozen=True)
class VacancyRow:
    row: int
    vacancy: VacancyIn
    location: Location
    resident_risks: list[str]  # shared_with with referral ids expanded to their risk codes


@dataclass(frozen=True)
class ImportReport:
    file: str
    entity: str  # "referrals" or "vacancies"
    rows: int
    created: int
    updated: int
    details: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.file}: {self.rows} rows, {self.created} created, {self.updated} updated"


# --- reading ---------------------------------------------------------------------------------


def read_referrals(source: Source, *, name: str | None = None, sheet: str | None = None) -> list[ReferralRow]:
    """The validated rows of a referrals file (CSV, or a sheet of an Excel workbook: the first
    unless ``sheet`` names one) with their postcodes located, or ImportFailed."""
    return _read_referrals(source, name, sheet)[0]


def _read_referrals(source: Source, name: str | None, sheet: str | None = None) -> tuple[list[ReferralRow], list[str]]:
    file = name or cf.source_name(source, REFERRALS_FILE)
    errors = ErrorLog(file, REFERRAL_COLUMNS + REFERRAL_OPTIONAL_COLUMNS)
    table = read_csv_or_sheet(source, file, REFERRAL_COLUMNS, REFERRAL_OPTIONAL_COLUMNS, errors, sheet=sheet,
                              aliases=codings.REFERRAL_COLUMN_ALIASES)
    if table is None:
        errors.raise_if_any()
    parsed = [(row, cells, cf.parse_row(row, cells, REFERRAL_CELLS, errors)) for row, cells in table.rows]
    located = _locate_postcodes(
        parsed, ["home_postcode", "education_postcode", "preferred_postcode"], ["avoid_postcodes"], errors
    )
    _check_unique_ids(parsed, errors)
    out = []
    for row, cells, values in parsed:
        try:
            referral = ReferralIn.model_validate(values)
        except ValidationError as exc:
            cf.schema_errors(exc, row, cells, table.columns, errors)
            continue
        education = located.get(referral.education_postcode) if referral.education_postcode else None
        out.append(ReferralRow(row, referral, located[referral.home_postcode], education))
    errors.raise_if_any(REFERRAL_COLUMNS + REFERRAL_OPTIONAL_COLUMNS)
    return out, table.columns


ReferralLookup = Callable[[set[str]], dict[str, list[str]]]


def read_vacancies(
    source: Source,
    *,
    session: Session | None = None,
    referral_risks: Mapping[str, list[str]] | None = None,
    name: str | None = None,
    sheet: str | None = None,
) -> list[VacancyRow]:
    """The validated rows of a vacancies file (CSV or a sheet of an Excel workbook), or ImportFailed. Referral ids in shared_with and
    reserved_for must be in the database of ``session``, or among ``referral_risks`` (referral
    id -> risk codes, e.g. read from a referrals file beside it); otherwise only risk codes pass."""
    if session is not None:
        lookup: ReferralLookup = lambda ids: _referral_risks(session, ids)  # noqa: E731
    else:
        known = referral_risks or {}
        lookup = lambda ids: {i: list(known[i]) for i in ids if i in known}  # noqa: E731
    return _read_vacancies(source, name, lookup, sheet)[0]


def _read_vacancies(
    source: Source, name: str | None, referral_risks: ReferralLookup, sheet: str | None = None
) -> tuple[list[VacancyRow], list[str]]:
    file = name or cf.source_name(source, VACANCIES_FILE)
    errors = ErrorLog(file, VACANCY_COLUMNS + VACANCY_OPTIONAL_COLUMNS)
    table = read_csv_or_sheet(source, file, VACANCY_COLUMNS, VACANCY_OPTIONAL_COLUMNS, errors, sheet=sheet,
                              aliases=codings.VACANCY_COLUMN_ALIASES)
    if table is None:
        errors.raise_if_any()
    parsed = [(row, cells, cf.parse_row(row, cells, VACANCY_CELLS, errors)) for row, cells in table.rows]
    located = _locate_postcodes(parsed, ["postcode"], [], errors)
    _check_unique_ids(parsed, errors)
    _check_consistent(parsed, "property_id", "property", PROPERTY_COLUMNS, errors)
    _check_consistent(parsed, "provider_id", "provider", PROVIDER_COLUMNS, errors)
    residents = _resolve_referrals(parsed, referral_risks, errors)
    out = []
    for row, cells, values in parsed:
        try:
            vacancy = VacancyIn.model_validate(values)
        except ValidationError as exc:
            cf.schema_errors(exc, row, cells, table.columns, errors)
            continue
        out.append(VacancyRow(row, vacancy, located[vacancy.postcode], residents.get(row, [])))
    errors.raise_if_any(VACANCY_COLUMNS + VACANCY_OPTIONAL_COLUMNS)
    return out, table.columns


Parsed = list[tuple[int, dict[str, str], dict[str, Any]]]


def _locate_postcodes(
    parsed: Parsed, single: list[str], lists: list[str], errors: ErrorLog
) -> dict[str, Location]:
    """Locate every postcode of the file in one call; put the canonical form in place of what
    was typed, and report the ones that cannot be placed on the map."""
    typed = {
        p for _, _, values in parsed
        for p in [values.get(c) for c in single] + [x for c in lists for x in values.get(c, [])]
        if p
    }
    order = sorted(typed)
    found = locate(order)
    located: dict[str, Location] = {}
    canonical: dict[str, str] = {}
    problems: dict[str, str] = {}
    for raw, rec in zip(order, found.itertuples(index=False)):
        if rec.error is not None:
            problems[raw] = f"{raw!r} is {rec.error}"
            continue
        canonical[raw] = rec.postcode
        located[rec.postcode] = Location(
            rec.postcode, float(rec.easting), float(rec.northing), str(rec.la_code)
        )
    for row, _, values in parsed:
        for column in single:
            raw = values.get(column)
            if raw is None:
                continue
            if raw in problems:
                errors.add(row, column, problems[raw])
                del values[column]
            else:
                values[column] = canonical[raw]
        for column in lists:
            raws = values.get(column, [])
            bad = [problems[r] for r in raws if r in problems]
            for reason in bad:
                errors.add(row, column, reason)
            if bad:
                del values[column]
            elif raws:
                values[column] = list(dict.fromkeys(canonical[r] for r in raws))
    return located


def _check_unique_ids(parsed: Parsed, errors: ErrorLog) -> None:
    first: dict[str, int] = {}
    for row, _, values in parsed:
        ident = values.get("id")
        if ident is None:
            continue
        if ident in first:
            errors.add(row, "id", f"duplicate id {ident!r}: rows {first[ident]} and {row} both use it")
        else:
            first[ident] = row


def _comparable(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, list) else value


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(cf.cell(value))


def _check_consistent(parsed: Parsed, key: str, what: str, columns: list[str], errors: ErrorLog) -> None:
    """A property (or provider) is described on every one of its rows; they must agree."""
    first: dict[str, tuple[int, dict[str, Any]]] = {}
    for row, cells, values in parsed:
        ident = values.get(key)
        if ident is None:
            continue
        if ident not in first:
            first[ident] = (row, values)
            continue
        first_row, first_values = first[ident]
        for column in columns:
            if column not in cells or errors.has(row, column) or errors.has(first_row, column):
                continue
            here, there = values.get(column), first_values.get(column)
            if _comparable(here) != _comparable(there):
                errors.add(
                    row, column,
                    f"{what} {ident!r} has {column} {_shown(here)} here but {_shown(there)} on row "
                    f"{first_row}; every row of one {what} must give the same {column}",
                )


def _resolve_referrals(
    parsed: Parsed, referral_risks: ReferralLookup, errors: ErrorLog
) -> dict[int, list[str]]:
    """Check referral ids in shared_with and reserved_for against the database (one query),
    and turn each row's shared_with into the residents' risk codes."""
    codes = {c.lower(): c for c in risk_codes()}
    wanted = {t for _, _, v in parsed for t in v.get("shared_with", []) if t.lower() not in codes}
    wanted |= {v["reserved_for"] for _, _, v in parsed if v.get("reserved_for")}
    known = referral_risks(wanted) if wanted else {}
    residents: dict[int, list[str]] = {}
    for row, _, values in parsed:
        risks: set[str] = set()
        for token in values.get("shared_with", []):
            if token.lower() in codes:
                risks.add(codes[token.lower()])
            elif token in known:
                risks.update(known[token])
            else:
                errors.add(
                    row, "shared_with",
                    f"{token!r} is neither a risk code nor the id of a referral in the database"
                    f"{cf.did_you_mean(token, risk_codes())} (risk codes: {', '.join(risk_codes())})",
                )
        residents[row] = sorted(risks)
        reserved = values.get("reserved_for")
        if reserved and reserved not in known:
            errors.add(
                row, "reserved_for",
                f"{reserved!r} is not the id of a referral in the database (import referrals.csv first)",
            )
    return residents


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _IN_CHUNK):
        yield ordered[start:start + _IN_CHUNK]


def _referral_risks(session: Session, ids: set[str]) -> dict[str, list[str]]:
    """Each known referral's risk codes as a property's resident_risks hold them."""
    out = {}
    for chunk in _chunks(ids):
        stmt = select(Referral.id, Referral.risks_to_self, Referral.risks_to_others)
        stmt = stmt.where(Referral.id.in_(chunk))
        for rid, to_self, to_others in session.execute(stmt):
            out[rid] = _risk_tokens(to_self, to_others)
    return out


def _risk_tokens(to_self: Iterable[str] | None, to_others: Iterable[str] | None) -> list[str]:
    return list(to_self or []) + [RISK_TO_OTHERS_PREFIX + c for c in to_others or []]


def _existing(session: Session, model, ids: Iterable[str], *columns) -> dict[str, Any]:
    """The records of ``model`` among ``ids`` that exist, as rows of their id and ``columns``."""
    out = {}
    for chunk in _chunks(ids):
        for row in session.execute(select(model.id, *columns).where(model.id.in_(chunk))):
            out[row.id] = row
    return out


# --- importing -------------------------------------------------------------------------------


def _audit(session: Session, entity: str, file: str, actor: str | User, counts: dict[str, int]) -> None:
    # Counts only: an audit event must not copy personal data out of the records it describes.
    who = {"actor": actor} if isinstance(actor, User) else {"actor_name": actor}
    record(session, "import", entity, file, after=counts, **who)


# Fields fed by an optional column. When a file leaves the column out, existing records keep
# their value: a file laid out only as DESIGN.md lists must not wipe them.
_OPTIONAL_FIELDS: dict[type, dict[str, str]] = {
    Referral: {"duration_weeks": "duration_weeks", "step_down_weeks": "step_down_weeks", "wishes": "wishes"},
    Provider: {"ofsted_urn": "ofsted_urn", "in_house": "in_house"},
    Vacancy: {"reserved_for_referral_id": "reserved_for"},
}


class _Upsert:
    """Creates or updates records of one kind by id, counting which. Nothing is written until
    write(): an import reads and builds every row first and then writes them all at once
    (models.bulk), so SQLite's single write lock is held for a moment, not for the import."""

    def __init__(self, session: Session, model: type, ids: Iterable[str], columns: list[str], *known: Any) -> None:
        self.model = model
        self.existing: dict[str, Any] = _existing(session, model, ids, *known)
        self.keep = {f for f, column in _OPTIONAL_FIELDS.get(model, {}).items() if column not in columns}
        self.new: list[dict[str, Any]] = []
        self.changed: list[dict[str, Any]] = []

    @property
    def created(self) -> int:
        return len(self.new)

    @property
    def updated(self) -> int:
        return len(self.changed)

    def __call__(self, ident: str, values: dict[str, Any], **on_create: Any) -> None:
        if ident in self.existing:
            self.changed.append({"id": ident} | {k: v for k, v in values.items() if k not in self.keep})
        else:
            self.new.append({"id": ident, **values, **on_create})

    def write(self, bulk: BulkWrite) -> None:
        bulk.insert(self.model.__table__, self.new)
        bulk.update(self.model.__table__, self.changed)


def _written_whole(bulk: BulkWrite, file: str) -> None:
    """The import's writes. A new id that another council's record already has (ids are one
    namespace across the service's councils, and that record is not this council's to see) is
    refused for the file, as every other problem is: nothing is written."""
    try:
        bulk.run()
    except IntegrityError:
        if scope_of(bulk.session) is None:
            raise  # the service itself sees every record: something else is wrong
        raise ImportFailed([RowError(file, None, "id", "an id in this file is already used by another council "
                                                       "of this service: ids must be unique across its councils "
                                                       "(begin them with your council's own letters)")]) from None


def _codes_of(values: Iterable[Any]) -> list[str]:
    return [str(v) for v in values]


def import_referrals(
    engine: Engine, path: Source, *, actor: str | User = "cli", name: str | None = None, sheet: str | None = None,
    council: str | None = None,
) -> ImportReport:
    """Validate a referrals file and upsert it in one transaction; ImportFailed writes nothing.
    New referrals are open; an existing referral keeps its status."""
    rows, columns = _read_referrals(path, name, sheet)
    file = name or cf.source_name(path, REFERRALS_FILE)
    with transaction(engine, actor if isinstance(actor, User) else None, council=council) as session:
        upsert = _Upsert(session, Referral, (r.referral.id for r in rows), columns)
        for r in rows:
            upsert(r.referral.id, referral_values(r), status=ReferralStatus.open)
        bulk = BulkWrite(session)
        upsert.write(bulk)
        _written_whole(bulk, file)
        counts = {"rows": len(rows), "created": upsert.created, "updated": upsert.updated}
        _audit(session, "referrals", file, actor, counts)
    return ImportReport(file, "referrals", len(rows), upsert.created, upsert.updated)


def referral_values(r: ReferralRow) -> dict[str, Any]:
    """A validated referral row's stored columns (for the importer and the regional demo)."""
    ref, edu = r.referral, r.education
    return dict(
        date_of_birth=ref.date_of_birth, sex=ref.sex, legal_status=ref.legal_status,
        home_postcode=r.home.postcode, home_la_code=r.home.la_code,
        home_easting=r.home.easting, home_northing=r.home.northing,
        education_postcode=edu.postcode if edu else None,
        education_easting=edu.easting if edu else None, education_northing=edu.northing if edu else None,
        tier=ref.tier, urgency=ref.urgency, needs=_codes_of(ref.needs),
        risks_to_self=_codes_of(ref.risks_to_self), risks_to_others=_codes_of(ref.risks_to_others),
        living_with=ref.living_with, type_suitability=ref.type_suitability(),
        preferred_postcode=ref.preferred_postcode, avoid_postcodes=list(ref.avoid_postcodes),
        avoid_radius_miles=ref.avoid_radius_miles, sibling_group=ref.sibling_group,
        deprivation_of_liberty=ref.deprivation_of_liberty, referred_on=ref.referred_on,
        duration_weeks=ref.duration_weeks, step_down_weeks=ref.step_down_weeks, wishes=ref.wishes,
    )


def import_vacancies(
    engine: Engine, path: Source, *, actor: str | User = "cli", name: str | None = None, sheet: str | None = None,
    council: str | None = None,
) -> ImportReport:
    """Validate a vacancies file and upsert its providers, properties, tier prices and
    vacancies in one transaction; ImportFailed writes nothing. ``council`` (the command line's
    ``--council``; a signed-in user's own otherwise): new vacancies are that council's only;
    without one they are the region's, in a service of several councils.

    A property's total_beds: the file only says which beds are free, never how big the home
    is. A new property gets the sum of its rows' free beds (the least it can hold); an existing
    one keeps its recorded capacity unless its free beds plus its active placements prove it
    bigger. Prices replace the property's prices, keeping the lot of a tier already bought
    under a framework lot. Vacancies missing from the file are left alone: the file is an
    update, not the whole market.
    """
    file = name or cf.source_name(path, VACANCIES_FILE)
    with transaction(engine, actor if isinstance(actor, User) else None, council=council) as session:
        # Validation reads referral ids from this transaction, before anything is written.
        rows, columns = _read_vacancies(path, name, lambda ids: _referral_risks(session, ids), sheet)
        first_of_provider: dict[str, VacancyRow] = {}
        first_of_property: dict[str, VacancyRow] = {}
        free_beds: dict[str, int] = defaultdict(int)
        for r in rows:
            first_of_provider.setdefault(r.vacancy.provider_id, r)
            first_of_property.setdefault(r.vacancy.property_id, r)
            free_beds[r.vacancy.property_id] += r.vacancy.beds

        providers = _Upsert(session, Provider, first_of_provider, columns)
        properties = _Upsert(session, Property, first_of_property, columns, Property.total_beds)
        vacancies = _Upsert(session, Vacancy, (r.vacancy.id for r in rows), columns)
        occupied = _active_placements(session, properties.existing)
        prices = _Prices(session, properties.existing)
        # Risks of residents placed through placematch are known from their placements; only
        # the rest are kept on the property, so re-importing an export does not copy the
        # placed residents' risks into resident_risks (where they would outlive the placement).
        placed_risks = _resident_risks(session)

        for ident, r in first_of_provider.items():
            v = r.vacancy
            providers(ident, dict(name=v.provider_name, ofsted_grade=v.ofsted_grade,
                                  ofsted_urn=v.ofsted_urn, in_house=v.in_house))
        for ident, r in first_of_property.items():
            known = properties.existing.get(ident)
            beds = free_beds[ident]
            if known is not None:
                beds = max(known.total_beds, beds + occupied.get(ident, 0))
            others = sorted(set(r.resident_risks) - placed_risks.get(ident, set()))
            properties(ident, property_values(r) | {"total_beds": beds, "resident_risks": others})
            prices.set(ident, r.vacancy)
        for r in rows:
            v = r.vacancy
            vacancies(v.id, dict(property_id=v.property_id, beds=v.beds, available_from=v.available_from,
                                 reserved_for_referral_id=v.reserved_for, support_hours=v.support_hours))
        # Everything is built: now the writes, parents before the rows that point at them.
        bulk = BulkWrite(session)
        for step in (providers, properties, prices, vacancies):
            step.write(bulk)
        _written_whole(bulk, file)

        details = {
            f"{kind}_{what}": getattr(upsert, what)
            for kind, upsert in (("properties", properties), ("providers", providers))
            for what in ("created", "updated")
        }
        counts = {"rows": len(rows), "created": vacancies.created, "updated": vacancies.updated} | details
        _audit(session, "vacancies", file, actor, counts)
    return ImportReport(file, "vacancies", len(rows), vacancies.created, vacancies.updated, details)


def property_values(r: VacancyRow) -> dict[str, Any]:
    """A validated vacancy row's property columns (for the importer and the regional demo)."""
    v, loc = r.vacancy, r.location
    return dict(
        provider_id=v.provider_id, postcode=loc.postcode, easting=loc.easting, northing=loc.northing,
        la_code=loc.la_code, service_type=v.service_type, setting=v.setting,
        ofsted_registered=v.ofsted_registered, sex=v.sex, age_min=v.age_min, age_max=v.age_max,
        accepts_needs=_codes_of(v.accepts_needs), excludes_risks=list(v.excludes_risks),
    )


class _Prices:
    """The properties' new tier prices, written in bulk. A file's prices replace a property's,
    keeping the lot of a tier already bought under a framework lot (an update, not a new row)."""

    def __init__(self, session: Session, properties: Iterable[str]) -> None:
        self.current: dict[str, dict[Tier, int]] = defaultdict(dict)
        for chunk in _chunks(properties):
            stmt = select(TierPrice.id, TierPrice.property_id, TierPrice.tier).where(TierPrice.property_id.in_(chunk))
            for price_id, property_id, tier in session.execute(stmt):
                self.current[property_id][tier] = price_id
        self.new: list[dict[str, Any]] = []
        self.changed: list[dict[str, Any]] = []
        self.gone: list[int] = []

    def set(self, property_id: str, v: VacancyIn) -> None:
        current = self.current.get(property_id, {})
        for tier in Tier:
            price = v.price(tier) if tier in v.tiers else None
            if price is None:
                if tier in current:
                    self.gone.append(current[tier])
                continue
            # Whole pence, so SQLite (REAL) and PostgreSQL (NUMERIC(10,2)) hold the same price.
            price = round(price, 2)
            if tier in current:
                self.changed.append({"id": current[tier], "weekly_price": price})  # keeps lot_id
            else:
                self.new.append({"property_id": property_id, "tier": tier, "weekly_price": price})

    def write(self, bulk: BulkWrite) -> None:
        bulk.delete(TierPrice.__table__, self.gone)
        bulk.update(TierPrice.__table__, self.changed)
        bulk.insert(TierPrice.__table__, self.new)


def _active_placements(session: Session, properties: Mapping[str, Any]) -> dict[str, int]:
    if not properties:
        return {}
    out: dict[str, int] = {}
    for chunk in _chunks(properties):
        stmt = (
            select(Placement.property_id, func.count())
            .where(Placement.status == PlacementStatus.active, Placement.property_id.in_(chunk))
            .group_by(Placement.property_id)
        )
        out.update(dict(session.execute(stmt).all()))
    return out


# --- exporting -------------------------------------------------------------------------------


def export_dir(engine: Engine, directory: str | Path, *, council: str | None = None) -> dict[str, Path]:
    """Write referrals.csv and vacancies.csv into ``directory``; returns {"referrals": path,
    "vacancies": path}. Importing the files into an empty database and exporting again gives
    the same bytes. ``council``: that council's young people and the market it may use only."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with transaction(engine, council=council) as session:
        vacancy_rows = _vacancy_rows(session)
        reserved = {row["reserved_for"] for row in vacancy_rows if row["reserved_for"]}
        referral_rows = _referral_rows(session, reserved)
    ref_columns = REFERRAL_COLUMNS + REFERRAL_OPTIONAL_COLUMNS
    vac_columns = VACANCY_COLUMNS + VACANCY_OPTIONAL_COLUMNS
    return {
        "referrals": cf.write_table(directory / REFERRALS_FILE, ref_columns, referral_rows),
        "vacancies": cf.write_table(directory / VACANCIES_FILE, vac_columns, vacancy_rows),
    }


def _referral_rows(session: Session, reserved: set[str]) -> list[dict[str, Any]]:
    """Open referrals, plus any referral an exported vacancy is reserved for, so that the
    vacancies file re-imports (its reserved_for must name a known referral)."""
    stmt = select(Referral).where(
        (Referral.status == ReferralStatus.open) | Referral.id.in_(sorted(reserved))
    )
    rows = []
    for ref in sorted(session.scalars(stmt), key=lambda r: r.id):
        suits = ref.type_suitability or {}
        rows.append({
            "id": ref.id, "date_of_birth": ref.date_of_birth, "sex": ref.sex,
            "legal_status": ref.legal_status, "home_postcode": ref.home_postcode,
            "education_postcode": ref.education_postcode, "tier": ref.tier, "urgency": ref.urgency,
            "needs": sorted(set(ref.needs or [])), "risks_to_self": sorted(set(ref.risks_to_self or [])),
            "risks_to_others": sorted(set(ref.risks_to_others or [])), "living_with": ref.living_with,
            "suitable_types": sorted(t for t, s in suits.items() if s == Suitability.preferred.value),
            "unsuitable_types": sorted(t for t, s in suits.items() if s == Suitability.unsuitable.value),
            "preferred_postcode": ref.preferred_postcode,
            "avoid_postcodes": sorted(set(ref.avoid_postcodes or [])),
            "avoid_radius_miles": ref.avoid_radius_miles, "sibling_group": ref.sibling_group,
            "deprivation_of_liberty": ref.deprivation_of_liberty, "referred_on": ref.referred_on,
            "duration_weeks": ref.duration_weeks, "step_down_weeks": ref.step_down_weeks,
            "wishes": ref.wishes,
        })
    return rows


def _vacancy_rows(session: Session) -> list[dict[str, Any]]:
    stmt = (
        select(Vacancy)
        .where(Vacancy.beds > 0)
        .options(selectinload(Vacancy.property).selectinload(Property.prices),
                 selectinload(Vacancy.property).selectinload(Property.provider))
    )
    residents = _resident_risks(session)
    rows = []
    for vac in sorted(session.scalars(stmt), key=lambda v: v.id):
        prop, prov = vac.property, vac.property.provider
        if not prop.prices:
            # A property offering no tier cannot be matched, and VacancyIn refuses it.
            logger.warning("vacancy %s not exported: property %s has no tier prices", vac.id, prop.id)
            continue
        rows.append({
            "id": vac.id, "provider_id": prov.id, "provider_name": prov.name, "property_id": prop.id,
            "postcode": prop.postcode, "service_type": prop.service_type, "setting": prop.setting,
            "ofsted_registered": prop.ofsted_registered, "ofsted_grade": prov.ofsted_grade,
            "beds": vac.beds, "available_from": vac.available_from, "age_min": prop.age_min,
            "age_max": prop.age_max, "sex": prop.sex, "tiers": prop.tiers,
            **{f"price_{t.value}": prop.price_for(t) for t in Tier},
            "accepts_needs": sorted(set(prop.accepts_needs or [])),
            "excludes_risks": sorted(set(prop.excludes_risks or [])),
            "shared_with": sorted(set(prop.resident_risks or []) | residents.get(prop.id, set())),
            "reserved_for": vac.reserved_for_referral_id, "ofsted_urn": prov.ofsted_urn,
            "in_house": prov.in_house, "support_hours": vac.support_hours,
        })
    return rows


def _resident_risks(session: Session) -> dict[str, set[str]]:
    """Risk codes of the young people actively placed at each property."""
    stmt = (
        select(Placement.property_id, Referral.risks_to_self, Referral.risks_to_others)
        .join(Referral, Referral.id == Placement.referral_id)
        .where(Placement.status == PlacementStatus.active)
    )
    out: dict[str, set[str]] = defaultdict(set)
    for property_id, to_self, to_others in session.execute(stmt):
        out[property_id].update(_risk_tokens(to_self, to_others))
    return out
