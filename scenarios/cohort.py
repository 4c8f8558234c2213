"""The cohort model: young people aged 14-25 by single year of age and state, stepped a year at
a time from one 31 March to the next.

States: looked after by placement category (fostering, residential, supported accommodation,
other), Staying Put, care leaver; and "out" (not with the service: never came, or left). Each
year, everyone ages by one; a young person in state s at age a moves to s' with probability
``P[a, s, s']`` (a Markov model estimated from the histories), and new young people arrive at
each age and state (entries, Poisson, UASC as a stream of their own). The rules that are law or
policy, not behaviour, are imposed on the estimate: nobody is looked after at 18 (they become
care leavers, or Staying Put from fostering); Staying Put ends at 21; care leavers' eligibility
ends at 21, or continues to 25 for a configured share; everyone leaves the model after 25.

Estimates are smoothed: each age's observed transitions are shrunk towards the same state's
transitions pooled over its age band (``SMOOTHING`` pseudo-observations), so a cell seen twice
does not get probabilities of 0 and 1.

Uncertainty comes from a bootstrap: children are resampled with replacement (so the years and
transitions of one child stay together), the rates re-estimated, and each replication simulated
with process noise (multinomial moves, Poisson entries). Both the estimate's uncertainty (small
councils have few transitions at each age) and the year-to-year chance in who moves are in the
intervals, which a propagated variance of the mean alone would miss.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from scenarios.ssda903 import FOSTERING, RESIDENTIAL, SHORT_BREAKS, SUPPORTED_BEFORE_2024, SUPPORTED_FROM_2024, History

STATES = ("la_fostering", "la_residential", "la_supported", "la_other", "staying_put", "care_leaver")
LOOKED_AFTER = STATES[:4]
OUT = len(STATES)  # the column for "left the model" in a transition row
FIRST_AGE, LAST_AGE = 14, 25
AGES = np.arange(FIRST_AGE, LAST_AGE + 1)
SMOOTHING = 5.0  # pseudo-observations pulling an age's transitions towards its band's
AGE_BANDS = {"14-15": (14, 15), "16-17": (16, 17), "18-20": (18, 20), "21-25": (21, 25)}
STATE_LABELS = {
    "la_fostering": "Looked after: fostering", "la_residential": "Looked after: residential",
    "la_supported": "Looked after: supported accommodation", "la_other": "Looked after: other",
    "staying_put": "Staying Put", "care_leaver": "Care leaver",
}


def band_of(age: int) -> str:
    return next(name for name, (lo, hi) in AGE_BANDS.items() if lo <= age <= hi)


@dataclass(frozen=True)
class Rules:
    """What law and local policy fix, and the defaults for what the data cannot tell."""

    staying_put_share: float = 0.25  # of 17-year-olds in foster care who stay put at 18 (no OC3 Z codes seen)
    # Of care leavers turning 21, the share who stay with the service to 25: None for "from the
    # returns where they can tell (continuation()), else the assumed share".
    continue_to_25_share: float | None = None
    staying_put_until: int = 21
    eligible_until: int = 21

    @property
    def continue_share(self) -> float:
        return ASSUMED_CONTINUATION if self.continue_to_25_share is None else self.continue_to_25_share


ASSUMED_CONTINUATION = 0.3
# OC3 ACTIV codes for higher or other education or training, full or part time: the care leavers
# whose support the law continues past 21 to 25 while they study.
EDUCATION_OR_TRAINING = {"F1", "P1", "F2", "P2"}
MIN_OC3_ROWS = 20


def continuation(history: History) -> tuple[float | None, str]:
    """The share of care leavers who stay with the service past 21, estimated from the returns'
    OC3 rows at ages 19-21 (birthdays in the year) as the share in touch and in education or
    training; (None, why not) when the returns cannot tell, and the assumed share is used."""
    oc3 = history.oc3
    assumed = f"{ASSUMED_CONTINUATION:.0%} assumed to stay with the service from 21 to 25"
    if oc3 is None or not len(oc3) or "ACTIV" not in oc3.columns:
        return None, f"continuation past 21: {assumed} (an assumption: the returns have no OC3 activity to estimate it)"
    dob = pd.to_datetime(oc3["DOB"])
    age = oc3["YEAR"].astype(int) + 1 - dob.dt.year - (dob.dt.month > 3).astype(int)
    rows = oc3[age.between(19, 21) & (oc3["IN_TOUCH"] != "DIED")]
    if len(rows) < MIN_OC3_ROWS:
        return None, (f"continuation past 21: {assumed} (an assumption: only {len(rows)} OC3 rows at ages 19-21, "
                      f"fewer than {MIN_OC3_ROWS})")
    share = float((rows["IN_TOUCH"].eq("YES") & rows["ACTIV"].isin(EDUCATION_OR_TRAINING)).mean())
    return share, (f"continuation past 21: {share:.0%}, estimated from {len(rows):,} OC3 rows at ages 19-21 "
                   "(in touch and in education or training)")


def placement_state(place: pd.Series) -> pd.Series:
    supported = SUPPORTED_BEFORE_2024 | SUPPORTED_FROM_2024
    return pd.Series(np.select(
        [place.isin(FOSTERING), place.isin(RESIDENTIAL), place.isin(supported)],
        ["la_fostering", "la_residential", "la_supported"], "la_other"), index=place.index)


def _age_on(dob: pd.Series, day: dt.date) -> pd.Series:
    day = pd.Timestamp(day)
    had_birthday = (dob.dt.month < day.month) | ((dob.dt.month == day.month) & (dob.dt.day <= day.day))
    return day.year - dob.dt.year - (~had_birthday).astype(int)


def snapshot(history: History, census: dt.date, rules: Rules = Rules()) -> pd.DataFrame:
    """Who is in which state on one 31 March: LA, CHILD, age, state, uasc."""
    day = pd.Timestamp(census)
    eps = history.episodes[~history.episodes["LS"].isin(SHORT_BREAKS)]
    open_now = eps[(eps["DECOM"] <= day) & (eps["DEC"].isna() | (eps["DEC"] > day))]
    looked_after = open_now.drop_duplicates(["LA", "CHILD"], keep="last").assign(
        state=lambda f: placement_state(f["PLACE"]))
    # Care leavers: out of care on the day, but looked after on or after their 16th birthday.
    sixteenth = eps["DOB"] + pd.DateOffset(years=16)
    after_16 = eps[(eps["DEC"].isna() | (eps["DEC"] > sixteenth)) & (eps["DECOM"] <= day)]
    left = after_16.groupby(["LA", "CHILD"]).agg(DOB=("DOB", "first"), UASC=("UASC", "first"))
    # The year's OC3 return names care leavers too (those with their 17th to 21st birthday in
    # the year), including those who left care before the first return the files hold.
    followed = _oc3_care_leavers(history, census)
    if len(followed):
        left = pd.concat([left, followed[~followed.index.isin(left.index)]])
    left = left.drop(index=looked_after.set_index(["LA", "CHILD"]).index, errors="ignore").reset_index()
    left["state"] = "care_leaver"
    staying_put = _staying_put(history, census)
    left.loc[left.set_index(["LA", "CHILD"]).index.isin(staying_put), "state"] = "staying_put"
    both = pd.concat([looked_after[["LA", "CHILD", "DOB", "UASC", "state"]], left], ignore_index=True)
    both["age"] = _age_on(both["DOB"], census)
    keep = both["age"].between(FIRST_AGE, LAST_AGE)
    keep &= ~(both["state"].eq("care_leaver") & (both["age"] >= rules.eligible_until))  # not seen past 21
    keep &= ~(both["state"].eq("staying_put") & (both["age"] >= rules.staying_put_until))
    keep &= ~(both["state"].isin(LOOKED_AFTER) & (both["age"] >= 18))  # data errors: not looked after at 18+
    return both.loc[keep, ["LA", "CHILD", "age", "state", "UASC"]].rename(columns={"UASC": "uasc"}).reset_index(drop=True)


def _oc3_care_leavers(history: History, census: dt.date) -> pd.DataFrame:
    oc3 = history.oc3
    if oc3 is None or not len(oc3):
        return pd.DataFrame(columns=["DOB", "UASC"])
    rows = oc3[(oc3["YEAR"].astype(int) == census.year - 1) & (oc3["IN_TOUCH"] != "DIED")]
    uasc = set(zip(history.uasc["LA"], history.uasc["CHILD"])) if len(history.uasc) else set()
    out = rows.drop_duplicates(["LA", "CHILD"]).set_index(["LA", "CHILD"])[["DOB"]]
    out["UASC"] = [key in uasc for key in out.index]
    return out


def _staying_put(history: History, census: dt.date) -> pd.MultiIndex:
    """Care leavers the year's OC3 return shows living with their former foster carers (Z)."""
    oc3 = history.oc3
    if oc3 is None or not len(oc3):
        return pd.MultiIndex.from_arrays([[], []], names=["LA", "CHILD"])
    year = census.year - 1
    rows = oc3[(oc3["YEAR"].astype(int) == year) & oc3["ACCOM"].str.startswith("Z")]
    return pd.MultiIndex.from_frame(rows[["LA", "CHILD"]])


def counts(frame: pd.DataFrame) -> np.ndarray:
    """Population counts as an (age, state) array."""
    out = np.zeros((len(AGES), len(STATES)))
    if len(frame):
        a = frame["age"].to_numpy() - FIRST_AGE
        s = pd.Categorical(frame["state"], categories=STATES).codes
        np.add.at(out, (a, s), 1)
    return out


# --- estimation -------------------------------------------------------------------------------


@dataclass
class Observations:
    """Child-level moves between consecutive census dates, the raw material of the estimate."""

    moves: pd.DataFrame  # key, year (of the first census), age (at it), state (code), to (code, OUT = left)
    entries: pd.DataFrame  # key, year, age, state (code), uasc, aged_in: arrivals seen at the second census
    years: list[int]  # census years whose following year was observed
    keys: np.ndarray  # one per child (LA, CHILD)
    pipeline: Pipeline | None = None  # the looked-after under-14s, who become the 14-year-olds


PIPELINE_AGES = np.arange(FIRST_AGE - 4, FIRST_AGE)  # 10-13
MAX_PIPELINE_YEARS = 10  # the forecast's longest horizon


@dataclass
class Pipeline:
    """Looked-after children aged 10-13: how many stay looked after a year on (by age), how many
    come into care at each of those ages a year, and how many there were at the last census.
    Next year's 14-year-olds who were already in care are this year's 13s who stayed; the year
    after, this year's 12s, and so on."""

    seen: np.ndarray  # (4,) looked after at ages 10-13, summed over the census years
    stayed: np.ndarray  # (4,) of them, looked after a year later (at 14: in the cohort model)
    new: np.ndarray  # (4,) arrivals a year at ages 10-13 (not looked after a year before)
    last: np.ndarray  # (4,) looked after at ages 10-13 at the last census
    years: int

    def aged_in(self, horizon: int) -> np.ndarray:
        """Expected 14-year-olds a year, for years 1..horizon, who were in care before 14."""
        stay = np.divide(self.stayed, self.seen, out=np.zeros(4), where=self.seen > 0)
        new = self.new / max(1, self.years)
        level, out = self.last.astype(float), []
        for _ in range(horizon):
            out.append(level[-1] * stay[-1])
            # the 10s are replaced at their recent number, as nothing younger is followed
            level = np.concatenate([[level[0]], level[:-1] * stay[:-1] + new[1:]])
        return np.array(out)


def _under_14(history: History, census: dt.date) -> pd.DataFrame:
    """LA, CHILD, age of children aged 10-13 looked after on one 31 March."""
    day = pd.Timestamp(census)
    eps = history.episodes[~history.episodes["LS"].isin(SHORT_BREAKS)]
    open_now = eps[(eps["DECOM"] <= day) & (eps["DEC"].isna() | (eps["DEC"] > day))]
    kids = open_now.drop_duplicates(["LA", "CHILD"], keep="last")[["LA", "CHILD", "DOB"]].copy()
    kids["age"] = _age_on(kids["DOB"], census)
    return kids[kids["age"].between(PIPELINE_AGES[0], PIPELINE_AGES[-1])][["LA", "CHILD", "age"]]


def _pipeline(censuses: list[dt.date], under: dict[int, pd.DataFrame], snaps: dict[int, pd.DataFrame]) -> Pipeline:
    seen, stayed, new = np.zeros(4), np.zeros(4), np.zeros(4)
    for first, second in zip(censuses, censuses[1:]):
        a, b = under[first.year], under[second.year]
        later = set(zip(b["LA"], b["CHILD"])) | set(zip(*[snaps[second.year].loc[
            snaps[second.year]["state"].isin(LOOKED_AFTER), c] for c in ("LA", "CHILD")]))
        before = set(zip(a["LA"], a["CHILD"]))
        k = a["age"].to_numpy(int) - PIPELINE_AGES[0]
        np.add.at(seen, k, 1)
        np.add.at(stayed, k, [(la, c) in later for la, c in zip(a["LA"], a["CHILD"])])
        arrived = [(la, c) not in before for la, c in zip(b["LA"], b["CHILD"])]
        np.add.at(new, b["age"].to_numpy(int)[arrived] - PIPELINE_AGES[0], 1)
    last = np.bincount(under[censuses[-1].year]["age"].to_numpy(int) - PIPELINE_AGES[0], minlength=4)[:4]
    return Pipeline(seen, stayed, new, last.astype(float), max(0, len(censuses) - 1))


def observe(history: History, rules: Rules = Rules(), until: int | None = None) -> Observations:
    """The moves between consecutive 31 Marches, using census dates up to ``until`` (a census
    year, e.g. 2021 for 31 March 2021) when given.

    From a single return, the year's own episodes give the flows: everyone looked after on the
    31 March it opens on has an episode in it (open at its start), so that day is a census for
    the looked-after states. Care leavers who left before the year are not in it, so their
    moves on that first step are not observed (their rates fall back to the prior: staying with
    the service, within the law's limits) and nobody seems to arrive as a care leaver."""
    censuses = [d for d in history.census_dates if until is None or d.year <= until]
    opening_only = len(censuses) == 1
    if opening_only:
        censuses = [dt.date(censuses[0].year - 1, 3, 31), *censuses]
    snaps = {d.year: snapshot(history, d, rules) for d in censuses}
    if opening_only:
        first_year = censuses[0].year
        snaps[first_year] = snaps[first_year][snaps[first_year]["state"].isin(LOOKED_AFTER)]
    under = {d.year: _under_14(history, d) for d in censuses}  # the looked-after 10-13s, once a census
    moves, entries = [], []
    for first, second in zip(censuses, censuses[1:]):
        a, b = snaps[first.year], snaps[second.year]
        if opening_only:  # arrivals as care leavers are those the return cannot see leaving
            b = b[b["state"].isin(LOOKED_AFTER) | b.set_index(["LA", "CHILD"]).index.isin(
                a.set_index(["LA", "CHILD"]).index)]
        joined = a.merge(b[["LA", "CHILD", "state"]], on=["LA", "CHILD"], how="left", suffixes=("", "_next"))
        joined = joined[joined["age"] < LAST_AGE]
        moves.append(pd.DataFrame({
            "LA": joined["LA"], "CHILD": joined["CHILD"], "year": first.year, "age": joined["age"],
            "state": pd.Categorical(joined["state"], categories=STATES).codes,
            "to": np.where(joined["state_next"].isna(), OUT,
                           pd.Categorical(joined["state_next"], categories=STATES).codes)}))
        arrived = b.merge(a[["LA", "CHILD"]], on=["LA", "CHILD"], how="left", indicator=True)
        arrived = arrived[arrived["_merge"] == "left_only"]
        thirteen = under[first.year]
        thirteen = set(zip(*[thirteen.loc[thirteen["age"] == FIRST_AGE - 1, c] for c in ("LA", "CHILD")]))
        entries.append(pd.DataFrame({
            "LA": arrived["LA"], "CHILD": arrived["CHILD"], "year": second.year, "age": arrived["age"],
            "state": pd.Categorical(arrived["state"], categories=STATES).codes, "uasc": arrived["uasc"].astype(bool),
            "aged_in": [(la, c) in thirteen and age == FIRST_AGE
                        for la, c, age in zip(arrived["LA"], arrived["CHILD"], arrived["age"])]}))
    moves_f = pd.concat(moves, ignore_index=True) if moves else pd.DataFrame(columns=["LA", "CHILD", "year", "age", "state", "to"])
    entries_f = pd.concat(entries, ignore_index=True) if entries else pd.DataFrame(
        columns=["LA", "CHILD", "year", "age", "state", "uasc", "aged_in"])
    keys = pd.concat([moves_f[["LA", "CHILD"]], entries_f[["LA", "CHILD"]]]).drop_duplicates()
    index = pd.MultiIndex.from_frame(keys)
    moves_f["key"] = index.get_indexer(pd.MultiIndex.from_frame(moves_f[["LA", "CHILD"]])) if len(moves_f) else []
    entries_f["key"] = index.get_indexer(pd.MultiIndex.from_frame(entries_f[["LA", "CHILD"]])) if len(entries_f) else []
    return Observations(moves_f, entries_f, [d.year for d in censuses[:-1]], np.arange(len(index)),
                        _pipeline(censuses, under, snaps))


@dataclass
class Rates:
    """``P[a, s, :]``: where someone aged a (index from 14) in state s is a year later (last
    column: out); ``entries[a, s]`` and ``uasc_entries[a, s]``: arrivals a year at age a."""

    P: np.ndarray  # (ages, states, states + 1)
    entries: np.ndarray  # (ages, states)
    uasc_entries: np.ndarray  # (ages, states)
    observed_moves: np.ndarray = field(default_factory=lambda: np.zeros((len(AGES), len(STATES))))
    # 14-year-olds arriving from the under-14 pipeline in years 1, 2, ... by state (added to the
    # entries at 14, which then count only those new to care at 14); none beyond its length.
    aged_in: np.ndarray = field(default_factory=lambda: np.zeros((0, len(STATES))))

    def arrivals(self, year: int) -> np.ndarray:
        """Expected arrivals by (age, state) in projected year ``year`` (0 = the first step)."""
        lam = self.entries + self.uasc_entries
        if year < len(self.aged_in):
            lam = lam.copy()
            lam[0] += self.aged_in[year]
        return lam


def estimate(obs: Observations, rules: Rules = Rules(), weights: np.ndarray | None = None) -> Rates:
    """Rates from observations; ``weights`` (one per child) for a bootstrap replication."""
    n_ages, n_states = len(AGES), len(STATES)
    w_moves = np.ones(len(obs.moves)) if weights is None else weights[obs.moves["key"].to_numpy(int)]
    cell = ((obs.moves["age"].to_numpy(int) - FIRST_AGE) * n_states + obs.moves["state"].to_numpy(int)) * (n_states + 1) \
        + obs.moves["to"].to_numpy(int)
    C = np.bincount(cell, weights=w_moves, minlength=n_ages * n_states * (n_states + 1)).reshape(
        n_ages, n_states, n_states + 1)
    # Shrink each age towards its age band's pooled transitions (and a band with nothing seen
    # towards staying in the same state).
    P = np.zeros_like(C)
    for lo, hi in AGE_BANDS.values():
        rows = slice(lo - FIRST_AGE, hi - FIRST_AGE + 1)
        pooled = C[rows].sum(axis=0)
        pooled_n = pooled.sum(axis=1, keepdims=True)
        default = np.eye(n_states, n_states + 1)
        prior = np.where(pooled_n > 0, (pooled + default) / (pooled_n + 1), default)
        n = C[rows].sum(axis=2, keepdims=True)
        P[rows] = (C[rows] + SMOOTHING * prior) / (n + SMOOTHING)
    P = impose(P, rules)

    years = max(1, len(obs.years))
    w_entries = np.ones(len(obs.entries)) if weights is None else weights[obs.entries["key"].to_numpy(int)]
    entries = np.zeros((n_ages, n_states))
    uasc = np.zeros((n_ages, n_states))
    aged_in = np.zeros((0, n_states))
    if len(obs.entries):
        a = obs.entries["age"].to_numpy(int) - FIRST_AGE
        s = obs.entries["state"].to_numpy(int)
        is_uasc = obs.entries["uasc"].to_numpy(bool)
        # With the under-14 pipeline, those who were in care at 13 arrive from it; the entries
        # at 14 are then only those new to care.
        piped = obs.entries["aged_in"].to_numpy(bool) & ~is_uasc if obs.pipeline is not None \
            else np.zeros(len(a), bool)
        flat = ~is_uasc & ~piped
        np.add.at(entries, (a[flat], s[flat]), w_entries[flat])
        np.add.at(uasc, (a[is_uasc], s[is_uasc]), w_entries[is_uasc])
        if piped.any():
            mix = np.bincount(s[piped], weights=w_entries[piped], minlength=n_states)
            aged_in = obs.pipeline.aged_in(MAX_PIPELINE_YEARS)[:, None] * (mix / mix.sum())[None, :]
    return Rates(P, entries / years, uasc / years, C.sum(axis=2), aged_in)


def impose(P: np.ndarray, rules: Rules) -> np.ndarray:
    """The law and policy on top of the estimate (rows stay probability distributions)."""
    P = P.copy()
    s = {name: i for i, name in enumerate(STATES)}
    for k, age in enumerate(AGES):
        nxt = age + 1
        if nxt >= 18:  # nobody is looked after at 18 or over
            for la in LOOKED_AFTER:
                moved = P[k, :, s[la]].copy()
                P[k, :, s[la]] = 0.0
                if age == 17:  # the 18th birthday: Staying Put from fostering, or a care leaver
                    stay = np.zeros(len(STATES))
                    stay[s["la_fostering"]] = rules.staying_put_share
                    P[k, :, s["staying_put"]] += moved * stay
                    P[k, :, s["care_leaver"]] += moved * (1 - stay)
                else:
                    P[k, :, s["care_leaver"]] += moved
        if nxt < 18:  # Staying Put and leaving care are 18+ only
            P[k, :, OUT] += P[k, :, s["staying_put"]]
            P[k, :, s["staying_put"]] = 0.0
        if nxt >= rules.staying_put_until:  # Staying Put ends: a care leaver (or gone, as below)
            P[k, :, s["care_leaver"]] += P[k, :, s["staying_put"]]
            P[k, :, s["staying_put"]] = 0.0
        if nxt == rules.eligible_until:
            # Eligibility ends at 21 unless continuing to 25. The returns stop following care
            # leavers at 21, so the data cannot estimate this step: the configured share decides.
            cl = P[k, :, s["care_leaver"]].copy()
            P[k, :, s["care_leaver"]] = cl * rules.continue_share
            P[k, :, OUT] += cl * (1 - rules.continue_share)
            for leaver in ("care_leaver", "staying_put"):
                P[k, s[leaver], :] = 0.0
                P[k, s[leaver], s["care_leaver"]] = rules.continue_share
                P[k, s[leaver], OUT] = 1 - rules.continue_share
        if nxt > rules.eligible_until:  # those continuing stay to 25
            P[k, s["care_leaver"], :] = 0.0
            P[k, s["care_leaver"], s["care_leaver"]] = 1.0
        if nxt > LAST_AGE:
            P[k] = 0.0
            P[k, :, OUT] = 1.0
    return P / P.sum(axis=2, keepdims=True)


# --- projection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    """A what-if on the observed rates: ``rate`` is ``entries``, ``uasc_entries``, or a move
    ``from_state->to_state`` (to_state may be ``out``); ``ages`` limits it (inclusive)."""

    rate: str
    multiply: float = 1.0
    add: float = 0.0
    ages: tuple[int, int] = (FIRST_AGE, LAST_AGE)


def adjust(rates: Rates, adjustments: list[Adjustment], rules: Rules) -> Rates:
    """Apply adjustments on top of the observed rates; a changed move renormalises the rest of
    its row (the other moves keep their proportions)."""
    P, entries, uasc, aged_in = rates.P.copy(), rates.entries.copy(), rates.uasc_entries.copy(), rates.aged_in
    for adj in adjustments:
        rows = slice(adj.ages[0] - FIRST_AGE, adj.ages[1] - FIRST_AGE + 1)
        if adj.rate in ("entries", "uasc_entries"):
            target = entries if adj.rate == "entries" else uasc
            target[rows] = np.maximum(0.0, target[rows] * adj.multiply + adj.add)
            if adj.rate == "entries" and adj.ages[0] <= FIRST_AGE <= adj.ages[1]:
                aged_in = aged_in * adj.multiply  # arrivals from the pipeline change alike
            continue
        source, _, dest = adj.rate.partition("->")
        i = STATES.index(source)
        j = OUT if dest == "out" else STATES.index(dest)
        old = P[rows, i, j]
        new = np.clip(old * adj.multiply + adj.add, 0.0, 1.0)
        others = 1.0 - old
        scale = np.divide(1.0 - new, others, out=np.zeros_like(others), where=others > 0)
        P[rows, i, :] *= scale[:, None]
        P[rows, i, j] = new
    return replace(rates, P=impose(P, rules), entries=entries, uasc_entries=uasc, aged_in=aged_in)


def project_mean(start: np.ndarray, rates: Rates, years: int) -> np.ndarray:
    """Expected counts for each future year: (years + 1, ages, states), year 0 the start."""
    out = np.zeros((years + 1, *start.shape))
    out[0] = start
    for t in range(years):
        moved = np.einsum("as,ast->at", out[t], rates.P)[:, :len(STATES)]
        nxt = np.zeros_like(start)
        nxt[1:] = moved[:-1]
        out[t + 1] = nxt + rates.arrivals(t)
    return out


def simulate(start: np.ndarray, rates: list[Rates], years: int, rng: np.random.Generator) -> np.ndarray:
    """One stochastic path per set of rates: (replications, years + 1, ages, states)."""
    B = len(rates)
    P = np.stack([r.P for r in rates])  # (B, ages, states, states + 1)
    out = np.zeros((B, years + 1, *start.shape))
    out[:, 0] = start
    for t in range(years):
        n = out[:, t].astype(np.int64)
        moved = rng.multinomial(n, P)[..., :len(STATES)].sum(axis=2)  # (B, ages, states)
        nxt = np.zeros_like(out[:, 0])
        nxt[:, 1:] = moved[:, :-1]
        out[:, t + 1] = nxt + rng.poisson(np.stack([r.arrivals(t) for r in rates]))  # (B, ages, states)
    return out


def bootstrap_rates(obs: Observations, rules: Rules, replications: int, rng: np.random.Generator,
                    adjustments: list[Adjustment] = ()) -> list[Rates]:
    """Rates re-estimated on children resampled with replacement."""
    n = len(obs.keys)
    out = []
    for _ in range(replications):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float) if n else np.zeros(0)
        out.append(adjust(estimate(obs, rules, weights), list(adjustments), rules))
    return out


def project_monthly(start: np.ndarray, rates: Rates, months: int) -> np.ndarray:
    """Expected counts month by month (months + 1, ages, states), for the tender simulation.

    Moves happen on birthdays, as the yearly model has them (leaving care at 18 is a birthday,
    not a hazard spread over the year): people are kept by birth month, and each month those
    born in it turn a year older and move between states at the yearly rates; a twelfth of a
    year's arrivals come in each month, their birthdays spread evenly. So after every twelve
    months the counts equal the yearly step's (``project_mean``): a month's arrivals join the
    birth month that has just turned, so, as in the yearly model (which counts arrivals at the
    next 31 March, as they are then), they first move a year after they come.
    """
    n_ages, n_states = start.shape
    by_month = np.repeat(start[None] / 12.0, 12, axis=0)  # (birth month, ages, states)
    out = np.zeros((months + 1, n_ages, n_states))
    out[0] = start
    for t in range(months):
        m = t % 12
        moved = np.einsum("as,ast->at", by_month[m], rates.P)[:, :n_states]
        aged = np.zeros_like(moved)
        aged[1:] = moved[:-1]
        by_month[m] = aged + rates.arrivals(t // 12) / 12.0
        out[t + 1] = by_month.sum(axis=0)
    return out
