"""Award options as tender scenarios: the market an award leaves (awarded providers' homes at the
prices they bid, the rest of the tendered service gone, block contracts and other services kept,
offered beds added), the ranking a different quality weight gives checked against the same
tender written out by hand with those weights, an option leaving a lot empty refused at its key,
and options run through the simulation side by side."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sqlalchemy import select

from models.db import transaction
from providers.tender_evaluation import evaluate
from providers.tender_files import read_tender
from scenarios.award_options import (
    AwardOption,
    evaluated,
    reweighted,
    standard_options,
    tenders_from,
)
from scenarios.tender import TenderFileError, apply, new_home, parse_scenario

TENDER = """\
name: Small framework
placing_authority: E06000035
starts_on: 2027-04-01
ends_on: 2030-03-31
price_weight: {price}
quality_weight: {quality}
quality_scale: 5
abnormally_low_percent: 20
award: {{top: 1}}
criteria:
  - {{id: q, name: Safeguarding, weight: {quality}}}
evaluators:
  - {{id: E1, name: Officer}}
lots:
  - number: 1
    name: Supported accommodation
    service_type: supported_accommodation
    tiers: [standard, enhanced]
    tier_mix: {{standard: 0.5, enhanced: 0.5}}
bids: bids.csv
scores: scores.csv
"""
# Lot prices (the mix's average): A 900, B 1150, N 1050; quality A 3, B 4, N 3 out of 5.
# At 60/40: A 60 + 24 = 84, B 46.96 + 32 = 78.96, N 51.43 + 24 = 75.43: A first.
# At 20/80: A 20 + 48 = 68, B 15.65 + 64 = 79.65, N 17.14 + 48 = 65.14: B first.
BIDS = """\
bidder_id,bidder_name,lot,price_standard,price_enhanced,price_intensive,capacity_beds
A,Alder Homes,1,800,1000,,3
B,Birch Housing,1,1000,1300,,2
N,Newcomer Supported Homes,1,900,1200,,4
"""
SCORES = "bidder_id,lot,criterion,evaluator,score\nA,1,q,E1,3\nB,1,q,E1,4\nN,1,q,E1,3\n"


@pytest.fixture
def tender_folder(tmp_path) -> Path:
    (tmp_path / "tender.yaml").write_text(TENDER.format(price=60, quality=40))
    (tmp_path / "bids.csv").write_text(BIDS)
    (tmp_path / "scores.csv").write_text(SCORES)
    return tmp_path


class Place:
    def __init__(self, postcode, easting, northing, la_code="E06000035"):
        self.postcode, self.easting, self.northing, self.la_code = postcode, easting, northing, la_code


def home(vid, provider, beds, easting, service="supported_accommodation", block=False, **prices):
    row = new_home(vid, provider, beds, Place(f"ME{vid}", easting, 168000.0), service,
                   {f"price_{t}": p for t, p in prices.items()}, "Old framework: lot 1", framework="Old framework",
                   block=block, void_weekly_cost=1500.0 if block else 0.0)
    return row | {"lot_id": 7, "occupied": 1 if provider == "A" else 0}


@pytest.fixture
def market():
    import pandas as pd

    return pd.DataFrame([
        home("1", "A", 1, 570000, standard=950, enhanced=1250, intensive=2400),
        home("2", "A", 1, 571000, standard=950, enhanced=1250),
        home("3", "B", 2, 575000, standard=1100, enhanced=1400),
        home("4", "C", 3, 580000, standard=700, enhanced=900),  # cheap, but it did not bid
        home("5", "D", 4, 572000, block=True, intensive=3100),  # a block contract runs on
        home("6", "E", 2, 573000, service="supported_tenancy", standard=400),  # not a service tendered
    ])


def scenario(option: str):
    return parse_scenario(f"name: Option\nsupply:\n  award:\n    tender: tender.yaml\n{option}", "option.yaml")


def by_provider(frame):
    return {p: g for p, g in frame.groupby("provider_id")}


def test_an_award_leaves_the_awarded_homes_at_their_bids_and_adds_the_beds_offered(tender_folder, market):
    out = apply(scenario("    top: 3\n"), market, file="option.yaml", tenders=tenders_from(None, tender_folder))
    homes = by_provider(out)
    assert set(homes) == {"A", "B", "D", "E", "N"}  # C did not bid: its home leaves the framework
    a = homes["A"]
    assert len(a) == 3 and a["beds"].sum() == 3  # two homes of 1 bed, and the 1 more bed A offered
    assert set(a["price_standard"]) == {800} and set(a["price_enhanced"]) == {1000}
    assert all(math.isnan(p) for p in a["price_intensive"])  # A bid no intensive support: no longer bought
    extra = a[a["vacancy_id"].str.startswith("A-")].iloc[0]
    assert extra["postcode"] == "ME1" and extra["occupied"] == 0  # at A's first home
    assert a.loc[a["vacancy_id"] == "1", "occupied"].tolist() == [1]  # who lives there today stays
    assert list(homes["B"]["beds"]) == [2] and set(homes["B"]["price_enhanced"]) == {1300}  # offered what it has
    n = homes["N"].iloc[0]
    assert n["beds"] == 4 and n["price_standard"] == 900
    assert n["postcode"] == "ME3"  # nearest the middle of today's supported accommodation (574,000 E; not D's block)
    d = homes["D"].iloc[0]
    assert bool(d["block"]) and d["price_intensive"] == 3100 and d["lot"] == "Old framework: lot 1"
    assert homes["E"].iloc[0]["price_standard"] == 400


def test_the_award_rule_and_the_quality_weight_choose_who_is_on_the_framework(tender_folder, market):
    find = tenders_from(None, tender_folder)
    as_tendered = apply(scenario(""), market, file="option.yaml", tenders=find)
    assert set(as_tendered["provider_id"]) == {"A", "D", "E"}  # top 1 at 60/40: A
    quality = apply(scenario("    quality_weight: 80\n"), market, file="option.yaml", tenders=find)
    assert set(quality["provider_id"]) == {"B", "D", "E"}  # at 20/80 B comes first


def test_a_reweighted_tender_ranks_as_the_same_tender_written_with_those_weights(tender_folder, tmp_path_factory):
    by_hand = tmp_path_factory.mktemp("by-hand")
    (by_hand / "tender.yaml").write_text(TENDER.format(price=20, quality=80))
    (by_hand / "bids.csv").write_text(BIDS)
    (by_hand / "scores.csv").write_text(SCORES)
    option = reweighted(read_tender(tender_folder / "tender.yaml"), AwardOption(tender="x", quality_weight=80))
    want = evaluate(read_tender(by_hand / "tender.yaml"))
    got = evaluate(option)
    assert [(r.bid.bidder_id, r.total) for r in got.ranked()] == [(r.bid.bidder_id, r.total) for r in want.ranked()]
    assert [(r.bid.bidder_id, r.total) for r in got.ranked()] == [("B", 79.65), ("A", 68.0), ("N", 65.14)]
    assert option.spec.price_weight == 20 and sum(c.weight for c in option.spec.criteria) == pytest.approx(80)


def test_an_option_leaving_a_lot_empty_or_naming_no_tender_is_refused_at_its_key(tender_folder, market):
    find = tenders_from(None, tender_folder)
    with pytest.raises(TenderFileError) as refused:
        apply(scenario("    min_score: 90\n"), market, file="option.yaml", tenders=find)
    [problem] = refused.value.problems
    assert problem.where == "supply > award > min_score" and problem.line == 5
    assert "lot 1 (Supported accommodation) would have no provider" in problem.reason
    with pytest.raises(TenderFileError, match="there is no file other.yaml next to the scenario file"):
        apply(parse_scenario("name: x\nsupply:\n  award: {tender: other.yaml}\n", "x.yaml"), market, tenders=find)
    outside = tender_folder.parent / "elsewhere.yaml"  # a real tender file, but not next to the scenario
    outside.write_text((tender_folder / "tender.yaml").read_text())
    with pytest.raises(TenderFileError, match="must be in the scenario file's folder"):
        apply(parse_scenario("name: x\nsupply:\n  award: {tender: ../elsewhere.yaml}\n", "x.yaml"), market,
              tenders=find)
    with pytest.raises(TenderFileError, match="give top: N or min_score: S, not both"):
        scenario("    top: 2\n    min_score: 50\n")
    with pytest.raises(TenderFileError, match="is kept in the service"):
        apply(parse_scenario("name: x\nsupply:\n  award: {tender: 4}\n", "x.yaml"), market, tenders=find)


def test_a_tender_kept_in_the_service_is_found_by_its_number(sqlite_engine, tender_folder, market):
    from models.accounts import User
    from models.enums import Role
    from providers.tender_store import save_upload

    files = {part: (f"{part}.csv", (tender_folder / f"{part}.csv").read_bytes()) for part in ("bids", "scores")}
    with transaction(sqlite_engine) as session:
        user = User(username="c.one", role=Role.commissioner, full_name="C One", password_hash="x")
        session.add(user)
        session.flush()
        kept = save_upload(session, ("tender.yaml", (tender_folder / "tender.yaml").read_text()), files, user).id
    with transaction(sqlite_engine) as session:
        find = tenders_from(session)
        out = apply(parse_scenario(f"name: x\nsupply:\n  award: {{tender: {kept}, top: 2}}\n", "x.yaml"), market,
                    tenders=find)
        assert set(out["provider_id"]) == {"A", "B", "D", "E"}
        with pytest.raises(TenderFileError, match="there is no tender 99"):
            apply(parse_scenario("name: x\nsupply:\n  award: {tender: 99}\n", "x.yaml"), market, tenders=find)
        assert session.scalar(select(User.username)) == "c.one"


def test_a_tender_file_given_as_a_scenario_is_named_for_what_it_is(tender_folder):
    with pytest.raises(TenderFileError, match="this is a tender's file"):
        parse_scenario((tender_folder / "tender.yaml").read_text(), "tender.yaml")


def test_the_standard_options_read_and_leave_their_markets(tender_folder, market):
    spec = read_tender(tender_folder / "tender.yaml").spec
    options = standard_options(spec, "tender.yaml")
    assert list(options) == ["baseline.yaml", "award-as-evaluated.yaml", "award-wider.yaml", "award-quality.yaml"]
    find = tenders_from(None, tender_folder)
    read = {name: parse_scenario(text, name) for name, text in options.items()}
    assert all(s.horizon_years == 3 for s in read.values())  # the framework's three years
    assert read["award-wider.yaml"].supply.award.top == 3
    assert read["award-quality.yaml"].supply.award.quality_weight == 50
    markets = {name: apply(s, market, file=name, tenders=find) for name, s in read.items()}
    assert set(markets["baseline.yaml"]["provider_id"]) == set(market["provider_id"])
    assert set(markets["award-wider.yaml"]["provider_id"]) == {"A", "B", "D", "E", "N"}
    assert evaluated(find, read["award-as-evaluated.yaml"].supply.award).awarded(1)[0].bid.bidder_id == "A"
