"""The South East regional demo (issue 17, part 6): its councils, where its young people and homes
are, whose beds are whose, that it is the same every time for a seed, that it refuses a database
that holds data, and that the region's run on it keeps every council's guarantee."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.cli import app
from models.db import make_engine, migrate, transaction
from models.orm import Framework, Property, Provider, Referral, TierPrice, Vacancy
from models.tenancy import Council
from providers.authorities import default_authorities
from providers.demo import DemoError
from providers.geography import locate
from scenarios.region_demo import RCC_NAME, TAGS, build_region_demo

DAY = dt.date(2026, 11, 23)
SMALL = dict(referrals=160, rows=420)


def _built(path, seed=7):
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with transaction(engine) as session:
        summary = build_region_demo(session, seed=seed, as_of=DAY, **SMALL)
    return engine, summary


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    engine, summary = _built(tmp_path_factory.mktemp("region") / "region.db")
    yield engine, summary
    engine.dispose()


def test_every_south_east_council_is_a_member_of_the_co_operative(region):
    engine, summary = region
    authorities = default_authorities()
    with transaction(engine) as s:
        councils = s.execute(select(Council.code, Council.name, Council.rcc)).all()
    assert len(councils) == 17 and {c.rcc for c in councils} == {RCC_NAME}
    assert {c.code for c in councils} == set(TAGS)
    assert all(c.name == authorities.name(c.code) and authorities.region(c.code) == "South East" for c in councils)
    assert [c.code for c in summary.councils] == sorted(TAGS)
    assert abs(sum(c.postcode_share for c in summary.councils) - 1) < 1e-9
    # Kent has the most postcodes of the region, Slough the fewest.
    shares = {c.code: c.postcode_share for c in summary.councils}
    assert max(shares, key=shares.get) == "E10000016" and min(shares, key=shares.get) == "E06000039"


def test_each_young_person_lives_at_a_real_postcode_of_their_own_council(region):
    engine, summary = region
    authorities = default_authorities()
    with transaction(engine) as s:
        people = s.execute(select(Referral.id, Referral.council_code, Referral.home_postcode, Referral.home_la_code,
                                  Referral.education_postcode, Referral.sibling_group)).all()
    assert len(people) == SMALL["referrals"] == sum(c.referrals for c in summary.councils)
    found = locate([p.home_postcode for p in people])
    assert found["error"].isna().all()
    assert list(found["la_code"]) == [p.home_la_code for p in people]
    for p in people:
        assert authorities.upper_tier(p.home_la_code) == p.council_code
        assert p.id.startswith(TAGS[p.council_code] + "-R")
    schools = [p.education_postcode for p in people if p.education_postcode]
    assert 0.3 < len(schools) / len(people) < 0.7 and locate(schools)["error"].isna().all()
    # A sibling group is one council's, and has two or more young people in it.
    groups = Counter((p.council_code, p.sibling_group) for p in people if p.sibling_group)
    assert all(n >= 2 for n in groups.values())
    assert len({g for _, g in groups}) == len(groups)


def test_a_third_of_the_homes_are_one_councils_own_and_in_its_area(region):
    engine, summary = region
    authorities = default_authorities()
    with transaction(engine) as s:
        rows = s.execute(select(Vacancy.id, Vacancy.council_code, Vacancy.property_id, Property.la_code,
                                Property.provider_id).join(Property)).all()
        lots = s.execute(select(TierPrice.property_id, TierPrice.lot_id)).all()
        framework = s.scalars(select(Framework)).one()
        lot_ids = {lot.id for lot in framework.lots}
        grades = s.execute(select(Provider.id, Provider.ofsted_grade)).all()
    assert len(rows) == SMALL["rows"] == summary.rows
    own = [r for r in rows if r.council_code]
    assert 0.2 < len(own) / len(rows) < 0.47
    assert all(authorities.upper_tier(r.la_code) == r.council_code for r in own)
    assert {c.code: c.own_rows for c in summary.councils} == {c: n for c, n in Counter(r.council_code for r in own)
                                                              .items()} | {c.code: 0 for c in summary.councils
                                                                           if c.code not in {r.council_code for r in own}}
    # One owner per home; the region's homes are priced under the co-operative's framework, a
    # council's own under its own contract.
    owners = {}
    for r in rows:
        assert owners.setdefault(r.property_id, r.council_code) == r.council_code
    assert framework.council_code is None and framework.name.startswith(RCC_NAME)
    for property_id, lot_id in lots:
        assert (lot_id in lot_ids) if owners[property_id] is None else lot_id is None
    assert len(grades) == summary.providers


def test_the_same_seed_builds_the_same_region_and_another_seed_another(region, tmp_path):
    engine, _ = region
    again, _ = _built(tmp_path / "again.db")
    other, _ = _built(tmp_path / "other.db", seed=8)

    def contents(e):
        with transaction(e) as s:
            return (s.execute(select(Referral.id, Referral.home_postcode, Referral.tier, Referral.urgency,
                                     Referral.needs).order_by(Referral.id)).all(),
                    s.execute(select(Vacancy.id, Vacancy.council_code, Vacancy.beds, Vacancy.available_from)
                              .order_by(Vacancy.id)).all())

    assert contents(again) == contents(engine)
    assert contents(other) != contents(engine)
    again.dispose()
    other.dispose()


def test_a_database_holding_data_is_refused_with_nothing_added(region):
    engine, _ = region
    with transaction(engine) as s:
        before = s.scalar(select(func.count()).select_from(Referral))
    with pytest.raises(DemoError, match="already holds"), transaction(engine) as s:
        build_region_demo(s, seed=9, as_of=DAY, **SMALL)
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(Referral)) == before


def test_the_regions_run_on_the_demo_keeps_every_councils_guarantee(region, tmp_path):
    from api.panel_decisions import council_approval_policy
    from matching.panel import run_region
    from matching.policy import Policy
    from models.panel import ProposedMatch

    engine, summary = region
    policy = Policy.model_validate({"solver": {"time_limit_seconds": 10}})
    outcome = run_region(engine=engine, panel_date=DAY, policy=policy, approvals_of=council_approval_policy)
    out = outcome.region
    assert set(outcome.run_ids) == {c.code for c in summary.councils if c.referrals}
    assert all(out.placed[c] >= floor for c, floor in out.floors.items())
    assert sum(out.placed_people.values()) >= sum(out.alone_people.values())
    with transaction(engine) as s:
        proposals = s.execute(select(ProposedMatch.rank, ProposedMatch.vacancy_id, ProposedMatch.council_code,
                                     Referral.council_code.label("of"), Vacancy.beds, Vacancy.council_code.label("owner"))
                              .join(Referral, Referral.id == ProposedMatch.referral_id)
                              .join(Vacancy, Vacancy.id == ProposedMatch.vacancy_id)
                              .where(ProposedMatch.match_run_id.in_(outcome.run_ids.values()))).all()
    # Each council's run proposes (and offers as alternatives) homes for its own young people only,
    # never another council's own beds, and no row is proposed to more young people than it has beds.
    assert proposals and all(p.council_code == p.of and p.owner in (None, p.of) for p in proposals)
    used = Counter(p.vacancy_id for p in proposals if p.rank == 0)
    beds = {p.vacancy_id: p.beds for p in proposals}
    assert all(n <= beds[v] for v, n in used.items())


def test_the_command_names_an_unknown_region(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    result = CliRunner().invoke(app, ["demo", "--region", "north-west"])
    assert result.exit_code == 2
    assert "north-west" in result.output and "south-east" in result.output


def test_each_council_matches_under_its_own_panel_policy(tmp_path, monkeypatch):
    from models.panel import MatchRun

    engine, _ = _built(tmp_path / "policies.db", seed=11)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'policies.db'}")
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "E10000016.yaml").write_text("distance_cap_miles: 12\n")
    result = CliRunner().invoke(app, ["match", "--region", "--policies", str(folder), "--time-limit", "10",
                                      "--panel-date", "2026-11-23"])
    assert result.exit_code == 0, result.output
    with transaction(make_engine(f"sqlite:///{tmp_path / 'policies.db'}")) as s:
        caps = dict(s.execute(select(MatchRun.council_code, MatchRun.policy)).all())
    assert caps["E10000016"]["distance_cap_miles"] == 12
    assert {p["distance_cap_miles"] for c, p in caps.items() if c != "E10000016"} == {60}
    # A policy file that cannot be used is refused before anything runs, naming it.
    (folder / "E06000035.yaml").write_text("distance_cap_miles: -3\n")
    refused = CliRunner().invoke(app, ["match", "--region", "--policies", str(folder)])
    assert refused.exit_code == 2 and "E06000035.yaml" in refused.output and "distance_cap_miles" in refused.output
