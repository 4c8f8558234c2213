"""What one panel run works on: the queue, the vacancies, the residents already in shared
homes, and the panel's locks and bans, as plain pandas frames.

The engine never touches the database or files itself: ``from_database`` and ``from_files``
build an :class:`Instance`, and everything downstream (eligibility, the solver, explanations,
baselines, benchmarks) takes one. Postcodes are already located here (grid references and
authority), so the engine only does arithmetic.

Frames (one row each; list cells are Python lists):

``referrals``: referral_id, date_of_birth, sex, legal_status, tier, urgency, referred_on,
home_postcode, home_e, home_n, home_la, edu_e, edu_n (NaN when no education postcode),
pref_e, pref_n (NaN when no preferred postcode), needs, risks_to_self, risks_to_others,
living_with, type_suitability (dict service type -> preferred|suitable|unsuitable),
avoid_e, avoid_n (lists of the grid references to keep away from), avoid_radius_miles,
sibling_group (None when not in one), deprivation_of_liberty.

``vacancies``: vacancy_id, property_id, provider_id, beds, available_from, reserved_for,
postcode, easting, northing, la_code, service_type, setting, ofsted_registered, ofsted_grade
(None when not graded), sex, age_min, age_max, accepts_needs, excludes_risks, price_standard,
price_enhanced, price_intensive (NaN where the tier is not offered); optionally support_hours
(the free support hours a week of a floating support or outreach package; 0, or the column
left out, for a home counted in beds alone).

``residents``: property_id, tier (None when not known), risks (risk codes, risks to others
written ``to_others:<code>``) for young people already living in each home.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models.enums import RISK_TO_OTHERS_PREFIX, PlacementStatus, ReferralStatus, Tier
from models.orm import Property, Provider, Referral, Vacancy
from models.people import home_resident, home_resident_step
from providers.geography import locate

REFERRAL_COLUMNS = [
    "referral_id", "date_of_birth", "sex", "legal_status", "tier", "urgency", "referred_on",
    "home_postcode", "home_e", "home_n", "home_la", "edu_e", "edu_n", "pref_e", "pref_n",
    "needs", "risks_to_self", "risks_to_others", "living_with", "type_suitability",
    "avoid_e", "avoid_n", "avoid_radius_miles", "sibling_group", "deprivation_of_liberty",
]
VACANCY_COLUMNS = [
    "vacancy_id", "property_id", "provider_id", "beds", "available_from", "reserved_for",
    "postcode", "easting", "northing", "la_code", "service_type", "setting",
    "ofsted_registered", "ofsted_grade", "sex", "age_min", "age_max", "accepts_needs",
    "excludes_risks", "price_standard", "price_enhanced", "price_intensive",
]
# Optional: a frame without it has no package counted in hours (beds alone, as before hours).
SUPPORT_HOURS = "support_hours"
RESIDENT_COLUMNS = ["property_id", "tier", "risks"]
PRICE_COLUMNS = {t: f"price_{t.value}" for t in Tier}


@dataclass
class Instance:
    panel_date: dt.date
    placing_authority: str
    referrals: pd.DataFrame
    vacancies: pd.DataFrame
    residents: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RESIDENT_COLUMNS))
    locks: list[tuple[str, str]] = field(default_factory=list)  # (referral_id, vacancy_id)
    bans: list[tuple[str, str]] = field(default_factory=list)
    # What providers answered when a referral was sent to them (providers.offers.answers_for_run):
    # {referral_id, provider_id, vacancy_id (None: declined), tier, weekly_price, start}. An
    # offer is the pair at its tier, price and start; a decline rules out all the provider's
    # homes for that young person (matching.pairs, matching.rules).
    answers: list[dict] = field(default_factory=list)
    # The same answers counted per referral (providers.offers.answers_by_referral), to explain a
    # young person left unplaced; no rule reads it.
    provider_answers: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, frame, columns in (
            ("referrals", self.referrals, REFERRAL_COLUMNS),
            ("vacancies", self.vacancies, VACANCY_COLUMNS),
            ("residents", self.residents, RESIDENT_COLUMNS),
        ):
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"{name} frame lacks columns: {', '.join(missing)}")
        self.referrals = self.referrals.reset_index(drop=True)
        self.vacancies = self.vacancies.reset_index(drop=True)
        if SUPPORT_HOURS not in self.vacancies.columns:
            self.vacancies = self.vacancies.assign(**{SUPPORT_HOURS: 0})
        self.residents = self.residents.reset_index(drop=True)


def risk_tokens(to_self, to_others) -> list[str]:
    """A young person's risks as one list: risks to others carry the ``to_others:`` prefix."""
    return sorted(set(to_self or []) | {RISK_TO_OTHERS_PREFIX + r for r in (to_others or [])})


def _grid(postcodes: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Grid references for optional postcodes (NaN where none is given)."""
    given = [p for p in postcodes if p]
    if not given:
        nan = np.full(len(postcodes), np.nan)
        return nan, nan.copy()
    found = locate(given).set_index("postcode")
    found = found[~found.index.duplicated()]
    e = np.array([found.at[p, "easting"] if p in found.index else np.nan for p in postcodes], dtype=float)
    n = np.array([found.at[p, "northing"] if p in found.index else np.nan for p in postcodes], dtype=float)
    return e, n


def _avoid_points(rows: list[list[str]]) -> tuple[list[list[float]], list[list[float]]]:
    flat = sorted({p for row in rows for p in row})
    if not flat:
        return [[] for _ in rows], [[] for _ in rows]
    found = locate(flat).set_index("postcode")
    es = [[float(found.at[p, "easting"]) for p in row if p in found.index] for row in rows]
    ns = [[float(found.at[p, "northing"]) for p in row if p in found.index] for row in rows]
    return es, ns


def referrals_frame(records: list[dict]) -> pd.DataFrame:
    """The referrals frame from plain records (keys as in ``models.people.Referral``)."""
    frame = pd.DataFrame.from_records(
        [
            {
                "referral_id": r["id"], "date_of_birth": r["date_of_birth"], "sex": str(r["sex"]),
                "legal_status": str(r["legal_status"]), "tier": str(r["tier"]),
                "urgency": str(r["urgency"]), "referred_on": r["referred_on"],
                "home_postcode": r["home_postcode"], "home_e": float(r["home_easting"]),
                "home_n": float(r["home_northing"]), "home_la": r["home_la_code"],
                "education_postcode": r.get("education_postcode"),
                "preferred_postcode": r.get("preferred_postcode"),
                "needs": sorted(map(str, r.get("needs") or [])),
                "risks_to_self": sorted(map(str, r.get("risks_to_self") or [])),
                "risks_to_others": sorted(map(str, r.get("risks_to_others") or [])),
                "living_with": str(r.get("living_with") or "no_preference"),
                "type_suitability": dict(r.get("type_suitability") or {}),
                "avoid_postcodes": list(r.get("avoid_postcodes") or []),
                "avoid_radius_miles": r.get("avoid_radius_miles"),
                "sibling_group": r.get("sibling_group") or None,
                "deprivation_of_liberty": bool(r.get("deprivation_of_liberty")),
            }
            for r in records
        ],
        columns=[*REFERRAL_COLUMNS, "education_postcode", "preferred_postcode", "avoid_postcodes"],
    )
    frame["edu_e"], frame["edu_n"] = _grid(frame["education_postcode"].tolist())
    frame["pref_e"], frame["pref_n"] = _grid(frame["preferred_postcode"].tolist())
    frame["avoid_e"], frame["avoid_n"] = _avoid_points(frame["avoid_postcodes"].tolist())
    frame["avoid_radius_miles"] = pd.to_numeric(frame["avoid_radius_miles"], errors="coerce").astype(float)
    for col in ("date_of_birth", "referred_on"):
        frame[col] = pd.to_datetime(frame[col])
    return frame[REFERRAL_COLUMNS].sort_values("referral_id", kind="stable").reset_index(drop=True)


def vacancies_frame(records: list[dict]) -> pd.DataFrame:
    # A home's name, where the records have it (the database's; vacancies.csv has none), only
    # to name it in the proposal's reasons (matching.why): no rule reads it.
    named = any("property_name" in r for r in records)
    frame = pd.DataFrame.from_records(records, columns=VACANCY_COLUMNS + [SUPPORT_HOURS]
                                      + (["property_name"] if named else []))
    frame["available_from"] = pd.to_datetime(frame["available_from"])
    frame["beds"] = frame["beds"].astype(int)
    frame[SUPPORT_HOURS] = pd.to_numeric(frame[SUPPORT_HOURS], errors="coerce").fillna(0).astype(int)
    for col in PRICE_COLUMNS.values():
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame.sort_values("vacancy_id", kind="stable").reset_index(drop=True)


# --- from the database -----------------------------------------------------------------------


def from_database(
    session: Session,
    placing_authority: str,
    panel_date: dt.date,
    *,
    referral_ids: list[str] | None = None,
    vacancy_ids: list[str] | None = None,
    locks: list[tuple[str, str]] = (),
    bans: list[tuple[str, str]] = (),
) -> Instance:
    """The open queue (or the named referrals) and every vacancy with free beds (or the named
    ones, with only their homes' residents: enough to check one choice, where loading a
    region's whole market for it made each panel decision slow)."""
    # The placing council's own young people and the market it may use: its own vacancies and
    # the region's (models.tenancy), whoever asks (the command line reads every council's rows).
    stmt = select(Referral).where(Referral.status == ReferralStatus.open)
    if referral_ids is not None:
        stmt = select(Referral).where(Referral.id.in_(referral_ids))
    stmt = stmt.where(Referral.council_code == placing_authority)
    referrals = [
        {c.key: getattr(r, c.key) for c in Referral.__table__.columns} for r in session.scalars(stmt)
    ]
    vacancies = []
    stmt = (
        select(Vacancy, Property, Provider)
        .join(Property, Vacancy.property_id == Property.id)
        .join(Provider, Property.provider_id == Provider.id)
        .where(Vacancy.beds > 0, or_(Vacancy.council_code.is_(None), Vacancy.council_code == placing_authority))
        .options(selectinload(Property.prices))
    )
    if vacancy_ids is not None:
        stmt = stmt.where(Vacancy.id.in_(vacancy_ids))
    homes = set()
    for vac, prop, prov in session.execute(stmt):
        homes.add(prop.id)
        vacancies.append({
            "vacancy_id": vac.id, "beds": vac.beds, "available_from": vac.available_from,
            "reserved_for": vac.reserved_for_referral_id, SUPPORT_HOURS: vac.support_hours or 0,
            **home_columns(prop, prov), "property_name": prop.name,
        })
    residents = residents_from_database(session, panel_date, homes if vacancy_ids is not None else None)
    from providers.offers import answers_by_referral, answers_for_run

    asked = [r["id"] for r in referrals]
    return Instance(
        panel_date=panel_date, placing_authority=placing_authority,
        referrals=referrals_frame(referrals), vacancies=vacancies_frame(vacancies),
        residents=residents, locks=list(locks), bans=list(bans),
        answers=answers_for_run(session, asked), provider_answers=answers_by_referral(session, asked),
    )


def home_columns(prop: Property, prov: Provider) -> dict:
    """A home's columns of the vacancies frame (where it is, what it is, who it takes, its
    prices), from the database: shared by every vacancy at it (and by the tender simulation's
    supply, scenarios.tender, which has one row a home)."""
    prices = {PRICE_COLUMNS[p.tier]: p.weekly_price for p in prop.prices}
    return {
        "property_id": prop.id, "provider_id": prov.id, "postcode": prop.postcode,
        "easting": prop.easting, "northing": prop.northing, "la_code": prop.la_code,
        "service_type": str(prop.service_type), "setting": str(prop.setting),
        "ofsted_registered": prop.ofsted_registered,
        "ofsted_grade": str(prov.ofsted_grade) if prov.ofsted_grade else None,
        "sex": str(prop.sex), "age_min": prop.age_min, "age_max": prop.age_max,
        "accepts_needs": sorted(prop.accepts_needs or []),
        "excludes_risks": sorted(prop.excludes_risks or []),
        **{c: prices.get(c, np.nan) for c in PRICE_COLUMNS.values()},
    }


def residents_from_database(session: Session, panel_date: dt.date, homes: set[str] | None = None) -> pd.DataFrame:
    """Who lives in each home (all homes, or ``homes``): placed residents and those known only
    by their risks."""
    rows = []
    # Through the views of residents (models.people.home_resident): a shared home's residents
    # placed by another council count too, though that council's records cannot be read here.
    stmt = select(home_resident).where(home_resident.c.status == PlacementStatus.active.value)
    known = select(Property.id, Property.resident_risks)
    if homes is not None:
        stmt, known = stmt.where(home_resident.c.property_id.in_(homes)), known.where(Property.id.in_(homes))
    placed = session.execute(stmt).all()
    steps: dict[int, list] = {}
    step_rows = select(home_resident_step).where(home_resident_step.c.starts_on <= panel_date)
    if homes is not None:
        step_rows = step_rows.where(home_resident_step.c.placement_id.in_([p.placement_id for p in placed]))
    for step in session.execute(step_rows.order_by(home_resident_step.c.starts_on)):
        steps.setdefault(step.placement_id, []).append(step.tier)
    for p in placed:
        rows.append({
            "property_id": p.property_id,
            "tier": str((steps.get(p.placement_id) or [p.tier])[-1]),
            "risks": risk_tokens(p.risks_to_self or [], p.risks_to_others or []),
        })
    for prop_id, risks in session.execute(known):
        if risks:  # residents known only by their risks (placed by others, or from a file)
            rows.append({"property_id": prop_id, "tier": None, "risks": sorted(risks)})
    return pd.DataFrame(rows, columns=RESIDENT_COLUMNS)


# --- from interchange files ------------------------------------------------------------------


def from_files(
    referrals_csv: str | Path,
    vacancies_csv: str | Path,
    placing_authority: str,
    panel_date: dt.date,
    *,
    locks: list[tuple[str, str]] = (),
    bans: list[tuple[str, str]] = (),
) -> Instance:
    """An instance from referrals.csv and vacancies.csv, validated exactly as an import is
    (providers.interchange raises ImportFailed naming file, row, column and reason)."""
    from providers.interchange import read_referrals, read_vacancies

    referrals = []
    for row in read_referrals(referrals_csv):
        r = row.referral
        referrals.append({
            **r.model_dump(exclude={"suitable_types", "unsuitable_types"}),
            "home_postcode": row.home.postcode, "home_easting": row.home.easting,
            "home_northing": row.home.northing, "home_la_code": row.home.la_code,
            "type_suitability": r.type_suitability(),
        })
    vacancies, residents = [], {}
    for row in read_vacancies(vacancies_csv, referral_risks=_risks_of(referrals)):
        v = row.vacancy
        vacancies.append({
            "vacancy_id": v.id, "property_id": v.property_id, "provider_id": v.provider_id,
            "beds": v.beds, "available_from": v.available_from,
            "reserved_for": v.reserved_for, SUPPORT_HOURS: v.support_hours or 0,
            "postcode": row.location.postcode, "easting": row.location.easting,
            "northing": row.location.northing, "la_code": row.location.la_code,
            "service_type": str(v.service_type), "setting": str(v.setting),
            "ofsted_registered": v.ofsted_registered,
            "ofsted_grade": str(v.ofsted_grade) if v.ofsted_grade else None,
            "sex": str(v.sex), "age_min": v.age_min, "age_max": v.age_max,
            "accepts_needs": sorted(map(str, v.accepts_needs)),
            "excludes_risks": sorted(v.excludes_risks),
            **{PRICE_COLUMNS[t]: (v.price(t) if t in v.tiers else np.nan) for t in Tier},
        })
        if row.resident_risks:
            residents[v.property_id] = sorted(row.resident_risks)
    resident_frame = pd.DataFrame(
        [{"property_id": p, "tier": None, "risks": r} for p, r in sorted(residents.items())],
        columns=RESIDENT_COLUMNS,
    )
    return Instance(
        panel_date=panel_date, placing_authority=placing_authority,
        referrals=referrals_frame(referrals), vacancies=vacancies_frame(vacancies),
        residents=resident_frame, locks=list(locks), bans=list(bans),
    )


def _risks_of(referrals: list[dict]) -> dict[str, list[str]]:
    return {r["id"]: risk_tokens(map(str, r["risks_to_self"]), map(str, r["risks_to_others"])) for r in referrals}
