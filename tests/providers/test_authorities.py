"""Local authorities: upper tiers, adjacency and the reg. 11 in-area / adjoining / at-a-distance test."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from providers.authorities import DEFAULT_ADJACENCY_CSV, DEFAULT_AUTHORITIES_CSV, Authorities, default_authorities
from providers.geography import locate, postcodes_in

MEDWAY, KENT, ESSEX = "E06000035", "E10000016", "E10000012"
MAIDSTONE, CANTERBURY, GRAVESHAM = "E07000110", "E07000106", "E07000109"
THURROCK, SOUTHEND, CROYDON, BROMLEY = "E06000034", "E06000033", "E09000008", "E09000006"
KENT_DISTRICTS = [f"E07000{n}" for n in range(105, 117)]
ESSEX_DISTRICTS = [f"E070000{n}" for n in range(66, 78)]


@pytest.fixture(scope="module")
def authorities() -> Authorities:
    return default_authorities()


def test_names_are_right(authorities):
    assert authorities.name(MEDWAY) == "Medway"
    assert authorities.name(KENT) == "Kent"
    assert authorities.name(GRAVESHAM) == "Gravesham"
    assert authorities.name("E07000112") == "Folkestone and Hythe"
    assert authorities.name(SOUTHEND) == "Southend-on-Sea"
    assert authorities.name("E09000001") == "City of London"
    assert authorities.name("E99999999") == "E99999999"  # unknown codes still display


def test_every_london_borough_kent_and_essex_district_is_known(authorities):
    london = [f"E09{n:06d}" for n in range(1, 34)]
    for code in london + KENT_DISTRICTS + ESSEX_DISTRICTS + [MEDWAY, THURROCK, SOUTHEND, KENT, ESSEX]:
        assert authorities.is_known(code), code


@pytest.mark.parametrize("district", KENT_DISTRICTS)
def test_kent_districts_sit_in_kent_county_council(authorities, district):
    assert authorities.upper_tier(district) == KENT
    assert authorities.same_area(district, KENT)
    assert not authorities.adjoins(district, KENT)


def test_essex_districts_sit_in_essex_and_unitaries_are_their_own_upper_tier(authorities):
    assert {authorities.upper_tier(d) for d in ESSEX_DISTRICTS} == {ESSEX}
    for unitary in (MEDWAY, THURROCK, SOUTHEND, CROYDON):
        assert authorities.upper_tier(unitary) == unitary


def test_unknown_codes_are_their_own_upper_tier_and_unknown_districts_are_flagged(authorities):
    assert authorities.upper_tier("E06000099") == "E06000099"
    assert not authorities.is_unresolved("E06000099")
    assert authorities.upper_tier("E07000999") == "E07000999"
    assert authorities.is_unresolved("E07000999")
    assert not authorities.is_unresolved(MAIDSTONE)


def test_medway_adjoins_kent_but_not_across_the_thames(authorities):
    assert authorities.adjoins(MEDWAY, KENT)
    assert authorities.adjoins(KENT, MEDWAY)
    assert authorities.adjoins(MEDWAY, MAIDSTONE)  # a district answers for its county
    for across_the_estuary in (ESSEX, THURROCK, SOUTHEND):
        assert not authorities.adjoins(MEDWAY, across_the_estuary)
    assert authorities.neighbours(MEDWAY) == {KENT}


def test_an_area_does_not_adjoin_itself(authorities):
    assert not authorities.adjoins(MEDWAY, MEDWAY)
    assert authorities.same_area(MEDWAY, MEDWAY)
    assert not authorities.same_area(MEDWAY, KENT)


def test_other_known_neighbours(authorities):
    assert authorities.adjoins(KENT, BROMLEY) and authorities.adjoins(KENT, "E09000004")  # Bexley
    assert authorities.adjoins(KENT, "E10000011") and authorities.adjoins(KENT, "E10000030")  # E Sussex, Surrey
    assert authorities.adjoins(ESSEX, THURROCK) and authorities.adjoins(ESSEX, SOUTHEND)
    assert not authorities.adjoins(KENT, CROYDON)


def test_every_code_in_the_shipped_adjacency_is_a_named_upper_tier_authority():
    table = pd.read_csv(DEFAULT_AUTHORITIES_CSV, comment="#", dtype=str)
    upper = set(table["upper_tier_code"])
    pairs = pd.read_csv(DEFAULT_ADJACENCY_CSV, comment="#", dtype=str)
    assert set(pairs["code_a"]) | set(pairs["code_b"]) <= upper
    assert set(table["upper_tier_code"]) <= set(table["code"])  # every county has its own row


def test_shipped_codes_are_the_codes_the_postcode_directory_uses():
    # Catches ONS recoding: a district code that no postcode carries would silently match nothing.
    from providers.geography import _DIRECTORY  # the loaded directory itself, all codes at once

    table = pd.read_csv(DEFAULT_AUTHORITIES_CSV, comment="#", dtype=str)
    lower = set(table.loc[table["code"].str.startswith(("E06", "E07", "E09")), "code"])
    in_directory = set()
    for letter in "ABCDEGHIKLMNPRSTUW":  # the first letters of postcodes in these authorities
        in_directory |= set(_DIRECTORY.frame(letter)["la_code"].dropna())
    assert lower - in_directory == set()


def test_classify_medway_maidstone_and_croydon_postcodes_for_medway(authorities):
    places = locate(pd.Series(["ME4 4AA", "ME14 1AA", "CR0 1AA", "SS1 1AA", "ME4 9ZY"], index=list("abcde")))
    result = authorities.classify(MEDWAY, places["la_code"])
    assert result.index.tolist() == list("abcde")
    assert list(result.columns) == ["in_area", "adjoining", "at_a_distance"]
    rows = result.astype(object).where(result.notna(), None).values.tolist()
    assert rows == [
        [True, False, False],  # Chatham: in Medway
        [False, True, False],  # Maidstone: Kent adjoins Medway
        [False, False, True],  # Croydon: at a distance, needs the Director
        [False, False, True],  # Southend: across the estuary, not adjoining by default
        [None, None, None],  # not found: unknown, never "near"
    ]


def test_classify_for_a_county_counts_its_districts_as_in_area(authorities):
    codes = pd.Series([MAIDSTONE, CANTERBURY, MEDWAY, BROMLEY, ESSEX_DISTRICTS[0]])
    result = authorities.classify(KENT, codes)
    assert result["in_area"].tolist() == [True, True, False, False, False]
    assert result["adjoining"].tolist() == [False, False, True, True, False]
    assert result["at_a_distance"].tolist() == [False, False, False, False, True]


def test_classify_is_consistent_with_the_scalar_questions_on_real_postcodes(authorities):
    codes = pd.concat([postcodes_in(code, letters)["la_code"].head(3) for code, letters in
                       [(MEDWAY, "M"), (GRAVESHAM, "D"), (THURROCK, "R"), (CROYDON, "C"), ("E07000070", "C")]],
                      ignore_index=True)
    result = authorities.classify(MEDWAY, codes)
    for code, row in zip(codes, result.itertuples()):
        assert row.in_area == authorities.same_area(MEDWAY, code)
        assert row.adjoining == authorities.adjoins(MEDWAY, code)
        assert row.at_a_distance == (not row.in_area and not row.adjoining)


def test_a_custom_adjacency_file_changes_the_answer(tmp_path: Path):
    custom = tmp_path / "adjacency.csv"
    custom.write_text(
        "# Medway treats Thurrock, across the Thames, as adjoining\n"
        "code_a,code_b\n"
        f"{MEDWAY},{KENT}\n"
        f"{THURROCK},{MEDWAY}\n"
    )
    local = Authorities(adjacency_csv=custom)
    grays = locate(["RM17 6AA"])["la_code"]
    assert default_authorities().classify(MEDWAY, grays)["at_a_distance"].tolist() == [True]
    assert local.classify(MEDWAY, grays)[["adjoining", "at_a_distance"]].values.tolist() == [[True, False]]
    assert local.adjoins(MEDWAY, THURROCK) and local.adjoins(THURROCK, MEDWAY)


def test_the_adjacency_file_can_be_named_by_environment(tmp_path: Path, monkeypatch):
    custom = tmp_path / "none.csv"
    custom.write_text("code_a,code_b\n")
    monkeypatch.setenv("PLACEMATCH_ADJACENCY", str(custom))
    assert not Authorities().adjoins(MEDWAY, KENT)


def test_extra_pairs_add_to_the_shipped_ones():
    local = Authorities(extra_pairs=[(MEDWAY, SOUTHEND)])
    assert local.adjoins(MEDWAY, SOUTHEND) and local.adjoins(MEDWAY, KENT)


def test_a_pair_inside_one_area_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="cannot adjoin itself"):
        Authorities(extra_pairs=[(MAIDSTONE, KENT)])


def test_a_file_without_the_expected_columns_is_refused(tmp_path: Path):
    bad = tmp_path / "adjacency.csv"
    bad.write_text("from,to\nE06000035,E10000016\n")
    with pytest.raises(ValueError, match="code_a"):
        Authorities(adjacency_csv=bad)


def test_the_south_east_has_at_least_ten_childrens_services_councils(authorities):
    """The South East's Regional Care Co-operative (issue 17): its upper-tier councils are known,
    each with its own area for reg. 11, and the Berkshire unitaries adjoin one another."""
    table = pd.read_csv(DEFAULT_AUTHORITIES_CSV, comment="#", dtype=str)
    south_east = table[(table["region"] == "South East") & (table["code"] == table["upper_tier_code"])]
    assert len(south_east) >= 10
    assert authorities.same_area("E06000038", "E06000038") and authorities.adjoins("E06000038", "E06000041")
    assert not authorities.adjoins("E06000045", "E06000044")  # Southampton and Portsmouth: Hampshire between
