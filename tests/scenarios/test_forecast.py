"""The sufficiency forecast: reading SSDA903 files (and refusing bad ones whole), the cohort
model's rules, the what-ifs, the backtest on the public samples, and the CLI on the demo."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from scenarios import cohort as C
from scenarios.aggregate import TableError, read_table
from scenarios.backtest import coverage, run_backtest, scores
from scenarios.demo_history import demo_history
from scenarios.forecast import (
    ForecastError,
    band_summary,
    forecast_history,
    forecast_table,
)
from scenarios.ssda903 import SSDA903Error, history_from_folder
from scenarios.what_if import WhatIfError, parse_adjustment

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ssda903-demand-samples"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_history(tmp_path_factory.mktemp("demo903"))


@pytest.fixture
def samples(tmp_path):
    if not SAMPLES.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    return folder


# --- the cohort model ---------------------------------------------------------------------------


def everyone_stays() -> C.Rates:
    """Rates with no moves, no exits and no arrivals."""
    stay = np.zeros((len(C.AGES), len(C.STATES), len(C.STATES) + 1))
    for s in range(len(C.STATES)):
        stay[:, s, s] = 1.0
    none = np.zeros((len(C.AGES), len(C.STATES)))
    return C.Rates(stay, none, none.copy())


def test_with_no_exits_a_cohort_aged_18_appears_aged_19_a_year_later():
    """The ageing identity: everyone stays (no one leaves, no one arrives)."""
    rates = everyone_stays()
    start = np.zeros((len(C.AGES), len(C.STATES)))
    start[18 - C.FIRST_AGE, C.STATES.index("care_leaver")] = 37
    year_on = C.project_mean(start, rates, 1)[1]
    assert year_on[19 - C.FIRST_AGE, C.STATES.index("care_leaver")] == 37
    assert year_on.sum() == 37


def test_the_law_holds_in_every_estimate(demo):
    P = C.estimate(C.observe(demo)).P
    np.testing.assert_allclose(P.sum(axis=2), 1.0)
    la = [C.STATES.index(s) for s in C.LOOKED_AFTER]
    assert P[17 - C.FIRST_AGE :, :, la].max() == 0  # nobody looked after at 18 or over
    assert P[: 17 - C.FIRST_AGE, :, C.STATES.index("staying_put")].max() == 0  # Staying Put is 18+
    assert (P[LAST := C.LAST_AGE - C.FIRST_AGE, :, C.OUT] == 1).all()  # everyone leaves after 25
    assert LAST == len(C.AGES) - 1


def test_eligibility_continues_past_21_only_for_the_configured_share(demo):
    obs = C.observe(demo)
    none = C.estimate(obs, C.Rules(continue_to_25_share=0.0))
    some = C.estimate(obs, C.Rules(continue_to_25_share=0.4))
    cl = C.STATES.index("care_leaver")
    assert none.P[20 - C.FIRST_AGE, cl, cl] == 0
    assert some.P[20 - C.FIRST_AGE, cl, cl] == pytest.approx(0.4)


def test_a_what_if_changes_its_rate_and_keeps_rows_distributions(demo):
    rules = C.Rules()
    base = C.estimate(C.observe(demo), rules)
    adjusted = C.adjust(base, [parse_adjustment("la_supported->care_leaver+0.2@16")], rules)
    i, j, k = 16 - C.FIRST_AGE, C.STATES.index("la_supported"), C.STATES.index("care_leaver")
    assert adjusted.P[i, j, k] == pytest.approx(min(1.0, base.P[i, j, k] + 0.2))
    np.testing.assert_allclose(adjusted.P.sum(axis=2), 1.0)
    more = C.adjust(base, [parse_adjustment("uasc_entries*2")], rules)
    np.testing.assert_allclose(more.uasc_entries, 2 * base.uasc_entries)


@pytest.mark.parametrize("text", ["entries", "entries*", "nonsense*2", "la_fostering->mars+0.1", "entries*2@30"])
def test_what_ifs_that_cannot_be_read_are_refused_with_the_form_to_use(text):
    with pytest.raises(WhatIfError, match="RATE|unknown rate|ages must"):
        parse_adjustment(text)


# --- the projection -----------------------------------------------------------------------------


def test_the_demo_councils_projection_has_intervals_around_the_mean(demo):
    result = forecast_history(demo, 5, replications=200)
    assert [d.year for d in result.dates] == [2025, 2026, 2027, 2028, 2029, 2030]
    last = result.people[result.people["date"] == result.dates[-1]]
    assert (last["lo95"] <= last["lo80"]).all() and (last["lo80"] <= last["hi80"]).all()
    assert (last["hi80"] <= last["hi95"]).all()
    leavers = last[(last["band"] == "18-20") & (last["state"] == "care_leaver")].iloc[0]
    assert leavers["lo80"] <= leavers["mean"] <= leavers["hi80"] and leavers["mean"] > 100
    sa = result.beds[result.beds["service_type"] == "supported_accommodation"]
    assert set(sa["tier"]) == {"standard", "enhanced", "intensive"} and (sa["mean"] > 0).all()


def test_the_same_seed_gives_the_same_forecast(demo):
    a = forecast_history(demo, 3, replications=100, seed=7).people
    b = forecast_history(demo, 3, replications=100, seed=7).people
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("horizon", [0, 11])
def test_a_horizon_of_zero_or_over_ten_years_is_refused(demo, horizon):
    with pytest.raises(ForecastError, match="1 to 10"):
        forecast_history(demo, horizon)


# --- reading the returns -------------------------------------------------------------------------


def test_the_public_samples_are_refused_as_they_are_and_read_with_repairs(samples):
    with pytest.raises(SSDA903Error) as refused:
        history_from_folder(samples)
    assert "has no row in the header file" in str(refused.value)
    history = history_from_folder(samples, repair=True)
    assert history.years == [2017, 2018, 2019, 2020, 2021]
    assert any("overlapping" in r for r in history.repairs) and any("no header row" in r for r in history.repairs)


def test_an_unknown_placement_code_names_the_file_row_code_and_the_years_list(demo, tmp_path):
    folder = tmp_path / "returns"
    demo_history(folder)  # writes the demo's CSV files there
    episodes = pd.read_csv(folder / "episodes.csv", dtype=str, keep_default_na=False)
    row = int(episodes.index[episodes["YEAR"] == "2024"][0])
    episodes.loc[row, "PLACE"] = "H5"  # H5 became K3 in 2024/25
    episodes.to_csv(folder / "episodes.csv", index=False)
    with pytest.raises(SSDA903Error) as refused:
        history_from_folder(folder)
    message = str(refused.value)
    assert f"episodes.csv row {row + 2}, column PLACE: unknown code 'H5' in 2024/25" in message
    assert "K3" in message.split("valid:")[1]


def test_overlapping_episodes_and_backwards_dates_are_refused(tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "header.csv").write_text("CHILD,SEX,DOB,LA,YEAR\n1,1,2007-05-01,X,2023\n2,2,2007-06-01,X,2023\n")
    (folder / "episodes.csv").write_text(
        "CHILD,DECOM,RNE,LS,PLACE,DEC,LA,YEAR\n"
        "1,2023-05-01,S,C2,U4,2023-09-01,X,2023\n"
        "1,2023-08-01,P,C2,U5,,X,2023\n"
        "2,2023-07-01,S,C2,U4,2023-06-01,X,2023\n")
    with pytest.raises(SSDA903Error) as refused:
        history_from_folder(folder)
    assert "episodes.csv row 4, column DEC: the episode ends (DEC) before it starts (DECOM)" in str(refused.value)
    (folder / "episodes.csv").write_text(
        "CHILD,DECOM,RNE,LS,PLACE,DEC,LA,YEAR\n1,2023-05-01,S,C2,U4,2023-09-01,X,2023\n1,2023-08-01,P,C2,U5,,X,2023\n")
    with pytest.raises(SSDA903Error, match="row 2, column DEC: child 1's episode from 2023-05-01 overlaps"):
        history_from_folder(folder)


def test_an_age_table_with_a_missing_year_is_refused_and_a_good_one_projects(tmp_path):
    bad = tmp_path / "ages.csv"
    bad.write_text("age,2021-03-31,2023-03-31\n16,40,41\n17,-3,50\n")
    with pytest.raises(TableError) as refused:
        read_table(bad)
    assert "missing years: 31 March 2022" in str(refused.value)
    assert "ages.csv row 3, column 2021-03-31: '-3' is not a count" in str(refused.value)
    good = tmp_path / "good.csv"
    good.write_text("age,2021-03-31,2022-03-31,2023-03-31,2024-03-31*\n16,40,44,41,45\n17,52,50,55,51\n18,48,50,47,52\n")
    table = read_table(good)
    assert [d.year for d in table.dates] == [2021, 2022, 2023] and list(table.projected) == [dt.date(2024, 3, 31)]
    result = forecast_table(table, 3, replications=100)
    assert {"16-17", "18-20"} <= set(result.people["band"]) and result.beds.empty


CARE_LEAVERS = "age,2012-03-31,2013-03-31,2014-03-31\n17,6,4,5\n18,66,70,64\n19,62,65,68\n20,60,58,64\n"


def _rows(table):
    return {(table.group_of(r), int(a)): r for r, a in enumerate(table.ages)}


def test_a_single_age_table_of_care_leavers_ages_each_year_exactly_and_keeps_its_18s(tmp_path):
    path = tmp_path / "care_leavers.csv"
    path.write_text(CARE_LEAVERS)
    table = read_table(path, group="care leavers")
    result = forecast_table(table, 3, replications=200)
    ages = result.ages
    assert set(ages["age"]) == {17, 18, 19, 20} and (ages["lo80"] <= ages["mean"]).all() \
        and (ages["mean"] <= ages["hi80"]).all()
    at = lambda day, age: ages[(ages["date"] == day) & (ages["age"] == age)].iloc[0]  # noqa: E731
    # 19s next year are this year's 18s times the pooled 18 -> 19 ratio (65 + 68) / (66 + 70); 20s likewise
    assert at(dt.date(2015, 3, 31), 19)["mean"] == pytest.approx(64 * (65 + 68) / (66 + 70))
    assert at(dt.date(2015, 3, 31), 20)["mean"] == pytest.approx(68 * (58 + 64) / (62 + 65))
    # the 18s come from care, not from the few 17-year-old care leavers: their recent level, every year
    for year in (2015, 2016, 2017):
        eighteen = at(dt.date(year, 3, 31), 18)
        assert eighteen["mean"] == pytest.approx((66 + 70 + 64) / 3) and eighteen["lo95"] > 20
        assert eighteen["comes from"] == "their recent level"
    assert any("care leavers aged 18: at their recent level" in n and "no looked-after 17-year-olds" in n
               for n in result.notes)
    band = result.people[(result.people["band"] == "18-20") & (result.people["date"] == dt.date(2017, 3, 31))]
    assert band.iloc[0]["mean"] > 150  # the band does not collapse (it was 196 at the last 31 March)


def test_care_leavers_at_18_are_fed_by_the_looked_after_17s_when_the_table_has_them(tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("age,group,2012-03-31,2013-03-31,2014-03-31\n17,Looked after,88,84,92\n"
                    "17,Care leavers,6,4,5\n18,CL,66,70,64\n19,care leaver,62,65,68\n")
    table = read_table(path)
    rows = _rows(table)
    result = forecast_table(table, 2, replications=100)
    eighteen = result.ages[(result.ages["age"] == 18) & (result.ages["group"] == "Care leavers")
                           & (result.ages["date"] == dt.date(2015, 3, 31))].iloc[0]
    assert eighteen["mean"] == pytest.approx(92 * (70 + 64) / (88 + 84))
    assert eighteen["comes from"] == "the looked-after a year younger"
    assert any("care leavers aged 18: from the looked-after 17-year-olds" in n for n in result.notes)
    assert {("looked_after", 17), ("care_leaver", 17), ("care_leaver", 18), ("care_leaver", 19)} == set(rows)


@pytest.mark.parametrize("spelling, group", [("Looked after", "looked_after"), ("CLA", "looked_after"),
                                             ("Care leavers", "care_leaver"), ("former relevant", "care_leaver"),
                                             ("All", "all")])
def test_an_age_tables_group_is_read_in_the_spellings_councils_use(tmp_path, spelling, group):
    path = tmp_path / "t.csv"
    path.write_text(f"age,Group,2013-03-31,2014-03-31\n18,{spelling},10,12\n19,{spelling},9,11\n")
    assert read_table(path).group_of(0) == group


def test_an_age_tables_group_is_refused_naming_the_forms_accepted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("age,group,2013-03-31,2014-03-31\n18,leavers?,10,12\n20,care leavers,9,11\n")
    with pytest.raises(TableError) as refused:
        read_table(path)
    text = str(refused.value)
    assert "t.csv row 2, column group: 'leavers?' is not a group; write looked after, care leavers or all" in text
    with pytest.raises(TableError, match="has its own group column"):
        read_table(path, group="care leavers")
    path.write_text("age,group,2013-03-31,2014-03-31\n18,care leavers,10,12\n20,care leavers,9,11\n")
    with pytest.raises(TableError, match="missing age.s. among care leavers: 19"):
        read_table(path)
    plain = tmp_path / "p.csv"
    plain.write_text(CARE_LEAVERS)
    with pytest.raises(TableError, match="group 'leavers': write looked after, care leavers or all"):
        read_table(plain, group="leavers")


def test_a_table_of_everyone_that_looks_like_care_leavers_only_says_how_to_describe_it(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CARE_LEAVERS)
    result = forecast_table(read_table(path), 2, replications=50)
    assert any("--group 'care leavers'" in n for n in result.notes)


def test_one_return_is_enough_to_fit_and_the_forecast_says_what_it_could_not_see(samples, tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    for name in ("header.csv", "episodes.csv", "uasc.csv"):
        frame = pd.read_csv(samples / name, dtype=str, keep_default_na=False)
        frame[frame["YEAR"] == "2020"].to_csv(one / name, index=False)
    history = history_from_folder(one, repair=True)
    assert len(history.census_dates) == 1
    result = forecast_history(history, 3, replications=100)
    moves = int(result.notes[0].split(" moves")[0].replace(",", ""))
    assert moves > 20  # the year's own episodes give the flows from care
    assert any(n.startswith("one return (2020-21)") and "two or more returns improve this" in n for n in result.notes)
    people = result.people
    assert (people["lo95"] <= people["lo80"]).all() and (people["lo80"] <= people["hi80"]).all() \
        and (people["hi80"] <= people["hi95"]).all()
    assert people[people["date"] == dt.date(2024, 3, 31)]["mean"].sum() > 0


def test_continuation_past_21_is_estimated_from_oc3_where_it_can_and_shown_as_an_assumption_where_not(demo):
    import dataclasses

    # The demo's OC3 rows have no activity: the share is assumed, and said so beside the 21-25s
    assumed = forecast_history(demo, 2, replications=50)
    note = next(n for n in assumed.notes if n.startswith("continuation past 21"))
    assert "30% assumed" in note and "an assumption" in note
    basis = assumed.people.set_index("band")["basis"]
    assert (basis.loc["21-25"] == note).all() and (basis.loc["16-17"] == "").all()
    # With activity: 19-21s in touch and in education or training, one in four of those rows
    oc3 = demo.oc3.copy()
    dob = pd.to_datetime(oc3["DOB"])
    age = oc3["YEAR"].astype(int) + 1 - dob.dt.year - (dob.dt.month > 3).astype(int)
    at_19_21 = np.flatnonzero(age.between(19, 21).to_numpy())
    oc3["ACTIV"] = "G4"  # not in education, training or employment
    oc3.iloc[at_19_21[::4], oc3.columns.get_loc("ACTIV")] = "F2"
    share, why = C.continuation(dataclasses.replace(demo, oc3=oc3))
    assert share == pytest.approx(len(at_19_21[::4]) / len(at_19_21))
    assert f"{share:.0%}, estimated from {len(at_19_21):,} OC3 rows at ages 19-21" in why
    estimated = forecast_history(dataclasses.replace(demo, oc3=oc3), 2, replications=50)
    assert any(n == why for n in estimated.notes)
    # a share given by the commissioner is used as given
    given = forecast_history(demo, 2, rules=C.Rules(continue_to_25_share=0.5), replications=50)
    assert "continuation past 21: 50%, as given" in given.notes


def test_an_oc3_activity_column_is_read_and_a_code_it_does_not_know_refused(tmp_path):
    folder = tmp_path / "returns"
    demo_history(folder)
    oc3_files = sorted(folder.glob("*oc3*.csv"))
    assert oc3_files
    for path in oc3_files:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["ACTIV"] = ["F2" if k % 3 == 0 else "G4" for k in range(len(frame))]
        frame.to_csv(path, index=False)
    share, why = C.continuation(history_from_folder(folder))
    assert share is not None and 0.15 < share < 0.5 and "estimated from" in why
    frame = pd.read_csv(oc3_files[0], dtype=str, keep_default_na=False)
    frame.loc[0, "ACTIV"] = "X9"
    frame.to_csv(oc3_files[0], index=False)
    with pytest.raises(SSDA903Error, match=f"{oc3_files[0].name} row 2, column ACTIV: unknown code 'X9'"):
        history_from_folder(folder)


def test_the_14_year_olds_come_from_the_under_14s_in_care_a_year_at_a_time():
    pipe = C.Pipeline(seen=np.array([10.0, 10, 10, 10]), stayed=np.array([9.0, 9, 9, 8]),
                      new=np.array([0.0, 2, 2, 2]), last=np.array([5.0, 6, 7, 10]), years=1)
    # next year: this year's ten 13-year-olds, 80% still in care; then the 12s, aged and joined
    # by the year's new 13-year-olds (7 x 0.9 + 2 = 8.3), and so on
    assert pipe.aged_in(3) == pytest.approx([8.0, 8.3 * 0.8, (7.4 * 0.9 + 2) * 0.8])


def test_the_pipeline_replaces_a_flat_average_of_14_year_olds_in_the_backtest(samples):
    history = history_from_folder(samples, repair=True)
    obs = C.observe(history, C.Rules())
    rates = C.estimate(obs, C.Rules())
    assert obs.pipeline is not None and obs.pipeline.seen.sum() > 0 and len(rates.aged_in) == C.MAX_PIPELINE_YEARS
    # the entries at 14 are those new to care; those already in care at 13 come from the pipeline
    assert rates.arrivals(0)[0].sum() == pytest.approx(rates.entries[0].sum() + rates.uasc_entries[0].sum()
                                                       + rates.aged_in[0].sum())
    result = run_backtest(history, C.Rules(continue_to_25_share=0.0), replications=100)
    cell = result.summary[(result.summary["horizon"] == 1) & (result.summary["band"] == "14-15")
                          & (result.summary["state"] == "la_fostering")].iloc[0]
    assert cell["WAPE model"] < cell["WAPE persistence"] and cell["WAPE model"] < 0.3


# --- the backtest --------------------------------------------------------------------------------


def test_the_backtest_on_the_public_samples_beats_both_baselines_one_year_ahead(samples):
    history = history_from_folder(samples, repair=True)
    result = run_backtest(history, C.Rules(continue_to_25_share=0.0), replications=100)
    for h in (1, 3):  # one year ahead and three years ahead, scored apart
        row = result.by_horizon[result.by_horizon["horizon"] == h].iloc[0]
        assert row["WAPE model"] < row["WAPE persistence"] and row["WAPE model"] < row["WAPE trend"], row
    one_year = result.folds[result.folds["horizon"] == 1]
    assert len(one_year) == 3 and (one_year["WAPE model"] < one_year["WAPE persistence"]).all(), one_year
    enough = result.summary[(result.summary["verdict"] != "too few") & (result.summary["horizon"] == 1)]
    assert len(enough) >= 4 and (enough["verdict"] == "model better").all(), enough
    cover80, cover95 = coverage(result.cells[result.cells["horizon"] == 1])
    assert cover80 >= 0.7 and cover95 >= 0.9  # near the nominal 80% and 95%


def test_backtest_scores_follow_the_documented_formulas_on_a_hand_checked_case():
    # two cells one year ahead (actual 10 and 30), one three years ahead (actual 0: no coverage)
    cells = pd.DataFrame([
        {"origin": 2020, "horizon": 1, "actual": 10, "model": 12, "persistence": 7, "trend": 10,
         "lo80": 9, "hi80": 11, "lo95": 8, "hi95": 13},
        {"origin": 2021, "horizon": 1, "actual": 30, "model": 27, "persistence": 30, "trend": 38,
         "lo80": 28, "hi80": 33, "lo95": 25, "hi95": 35},
        {"origin": 2020, "horizon": 3, "actual": 0, "model": 2, "persistence": 1, "trend": 0,
         "lo80": 0, "hi80": 3, "lo95": 0, "hi95": 4},
    ])
    one = scores(cells, ["horizon"]).set_index("horizon").loc[1]
    # WAPE = sum |error| / sum actual: (2 + 3) / 40, (3 + 0) / 40, (0 + 8) / 40; MAE the mean error
    assert one["WAPE model"] == pytest.approx(5 / 40) and one["MAE model"] == pytest.approx(2.5)
    assert one["WAPE persistence"] == pytest.approx(3 / 40) and one["WAPE trend"] == pytest.approx(8 / 40)
    # 10 lies in [9, 11] and 30 in [28, 33]: the 80% intervals cover both, the 95% too
    assert (one["cover 80"], one["cover 95"]) == (1.0, 1.0)
    three = scores(cells, ["horizon"]).set_index("horizon").loc[3]
    assert np.isnan(three["WAPE model"]) and np.isnan(three["cover 80"])  # nobody there: nothing to score
    folds = scores(cells, ["horizon", "origin"])
    assert list(zip(folds["horizon"], folds["origin"], folds["WAPE model"])) == \
        [(1, 2020, pytest.approx(0.2)), (1, 2021, pytest.approx(0.1)), (3, 2020, pytest.approx(np.nan, nan_ok=True))]


def test_a_bands_interval_comes_from_each_replications_total_not_from_adding_the_ages_bounds():
    # Two ages of a band that swap people between replications: the band total is always 10.
    ages, states = C.LAST_AGE - C.FIRST_AGE + 1, len(C.STATES)
    sims = np.zeros((200, 1, ages, states))
    high = np.arange(200) % 2 == 0
    sims[high, 0, 2, 0], sims[~high, 0, 2, 0] = 8, 2  # age 16
    sims[high, 0, 3, 0], sims[~high, 0, 3, 0] = 2, 8  # age 17
    shipped = band_summary(sims.mean(axis=0), sims)["16-17"]
    assert shipped["lo95"][0, 0] == shipped["hi95"][0, 0] == 10  # what the forecast ships
    added = np.percentile(sims[:, 0, 2, 0], 97.5) + np.percentile(sims[:, 0, 3, 0], 97.5)
    assert added == 16  # adding the ages' own bounds would claim up to 16


# --- the command line ----------------------------------------------------------------------------


def test_the_cli_forecasts_the_demo_council_and_draws_the_fan_chart(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'placematch.db'}")
    out = tmp_path / "forecast"
    result = CliRunner().invoke(app, ["forecast", "--input", "demo", "--horizon", "3", "--out", str(out),
                                      "--replications", "100", "--adjust", "uasc_entries*1.5"])
    assert result.exit_code == 0, result.output
    assert (out / "fan_chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    projection = pd.read_csv(out / "projection.csv")
    assert {"date", "band", "state", "mean", "lo80", "hi80", "lo95", "hi95"} <= set(projection.columns)
    assert (out / "ssda903" / "episodes.csv").exists()


def test_the_cli_refuses_a_bad_horizon_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'placematch.db'}")
    out = tmp_path / "forecast"
    result = CliRunner().invoke(app, ["forecast", "--input", "demo", "--horizon", "0", "--out", str(out)])
    assert result.exit_code == 1 and "1 to 10" in result.output
    assert not out.exists()


def test_a_saved_scenario_is_applied_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'placematch.db'}")
    runner = CliRunner()
    saved = runner.invoke(app, ["forecast", "scenario", "save", "more-uasc", "--adjust", "uasc_entries*2",
                                "--rule", "continue_to_25_share=0.5"])
    assert saved.exit_code == 0, saved.output
    run = runner.invoke(app, ["forecast", "--input", "demo", "--horizon", "2", "--out", str(tmp_path / "f"),
                              "--replications", "50", "--scenario", "more-uasc"])
    assert run.exit_code == 0, run.output
    missing = runner.invoke(app, ["forecast", "--input", "demo", "--scenario", "nope", "--out", str(tmp_path / "g")])
    assert missing.exit_code == 1 and "no forecast scenario named 'nope'" in missing.output


def test_the_monthly_step_lands_on_the_yearly_step_every_twelve_months(demo):
    """The tender simulation steps by month; people move on their birthdays, as in the yearly
    model, so every 31 March the two agree by age and state."""
    rules = C.Rules()
    rates = C.estimate(C.observe(demo), rules)
    start = C.counts(C.snapshot(demo, demo.census_dates[-1], rules))
    yearly = C.project_mean(start, rates, 3)
    by_month = C.project_monthly(start, rates, 36)
    for year in (1, 2, 3):
        np.testing.assert_allclose(by_month[12 * year], yearly[year], atol=1e-9)
    assert not np.allclose(by_month[6], yearly[0])  # and in between, it moves


def test_with_no_moves_the_monthly_step_only_ages_people():
    rates = everyone_stays()
    start = np.zeros((len(C.AGES), len(C.STATES)))
    start[18 - C.FIRST_AGE, C.STATES.index("care_leaver")] = 120
    after = C.project_monthly(start, rates, 12)
    assert after[12].sum() == pytest.approx(120)  # nobody lost or added
    assert after[12][19 - C.FIRST_AGE:, C.STATES.index("care_leaver")].sum() > 60  # most have turned 19


def test_a_misnamed_column_is_named_with_the_likely_intended_one_and_nothing_else(tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "header.csv").write_text("CHILD,SEX,DOB,LA,YEAR\n1,1,2007-05-01,X,2023\n")
    (folder / "episodes.csv").write_text("CHILD,DECOM,RNE,LS,PLAC,DEC,LA,YEAR\n1,2023-05-01,S,C2,U4,,X,2023\n")
    with pytest.raises(SSDA903Error) as refused:
        history_from_folder(folder)
    assert refused.value.problems == [refused.value.problems[0]]  # not also "an episodes file is needed"
    assert "episodes.csv row 1, column PLACE: missing from this episodes table (the file has 'PLAC': did you mean PLACE?)" \
        in str(refused.value)


def test_the_cli_backtest_reports_each_horizon_and_fold_in_words(samples, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'placematch.db'}")
    result = CliRunner().invoke(app, ["forecast", "backtest", "--input", str(samples), "--repair",
                                      "--replications", "100", "--out", str(tmp_path / "bt")])
    assert result.exit_code == 0, result.output
    assert "1 year ahead" in result.output and "3 years ahead" in result.output
    assert "Care leaver" in result.output and "care_leaver" not in result.output
    cells = pd.read_csv(tmp_path / "bt" / "backtest.csv")
    assert {"origin", "horizon", "band", "state", "actual", "model", "persistence", "trend", "lo80", "hi95"} <= set(cells.columns)
