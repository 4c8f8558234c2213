"""The demo council: Medway's panel queue and market, built from a seed.

Checked against DOMAIN.md (counts, price ranges, registration and grade rules, needs mix) and
against the real ONS postcode directory (every postcode is where the demo says it is). One demo
is built on SQLite for the module; determinism, PostgreSQL and the CSV round trip build their own.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect

from models.db import make_engine, migrate, transaction
from models.enums import (
    LegalStatus,
    OfstedGrade,
    PlacementStatus,
    ReferralStatus,
    ServiceType,
    Suitability,
    Tier,
)
from models.orm import (
    Framework,
    LocalAuthority,
    Lot,
    Placement,
    Property,
    Provider,
    Referral,
    SupportPlanStep,
    TierPrice,
    Vacancy,
    authority_adjacency,
)
from models.schemas import ReferralIn
from providers.demo import (
    DEMO_AUTHORITY,
    DemoError,
    DemoSummary,
    build_demo,
    load_authorities,
    summarise,
)
from providers.geography import locate

AS_OF = dt.date(2026, 11, 23)  # a Monday: panel day
S, E, I = Tier.standard, Tier.enhanced, Tier.intensive

# DOMAIN.md's weekly prices, written out here rather than imported so the test is an oracle.
# Floating support, and the support in a supported tenancy, is £20-35 an hour for the tier's
# hours: standard up to 7, enhanced 8-20, intensive above 20 up to 7-8 hours a day every day.
_ST = {S: (20 * 1, 35 * 7), E: (20 * 8, 35 * 20), I: (20 * 21, 35 * 56)}
PRICES = {
    ServiceType.supported_accommodation: {S: (900, 1400), E: (1400, 2500), I: (2500, 5000)},
    ServiceType.supported_tenancy: _ST,
    ServiceType.floating_support: _ST,
    ServiceType.supported_lodgings: {t: (250, 450) for t in Tier},
    ServiceType.staying_put: {t: (250, 450) for t in Tier},
    ServiceType.foster_care: {t: (900, 1200) for t in Tier},
    ServiceType.childrens_home: {t: (4000, 7000) for t in Tier},
    ServiceType.emergency: {t: (350, 700) for t in Tier},
}


def _build(engine, seed=2026, as_of=AS_OF) -> DemoSummary:
    with transaction(engine) as session:
        return build_demo(session, seed=seed, as_of=as_of)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    migrate(engine)
    summary = _build(engine)
    yield engine, summary
    engine.dispose()


@pytest.fixture(scope="module")
def db(demo):
    engine, _ = demo
    with transaction(engine) as session:
        yield session


def _open(db) -> list[Referral]:
    return list(db.scalars(select(Referral).where(Referral.status == ReferralStatus.open).order_by(Referral.id)))


def _plain(value):
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    return value


def _dump(engine) -> dict[str, list[tuple]]:
    """Every demo row, without timestamps, in primary-key order: equal dumps, equal councils."""
    out = {}
    with transaction(engine) as s:
        for model in (Referral, Provider, Property, TierPrice, Vacancy, Placement, SupportPlanStep, Framework, Lot):
            columns = [c.key for c in sa_inspect(model).column_attrs if c.key != "created_at"]
            rows = s.scalars(select(model)).all()
            out[model.__tablename__] = sorted(tuple(_plain(getattr(r, c)) for c in columns) for r in rows)
    return out


# Counts


def test_the_demo_has_the_size_the_issue_asks_for(demo, db):
    _, summary = demo
    assert summary.placing_authority_code == DEMO_AUTHORITY == "E06000035"
    assert summary.placing_authority_name == "Medway"
    assert summary.referrals_open >= 60
    assert summary.providers >= 25
    assert summary.properties >= 80
    assert summary.beds >= 200
    assert summary.frameworks >= 4 and summary.lots >= 7
    assert summary.placements_active > 0 and summary.vacancies > 0
    with_supply = [a for a in summary.areas if a.properties]
    assert len(with_supply) >= 6
    names = {a.name for a in with_supply}
    assert {"Medway", "Maidstone", "Gravesham", "Swale"} <= names
    assert {"adjoining", "at a distance"} <= {a.relation for a in with_supply}  # Kent; London and Essex
    # The summary is computed from the database: it agrees with a count of the rows.
    assert summary.properties == db.scalar(select(func.count()).select_from(Property))
    assert summary.beds == sum(p.total_beds for p in db.scalars(select(Property)))
    assert summary.free_beds == sum(v.beds for v in db.scalars(select(Vacancy)))
    assert summary.referrals_open == len(_open(db))
    assert sum(a.referrals for a in summary.areas) == summary.referrals_open
    assert sum(a.beds for a in summary.areas) == summary.beds


def test_the_summary_renders_as_plain_rows(demo):
    _, summary = demo
    assert summary.area_headings()[0] == "Local authority"
    rows = summary.area_rows()
    assert rows == summary.rows()
    assert rows[0][0] == "Medway"  # the placing authority first
    assert all(len(r) == len(summary.area_headings()) for r in rows)
    assert dict(summary.totals())["Open referrals"] == summary.referrals_open
    assert [r[0] for r in summary.tier_rows()] == ["standard", "enhanced", "intensive"]


def test_every_open_referral_is_16_to_24_on_the_panel_date(db):
    ages = Counter(r.age_on(AS_OF) for r in _open(db))
    assert min(ages) == 16 and max(ages) <= 24
    assert ages[17] >= ages[21]  # the queue is mostly 16-18 year olds leaving care


def test_every_postcode_is_real_and_in_the_authority_recorded(db):
    props = db.scalars(select(Property)).all()
    found = locate([p.postcode for p in props])
    assert found["error"].isna().all()
    assert list(found["la_code"]) == [p.la_code for p in props]
    assert list(found["easting"]) == [p.easting for p in props]
    refs = db.scalars(select(Referral)).all()
    homes = locate([r.home_postcode for r in refs])
    assert homes["error"].isna().all()
    assert list(homes["la_code"]) == [r.home_la_code for r in refs]
    assert list(homes["northing"]) == [r.home_northing for r in refs]
    education = [r for r in refs if r.education_postcode]
    edu = locate([r.education_postcode for r in education])
    assert edu["error"].isna().all() and list(edu["easting"]) == [r.education_easting for r in education]
    others = [pc for r in refs for pc in r.avoid_postcodes + [r.preferred_postcode] if pc]
    assert locate(others)["error"].isna().all()


def test_most_referrals_live_in_medway(db):
    homes = Counter(r.home_la_code for r in _open(db))
    assert homes[DEMO_AUTHORITY] / sum(homes.values()) >= 0.6
    assert all(r.home_postcode.startswith("ME") for r in _open(db) if r.home_la_code == DEMO_AUTHORITY)


# Prices, registration and grades


def test_prices_are_in_the_domain_ranges_and_bought_under_a_lot(db):
    for p in db.scalars(select(Property)):
        assert p.prices, p.id
        for price in p.prices:
            lo, hi = PRICES[p.service_type][price.tier]
            assert lo <= price.weekly_price <= hi, (p.id, p.service_type, price.tier, price.weekly_price)
            assert price.lot is not None and price.lot.service_type == p.service_type
        ordered = [p.price_for(t) for t in p.tiers]
        assert ordered == sorted(ordered), p.id  # more support never costs less


def test_a_block_lot_has_beds_and_a_void_cost(db):
    blocks = db.scalars(select(Lot).join(Lot.framework).where(Framework.kind == "block")).all()
    assert blocks and all(lot.block_beds and lot.void_weekly_cost for lot in blocks)
    kinds = set(db.scalars(select(Framework.kind)))
    assert {"dps", "block", "in_house", "spot"} <= {str(k) for k in kinds}


def test_registration_follows_the_2023_regulations(db):
    props = db.scalars(select(Property)).all()
    assert all(p.age_min >= 16 for p in props)  # no under-16s, ever
    assert all(p.ofsted_registered for p in props if p.age_min < 18)
    unregistered = [p for p in props if not p.ofsted_registered]
    assert unregistered and all(p.age_min >= 18 for p in unregistered)
    assert sum(p.ofsted_registered for p in props) > 0.75 * len(props)
    assert any(p.service_type == ServiceType.supported_accommodation for p in unregistered)  # a few 18+ homes


def test_grades_are_mostly_good_with_a_few_below(db):
    grades = Counter(p.ofsted_grade for p in db.scalars(select(Provider)) if p.ofsted_grade)
    assert grades[OfstedGrade.inadequate] == 1
    assert 1 <= grades[OfstedGrade.requires_improvement] <= 4
    assert grades[OfstedGrade.good] + grades[OfstedGrade.outstanding] >= 0.75 * sum(grades.values())


def test_in_house_lodgings_and_staying_put(db):
    props = db.scalars(select(Property)).all()
    lodgings = [p for p in props if p.service_type == ServiceType.supported_lodgings]
    staying = [p for p in props if p.service_type == ServiceType.staying_put]
    assert lodgings and staying
    for p in lodgings + staying:
        assert p.provider.in_house and p.setting.value == "private_residence"


# Referrals


def test_legal_status_matches_age(db):
    for r in _open(db):
        if r.age_on(AS_OF) >= 18:
            assert r.legal_status == LegalStatus.former_relevant, r.id
        else:
            assert r.legal_status != LegalStatus.former_relevant, r.id
    statuses = Counter(r.legal_status for r in _open(db) if r.age_on(AS_OF) < 18)
    assert statuses[LegalStatus.looked_after] and statuses[LegalStatus.eligible] and statuses[LegalStatus.relevant]


def test_the_needs_mix_is_in_proportion(db):
    refs = _open(db)
    n = len(refs)
    tiers = Counter(r.tier for r in refs)
    assert abs(tiers[S] / n - 0.45) <= 0.05 and abs(tiers[E] / n - 0.35) <= 0.05 and abs(tiers[I] / n - 0.20) <= 0.05
    needs = Counter(x for r in refs for x in r.needs)
    assert 0.10 <= needs["uasc"] / n <= 0.15
    assert needs["mental_health"] / n >= 0.3  # the commonest need
    assert 2 <= needs["pregnant_or_parenting"] <= 5 and needs["physical_disability"] == 2
    to_self = Counter(x for r in refs for x in r.risks_to_self)
    for risk in ("self_harm", "going_missing", "criminal_exploitation", "sexual_exploitation"):
        assert to_self[risk] >= 2, risk
    to_others = Counter(x for r in refs for x in r.risks_to_others)
    assert 1 <= to_others["sexual"] <= 2 and to_others["fire_setting"] == 1 and to_others["physical"] >= 2
    dol = [r for r in refs if r.deprivation_of_liberty]
    assert 1 <= len(dol) <= 2 and all(r.age_on(AS_OF) < 18 for r in dol)
    urgency = Counter(r.urgency.value for r in refs)
    assert urgency["today"] and urgency["within_5_days"] and urgency["over_5_days"] > n / 2
    assert any(r.living_with.value == "solo" for r in refs)


def test_referrals_pass_the_import_schema_and_carry_a_plan(db):
    for r in _open(db):
        suits = r.type_suitability
        # floating support is for those whose plan names it (it is not a home); none in the demo do
        assert set(suits) == set(ServiceType.codes()) - {"floating_support"}
        ReferralIn(
            id=r.id, date_of_birth=r.date_of_birth, sex=r.sex, legal_status=r.legal_status,
            home_postcode=r.home_postcode, education_postcode=r.education_postcode, tier=r.tier,
            urgency=r.urgency, needs=r.needs, risks_to_self=r.risks_to_self, risks_to_others=r.risks_to_others,
            living_with=r.living_with, suitable_types=[t for t, v in suits.items() if v == "preferred"],
            unsuitable_types=[t for t, v in suits.items() if v == "unsuitable"],
            preferred_postcode=r.preferred_postcode, avoid_postcodes=r.avoid_postcodes,
            avoid_radius_miles=r.avoid_radius_miles, sibling_group=r.sibling_group,
            deprivation_of_liberty=r.deprivation_of_liberty, referred_on=r.referred_on,
            duration_weeks=r.duration_weeks, step_down_weeks=r.step_down_weeks, wishes=r.wishes,
        )
        assert any(v == "preferred" for v in suits.values()), r.id
        assert AS_OF - dt.timedelta(weeks=8) <= r.referred_on <= AS_OF
        assert r.wishes and "," not in r.wishes
        assert r.duration_weeks
        if r.tier != S and "staying_put" not in [t for t, v in suits.items() if v == "preferred"]:
            assert r.step_down_weeks, r.id
        if r.age_on(AS_OF) < 18:
            assert r.suitability("emergency") == Suitability.unsuitable, r.id  # never B&B for a child
    assert [r.id for r in _open(db)][:3] == ["R0001", "R0002", "R0003"]


def test_two_sibling_pairs_and_a_few_exclusion_zones(db):
    refs = _open(db)
    groups = Counter(r.sibling_group for r in refs if r.sibling_group)
    assert sorted(groups.values()) == [2, 2]
    for group in groups:
        pair = [r for r in refs if r.sibling_group == group]
        assert pair[0].home_postcode == pair[1].home_postcode
    avoiders = [r for r in refs if r.avoid_postcodes]
    assert 3 <= len(avoiders) <= 6
    for r in avoiders:
        assert r.avoid_radius_miles and {"criminal_exploitation", "sexual_exploitation"} & set(r.risks_to_self)


# Occupancy


def test_shared_homes_have_residents_on_a_costed_support_plan(db):
    props = db.scalars(select(Property)).all()
    active = Counter(db.scalars(select(Placement.property_id).where(Placement.status == PlacementStatus.active)))
    for p in props:
        if p.setting.is_shared:
            assert active[p.id] or p.resident_risks, p.id
            if p.service_type == ServiceType.supported_accommodation:
                assert active[p.id] >= 1, p.id
        free = sum(v.beds for v in p.vacancies)
        assert active[p.id] + free <= p.total_beds, p.id
    stepped = 0
    for pl in db.scalars(select(Placement)):
        assert pl.referral.status == ReferralStatus.placed
        assert pl.weekly_cost == pl.property.price_for(pl.tier)
        assert pl.starts_on < AS_OF < pl.planned_end_on
        assert pl.support_plan[0].starts_on == pl.starts_on and pl.support_plan[0].tier == pl.tier
        for step in pl.support_plan:
            assert step.weekly_cost == pl.property.price_for(step.tier)
        if len(pl.support_plan) > 1:
            stepped += 1
            assert pl.support_plan[1].tier.rank == pl.tier.rank - 1
        age_at_start = pl.referral.age_on(pl.starts_on)
        assert pl.property.age_min <= age_at_start and pl.referral.age_on(AS_OF) <= pl.property.age_max
    assert stepped >= 5


def test_staying_put_vacancies_are_reserved_for_the_former_foster_child(db):
    vacancies = db.scalars(
        select(Vacancy).join(Vacancy.property).where(Property.service_type == ServiceType.staying_put)).all()
    assert len(vacancies) >= 2
    for v in vacancies:
        assert v.reserved_for_referral_id
        young = db.get(Referral, v.reserved_for_referral_id)
        assert young.status == ReferralStatus.open
        assert 17 <= young.age_on(AS_OF) <= 18
        assert young.suitability("staying_put") == Suitability.preferred
        assert young.age_on(v.available_from) >= 18  # the vacancy opens on the 18th birthday
    assert not db.scalars(select(Vacancy).join(Vacancy.property).where(
        Vacancy.reserved_for_referral_id.is_not(None), Property.service_type != ServiceType.staying_put)).all()


def test_beds_are_scarce_at_intensive_and_plentiful_at_standard(demo, db):
    _, summary = demo
    tiers = {t.tier: t for t in summary.tiers}
    assert tiers["intensive"].free_beds < tiers["intensive"].referrals
    assert tiers["standard"].free_beds > tiers["standard"].referrals
    when = [v.available_from for v in db.scalars(select(Vacancy))]
    assert min(when) == AS_OF and max(when) <= AS_OF + dt.timedelta(weeks=6)
    assert 0.2 <= when.count(AS_OF) / len(when) <= 0.7


# Determinism, databases, files


def test_same_seed_same_council_and_another_seed_another(demo, tmp_path):
    engine, _ = demo
    again = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    other = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    for e in (again, other):
        migrate(e)
    _build(again)
    _build(other, seed=7)
    reference = _dump(engine)
    assert _dump(again) == reference
    different = _dump(other)
    assert different["referral"] != reference["referral"]
    assert different["property"] != reference["property"]
    assert different["vacancy"] != reference["vacancy"]


def test_it_builds_the_same_council_on_each_database(engine, demo):
    summary = _build(engine)
    assert summary.referrals_open >= 60 and summary.beds >= 200
    assert _dump(engine) == _dump(demo[0])
    with transaction(engine) as s:
        assert summarise(s) == summary
        with pytest.raises(DemoError):
            build_demo(s, as_of=AS_OF)  # never on top of data already there


def test_authorities_load_once_with_adjacency_both_ways(sqlite_engine):
    with transaction(sqlite_engine) as s:
        added, pairs = load_authorities(s)
        assert added > 100 and pairs > 0
    with transaction(sqlite_engine) as s:
        assert load_authorities(s) == (0, 0)
        medway = s.get(LocalAuthority, DEMO_AUTHORITY)
        assert "E10000016" in {la.code for la in medway.adjoining}  # Kent
        assert DEMO_AUTHORITY in {la.code for la in s.get(LocalAuthority, "E10000016").adjoining}
        rows = {tuple(row) for row in s.execute(select(authority_adjacency.c.code_a, authority_adjacency.c.code_b))}
        assert all((b, a) in rows for a, b in rows)


def test_the_demo_exports_and_imports_cleanly(demo, tmp_path):
    interchange = pytest.importorskip("providers.interchange")
    engine, _ = demo
    written = interchange.export_dir(engine, tmp_path / "out")
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate(fresh)
    referrals = interchange.import_referrals(fresh, written["referrals"])
    vacancies = interchange.import_vacancies(fresh, written["vacancies"])
    assert referrals.rows >= 60 and vacancies.rows >= 20
    back = interchange.export_dir(fresh, tmp_path / "back")
    for kind in ("referrals", "vacancies"):
        assert back[kind].read_bytes() == written[kind].read_bytes(), kind
