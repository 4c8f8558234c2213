"""The sufficiency forecast: people by age band and state, and beds by service type, tier and
area, for each 31 March up to ``horizon`` years ahead, with 80% and 95% intervals; written as
CSV and drawn as a fan chart.

Two inputs: SSDA903 histories (the full cohort model, scenarios.cohort), or a published table
of counts by single year of age and 31 March (scenarios.aggregate: cohort-change ratios, since
such a table has ages but no states).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from models.spreadsheet import inert_frame
from scenarios import cohort as C
from scenarios.demand import SERVICE_TYPES, TIERS, NeedMix, beds
from scenarios.ssda903 import History

MAX_HORIZON = 10
QUANTILES = {"lo95": 2.5, "lo80": 10.0, "hi80": 90.0, "hi95": 97.5}


class ForecastError(ValueError):
    pass


def check_horizon(horizon: int) -> int:
    if not 1 <= int(horizon) <= MAX_HORIZON:
        raise ForecastError(f"horizon {horizon}: give 1 to {MAX_HORIZON} years (a sufficiency strategy looks 3-5 ahead)")
    return int(horizon)


@dataclass
class Forecast:
    start: dt.date  # the last observed 31 March
    horizon: int
    people: pd.DataFrame  # date, band, state, mean, lo95, lo80, hi80, hi95
    beds: pd.DataFrame  # date, service_type, tier, area, mean, lo95, lo80, hi80, hi95
    notes: list[str] = field(default_factory=list)
    ages: pd.DataFrame | None = None  # from an age table: date, group, age, mean and bounds per single age
    councils: pd.DataFrame | None = None  # a region's forecast: each member's people, as ``people`` with "council"

    @property
    def dates(self) -> list[dt.date]:
        return [dt.date(self.start.year + k, 3, 31) for k in range(self.horizon + 1)]


def _summary(mean: np.ndarray, sims: np.ndarray) -> dict[str, np.ndarray]:
    out = {"mean": mean}
    for name, q in QUANTILES.items():
        out[name] = np.percentile(sims, q, axis=0)
    return out


def forecast_history(history: History, horizon: int, *, rules: C.Rules = C.Rules(),
                     adjustments: list[C.Adjustment] = (), mix: NeedMix | None = None,
                     replications: int = 500, seed: int = 2026, la: str | None = None) -> Forecast:
    """Project from the last 31 March in the files, with bootstrap intervals."""
    horizon = check_horizon(horizon)
    mix = mix or NeedMix()
    if la is not None:
        history = council_history(history, la)
    p = project(history, horizon, rules=rules, adjustments=adjustments, replications=replications,
                rng=np.random.default_rng(seed))
    after = p.notes.index(p.continuation) + 1
    notes = [*p.notes[:after], f"need mix: {mix.source}", *p.notes[after:]]
    forecast = _assemble(p.last, horizon, p.mean, p.sims, mix, notes)
    # The CSV carries the basis of the 21-25s beside their figures: an assumption is said so.
    forecast.people["basis"] = np.where(forecast.people["band"] == "21-25", p.continuation, "")
    return forecast


@dataclass
class Projection:
    """One council's projection: the mean path and every bootstrap replication, by year, state
    and single age (scenarios.cohort)."""

    last: dt.date
    mean: np.ndarray
    sims: np.ndarray
    continuation: str
    notes: list[str]


def council_history(history: History, la: str) -> History:
    """One council's returns out of files holding several (their ``LA`` column)."""
    if la not in set(history.episodes["LA"]):
        raise ForecastError(f"no council '{la}' in the files; they hold: {', '.join(sorted(set(history.episodes['LA'])))}")
    return History(history.episodes[history.episodes["LA"] == la], history.oc3[history.oc3["LA"] == la]
                   if len(history.oc3) else history.oc3, history.uasc, history.years, history.repairs)


def project(history: History, horizon: int, *, rules: C.Rules, adjustments: list[C.Adjustment],
            replications: int, rng: np.random.Generator) -> Projection:
    """The cohort model's projection of one council's returns, with its bootstrap replications."""
    if not history.census_dates:
        raise ForecastError("the files hold no return to forecast from")
    if rules.continue_to_25_share is None:
        share, continuation = C.continuation(history)
        rules = replace(rules, continue_to_25_share=share)
    else:
        continuation = f"continuation past 21: {rules.continue_to_25_share:.0%}, as given"
    last = history.census_dates[-1]
    start = C.counts(C.snapshot(history, last, rules))
    obs = C.observe(history, rules)
    rates = C.adjust(C.estimate(obs, rules), list(adjustments), rules)
    mean = C.project_mean(start, rates, horizon)
    sims = C.simulate(start, C.bootstrap_rates(obs, rules, replications, rng, adjustments), horizon, rng)
    notes = [f"{len(obs.moves):,} moves of {len(obs.keys):,} young people between {len(obs.years) + 1} census dates",
             *([f"one return ({last.year - 1}-{last.year % 100:02d}): the flows are its own episodes, from "
                f"31 March {last.year - 1}; care leavers' moves from year to year are not in one return, so "
                "they are taken to stay with the service to 21 (and the assumed share to 25); two or more "
                "returns improve this"] if len(history.census_dates) == 1 else []),
             continuation, *history.repairs]
    return Projection(last, mean, sims, continuation, notes)


def council_projections(history: History, horizon: int, councils: list[str] | None = None, *,
                        rules: C.Rules = C.Rules(), adjustments: list[C.Adjustment] = (), replications: int = 500,
                        seed: int = 2026) -> dict[str, Projection]:
    """Each member council's projection from its own returns (the files' LA column), each with
    its own seeded stream of replications, so a council's figures do not depend on which other
    councils are in the region."""
    horizon = check_horizon(horizon)
    councils = councils or sorted(set(history.episodes["LA"]))
    out = {}
    for la in councils:
        stream = np.random.default_rng([seed, *la.encode("utf-8")])
        out[la] = project(council_history(history, la), horizon, rules=rules, adjustments=adjustments,
                          replications=replications, rng=stream)
    last = {p.last for p in out.values()}
    if len(last) > 1:
        latest = max(last)
        behind = sorted(la for la, p in out.items() if p.last != latest)
        raise ForecastError(f"the councils' returns end on different 31 Marches: {', '.join(behind)} "
                            f"not yet at {latest:%-d %B %Y}; forecast a region from returns of the same year")
    return out


def forecast_region(history: History, horizon: int, councils: list[str] | None = None, *,
                    rules: C.Rules = C.Rules(), adjustments: list[C.Adjustment] = (), mix: NeedMix | None = None,
                    replications: int = 500, seed: int = 2026) -> Forecast:
    """A region's forecast: each member council projected from its own returns, and the region's
    figures the sum of theirs. Its intervals keep the uncertainty: replication r of the region is
    replication r of every council added up (the councils' draws are independent), and the
    bounds are taken from those sums, never by adding the councils' bounds (which would claim
    every council has its worst year at once)."""
    mix = mix or NeedMix()
    members = council_projections(history, horizon, councils, rules=rules, adjustments=adjustments,
                                  replications=replications, seed=seed)
    first = next(iter(members.values()))
    mean = sum(p.mean for p in members.values())
    sims = sum(p.sims for p in members.values())
    notes = [f"a region of {len(members)} councils ({', '.join(members)}): each projected from its own returns, "
             "the region's intervals from the sum of their replications", f"need mix: {mix.source}"]
    notes += [f"{la}: {p.notes[0]}; {p.continuation}" for la, p in members.items()]
    forecast = _assemble(first.last, check_horizon(horizon), mean, sims, mix, notes)
    forecast.people["basis"] = np.where(forecast.people["band"] == "21-25", "each council's own continuation", "")
    frames = []
    for la, p in members.items():
        own = _assemble(p.last, horizon, p.mean, p.sims, mix, []).people
        own.insert(0, "council", la)
        own["basis"] = np.where(own["band"] == "21-25", p.continuation, "")
        frames.append(own)
    forecast.councils = pd.concat(frames, ignore_index=True)
    return forecast


def band_summary(mean: np.ndarray, sims: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Per age band: the mean and the interval bounds by (year, state). A band's interval is taken
    from each replication's band total (a band's people rise and fall together), never by adding
    the ages' own bounds, which would be far too wide. The forecast ships these and the backtest
    scores these same intervals."""
    out = {}
    for band, (lo, hi) in C.AGE_BANDS.items():
        rows = slice(lo - C.FIRST_AGE, hi - C.FIRST_AGE + 1)
        out[band] = _summary(mean[:, rows].sum(axis=1), sims[:, :, rows].sum(axis=2))
    return out


def _assemble(last: dt.date, horizon: int, mean: np.ndarray, sims: np.ndarray, mix: NeedMix,
              notes: list[str]) -> Forecast:
    dates = [dt.date(last.year + k, 3, 31) for k in range(horizon + 1)]
    people_rows, bed_rows = [], []
    for band, stats in band_summary(mean, sims).items():
        for k, day in enumerate(dates):
            for s, state in enumerate(C.STATES):
                people_rows.append({"date": day, "band": band, "state": state,
                                    **{name: float(v[k, s]) for name, v in stats.items()}})
    bed_stats = _summary(beds(mean, mix), beds(sims, mix))
    areas = list(mix.areas)
    for k, day in enumerate(dates):
        for i, service in enumerate(SERVICE_TYPES):
            for j, tier in enumerate(TIERS):
                for m, area in enumerate(areas):
                    if bed_stats["mean"][k, i, j, m] == 0 and bed_stats["hi95"][k, i, j, m] == 0:
                        continue
                    bed_rows.append({"date": day, "service_type": service, "tier": tier, "area": area,
                                     **{name: float(v[k, i, j, m]) for name, v in bed_stats.items()}})
    return Forecast(last, horizon, pd.DataFrame(people_rows), pd.DataFrame(bed_rows), notes)


def write(forecast: Forecast, out: Path) -> list[Path]:
    """projection.csv (people), beds.csv, fan_chart.png, and from an age table ages.csv (each
    single age), in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "projection.csv", out / "beds.csv", out / "fan_chart.png"]
    inert_frame(forecast.people.round(2)).to_csv(paths[0], index=False)  # opened in spreadsheets
    inert_frame(forecast.beds.round(2)).to_csv(paths[1], index=False)
    fan_chart(forecast, paths[2])
    if forecast.ages is not None:
        paths.append(out / "ages.csv")
        inert_frame(forecast.ages.round(2)).to_csv(paths[-1], index=False)
    if forecast.councils is not None:
        paths.append(out / "projection_by_council.csv")
        inert_frame(forecast.councils.round(2)).to_csv(paths[-1], index=False)
    return paths


def fan_chart(forecast: Forecast, path: Path) -> None:
    """Totals by group with their 80% and 95% bands: people 16-17 looked after, care leavers
    18-25 (with Staying Put), and beds in supported accommodation at each tier. One chart for
    the CLI, the API and the forecast page: scenarios.forecast_chart draws it."""
    from scenarios.forecast_chart import fan_chart as draw

    draw(forecast, path)


def _fan(ax, frame: pd.DataFrame, label: str, colour: str) -> None:
    if not len(frame):
        return
    x = [d.year for d in frame.index]
    ax.fill_between(x, frame["lo95"], frame["hi95"], color=colour, alpha=0.15, linewidth=0)
    ax.fill_between(x, frame["lo80"], frame["hi80"], color=colour, alpha=0.3, linewidth=0)
    ax.plot(x, frame["mean"], color=colour, label=label, linewidth=2)


def forecast_table(table, horizon: int, *, replications: int = 500, seed: int = 2026) -> Forecast:
    """A published age table projected by cohort-change ratios (scenarios.aggregate): people by
    single year of age and by age band, for each group the table has (it has no states, so no
    beds); the notes say where each group's first ages come from."""
    from scenarios.aggregate import GROUPS, project_table, warnings

    horizon = check_horizon(horizon)
    mean, sims, plan = project_table(table, horizon, replications, seed)
    last = table.dates[-1]
    dates = [dt.date(last.year + k, 3, 31) for k in range(horizon + 1)]
    rows, age_rows = [], []
    groups = list(dict.fromkeys(table.group_of(r) for r in range(len(table.ages))))
    for group in groups:
        in_group = [r for r in range(len(table.ages)) if table.group_of(r) == group]
        state = f"{GROUPS[group].lower()} (table)"
        bands = {band: [r for r in in_group if lo <= table.ages[r] <= hi] for band, (lo, hi) in C.AGE_BANDS.items()}
        bands = {"under 14": [r for r in in_group if table.ages[r] < C.FIRST_AGE], **bands}
        for band, idx in bands.items():
            if not idx:
                continue
            stats = _summary(mean[:, idx].sum(axis=1), sims[:, :, idx].sum(axis=2))
            rows += [{"date": day, "band": band, "state": state, **{n: float(v[k]) for n, v in stats.items()}}
                     for k, day in enumerate(dates)]
        for r in in_group:
            stats = _summary(mean[:, r], sims[:, :, r])
            age_rows += [{"date": day, "group": GROUPS[group], "age": int(table.ages[r]),
                          **{n: float(v[k]) for n, v in stats.items()}, "comes from": plan[r].words}
                         for k, day in enumerate(dates)]
    notes = [f"cohort-change ratios from {len(table.dates)} observed years, each single age projected; "
             "the table has no states, so no beds", *(f.why for f in plan if f.why), *warnings(table)]
    if table.projected:
        notes.append("the table's own projected columns: " + ", ".join(f"{d:%d %b %Y}" for d in table.projected)
                     + " (shown for comparison, not used)")
    empty = pd.DataFrame(columns=["date", "service_type", "tier", "area", "mean", *QUANTILES])
    return Forecast(last, horizon, pd.DataFrame(rows), empty, notes, ages=pd.DataFrame(age_rows))
