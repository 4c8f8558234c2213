"""Referrals and vacancies compiled into arrays, and :class:`Pairs`, the batch of
(referral, vacancy) pairs that every hard rule in ``matching.rules`` judges.

``compile_tables`` turns an Instance + Policy into per-referral and per-vacancy numpy arrays
once (needs and risks as bit sets over their codes, tiers as ranks, dates as day numbers), so
that a rule over millions of pairs is a few gathers and integer comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matching.instance import PRICE_COLUMNS, Instance, risk_tokens
from matching.policy import Policy
from models.enums import ServiceType, Sex, Suitability, Tier, Urgency
from providers.geography import pl_distance_miles

TIER_CODES = [t.value for t in sorted(Tier, key=lambda t: t.rank)]  # index = rank
SUITABILITY_CODES = [Suitability.preferred.value, Suitability.suitable.value, Suitability.unsuitable.value]
SEX_CODES = [s.value for s in Sex if s != Sex.any]
METRES_PER_PL_MILE = 1609.3  # PL_DISTANCE divides kilometres by 1.6093


# --- compiled per-row arrays -----------------------------------------------------------------


@dataclass(frozen=True)
class Referrals:
    """The referrals as arrays, sorted by referral_id (position = referral index)."""

    ids: np.ndarray  # object: referral_id
    rows: np.ndarray  # position in instance.referrals
    need_rank: np.ndarray  # int: assessed tier's rank
    deadline: np.ndarray  # int days since 1970: panel date + available_within_days[urgency]
    dob_year: np.ndarray
    dob_month_day: np.ndarray  # month * 100 + day
    sex: np.ndarray  # int code in SEX_CODES
    needs: tuple[np.ndarray, ...]  # bit set over the needs vocabulary: one uint64 array per 64 codes
    risks: tuple[np.ndarray, ...]  # the same over the risks vocabulary
    suitability: np.ndarray  # int8 (n, service types): index in SUITABILITY_CODES
    deprivation_of_liberty: np.ndarray  # bool
    solo: np.ndarray  # bool: living_with == solo
    home_e: np.ndarray
    home_n: np.ndarray
    avoid_start: np.ndarray  # into avoid_e / avoid_n
    avoid_count: np.ndarray
    avoid_e: np.ndarray
    avoid_n: np.ndarray
    avoid_radius: np.ndarray  # miles; NaN: no exclusion zone


@dataclass(frozen=True)
class Vacancies:
    """The vacancies as arrays, sorted by vacancy_id (position = vacancy index)."""

    ids: np.ndarray  # object: vacancy_id
    rows: np.ndarray  # position in instance.vacancies
    available: np.ndarray  # int days since 1970
    start: np.ndarray  # int days: max(panel date, available_from)
    start_year: np.ndarray
    start_month_day: np.ndarray
    lowest_tier: np.ndarray  # int8 (n, 3): lowest offered tier rank >= need rank, -1 if none
    prices: np.ndarray  # float (n, 3) by tier rank, NaN where not offered
    age_min: np.ndarray  # float (NaN: no bound)
    age_max: np.ndarray
    service_type: np.ndarray  # object: the code
    service_code: np.ndarray  # int: column in Referrals.suitability
    setting: np.ndarray  # object: the code
    ofsted_registered: np.ndarray  # bool
    ofsted_grade: np.ndarray  # object: the code or None
    sex: np.ndarray  # int code in SEX_CODES; -1 for a property open to any sex
    accepts_needs: tuple[np.ndarray, ...]  # same vocabulary as Referrals.needs
    excludes_risks: tuple[np.ndarray, ...]  # same vocabulary as Referrals.risks
    reserved_for: np.ndarray  # int: referral index, -1 for nobody in this queue
    easting: np.ndarray
    northing: np.ndarray


@dataclass(frozen=True)
class Tables:
    policy: Policy
    panel_day: int
    ref: Referrals
    vac: Vacancies
    ban_keys: np.ndarray  # sorted unique referral_index * n_vacancies + vacancy_index
    service_codes: list[str]
    # Providers' answers (Instance.answers), keyed as ban_keys: the homes of a provider that
    # declined the young person, and the offers themselves, with the offered weekly price, tier rank and start day (int days since 1970).
    declined_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    offer_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    offer_price: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=float))
    offer_tier: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    offer_start: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_referrals(self) -> int:
        return len(self.ref.ids)

    @property
    def n_vacancies(self) -> int:
        return len(self.vac.ids)


def _days(values) -> np.ndarray:
    """Dates (datetime64, Timestamps or dates) as int days since 1970-01-01."""
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]").astype(np.int64)


def _year_month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(year, month * 100 + day) of int day numbers, vectorised."""
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = d.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    # int16: a grid of ages stays small (years up to 32767 are plenty).
    return year.astype(np.int16), (month * 100 + day).astype(np.int16)


def _require(days: np.ndarray, ids: np.ndarray, what: str, column: str) -> None:
    missing = days == np.iinfo(np.int64).min  # NaT
    if missing.any():
        raise ValueError(f"{what} {ids[np.argmax(missing)]}: no {column}")


def _as_list(value) -> list:
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return list(value)
    return []


def _bitsets(*columns: list[list[str]]) -> list[tuple[np.ndarray, ...]]:
    """Bit sets over one vocabulary shared by all the columns (lists of codes per row), one
    uint64 array per 64 codes, so set questions become integer ANDs."""
    vocabulary = sorted({str(c) for column in columns for row in column for c in row})
    words = max(1, math.ceil(len(vocabulary) / 64))
    out = []
    for column in columns:
        lengths = np.fromiter((len(row) for row in column), dtype=np.int64, count=len(column))
        codes = pd.Categorical([str(c) for row in column for c in row], categories=vocabulary).codes.astype(np.int64)
        rows = np.repeat(np.arange(len(column)), lengths)
        masks = []
        for w in range(words):
            in_word = codes // 64 == w
            mask = np.zeros(len(column), dtype=np.uint64)
            np.bitwise_or.at(mask, rows[in_word], np.left_shift(np.uint64(1), (codes[in_word] % 64).astype(np.uint64)))
            masks.append(mask)
        out.append(tuple(masks))
    return out


def _codes(values: pd.Series, vocabulary: list[str], what: str, *, extra: dict | None = None) -> np.ndarray:
    lookup = {code: i for i, code in enumerate(vocabulary)} | (extra or {})
    mapped = values.map(lookup)
    if mapped.isna().any():
        bad = sorted({str(x) for x in values[mapped.isna()]})
        raise ValueError(f"unknown {what}: {', '.join(bad)}")
    return mapped.to_numpy(dtype=np.int64)


def compile_tables(instance: Instance, policy: Policy) -> Tables:
    """Per-referral and per-vacancy arrays, built once (loops here are over rows, not pairs)."""
    refs = instance.referrals
    vacs = instance.vacancies
    for name, ids in (("referral_id", refs["referral_id"]), ("vacancy_id", vacs["vacancy_id"])):
        dup = ids[ids.duplicated()]
        if len(dup):
            raise ValueError(f"{name} listed twice: {', '.join(map(str, dup.unique()[:5]))}")

    r_order = np.argsort(refs["referral_id"].to_numpy(dtype=object).astype(str), kind="stable")
    v_order = np.argsort(vacs["vacancy_id"].to_numpy(dtype=object).astype(str), kind="stable")
    refs = refs.iloc[r_order].reset_index(drop=True)
    vacs = vacs.iloc[v_order].reset_index(drop=True)
    ref_ids = refs["referral_id"].to_numpy(dtype=object)
    ref_index = {rid: i for i, rid in enumerate(ref_ids)}

    panel_day = int(_days([instance.panel_date])[0])
    within = {str(u): int(d) for u, d in policy.available_within_days.items()}
    urgency = refs["urgency"].astype(object)
    unknown = sorted({str(u) for u in urgency if str(u) not in within})
    if unknown:
        raise ValueError(f"unknown urgency: {', '.join(unknown)} (expected {', '.join(Urgency.codes())})")
    dob = _days(refs["date_of_birth"])
    _require(dob, ref_ids, "referral", "date_of_birth")
    dob_year, dob_md = _year_month_day(dob)

    service_codes = sorted(
        set(ServiceType.codes())
        | {str(s) for s in vacs["service_type"]}
        | {str(k) for d in refs["type_suitability"] for k in (d or {})}
    )
    service_col = {s: i for i, s in enumerate(service_codes)}
    suit_code = {code: i for i, code in enumerate(SUITABILITY_CODES)}
    suitability = np.full((len(refs), len(service_codes)), suit_code[Suitability.suitable.value], dtype=np.int8)
    # Floating support goes into a home the young person already has: only for those whose
    # social worker asked for it (a type left out is otherwise suitable).
    suitability[:, service_col[ServiceType.floating_support.value]] = suit_code[Suitability.unsuitable.value]
    for i, wishes in enumerate(refs["type_suitability"]):
        for service, judgement in (wishes or {}).items():
            if str(judgement) not in suit_code:
                raise ValueError(f"referral {ref_ids[i]}: unknown suitability {judgement!r}")
            suitability[i, service_col[str(service)]] = suit_code[str(judgement)]

    needs, accepts = _bitsets(
        [_as_list(x) for x in refs["needs"]], [_as_list(x) for x in vacs["accepts_needs"]]
    )
    risks, excludes = _bitsets(
        [risk_tokens(_as_list(s), _as_list(o)) for s, o in zip(refs["risks_to_self"], refs["risks_to_others"])],
        [_as_list(x) for x in vacs["excludes_risks"]],
    )

    avoid_e = [_as_list(x) for x in refs["avoid_e"]]
    avoid_n = [_as_list(x) for x in refs["avoid_n"]]
    avoid_count = np.array([min(len(a), len(b)) for a, b in zip(avoid_e, avoid_n)], dtype=np.int64)
    avoid_start = np.cumsum(avoid_count) - avoid_count
    flat_e = np.array([x for a, c in zip(avoid_e, avoid_count) for x in a[:c]], dtype=float)
    flat_n = np.array([x for a, c in zip(avoid_n, avoid_count) for x in a[:c]], dtype=float)

    ref = Referrals(
        ids=ref_ids,
        rows=r_order,
        need_rank=_codes(refs["tier"].astype(object), TIER_CODES, "referral tier"),
        deadline=panel_day + urgency.map(within).to_numpy(dtype=np.int64),
        dob_year=dob_year,
        dob_month_day=dob_md,
        sex=_codes(refs["sex"].astype(object), SEX_CODES, "referral sex"),
        needs=needs,
        risks=risks,
        suitability=suitability,
        deprivation_of_liberty=refs["deprivation_of_liberty"].fillna(False).to_numpy(dtype=bool),
        solo=(refs["living_with"].astype(object) == "solo").to_numpy(dtype=bool),
        home_e=refs["home_e"].to_numpy(dtype=float),
        home_n=refs["home_n"].to_numpy(dtype=float),
        avoid_start=avoid_start,
        avoid_count=avoid_count,
        avoid_e=flat_e,
        avoid_n=flat_n,
        avoid_radius=pd.to_numeric(refs["avoid_radius_miles"], errors="coerce").to_numpy(dtype=float),
    )

    available = _days(vacs["available_from"])
    _require(available, vacs["vacancy_id"].to_numpy(dtype=object), "vacancy", "available_from")
    start = np.maximum(available, panel_day)
    start_year, start_md = _year_month_day(start)
    prices = np.column_stack([vacs[PRICE_COLUMNS[Tier(code)]].to_numpy(dtype=float) for code in TIER_CODES])
    offered = ~np.isnan(prices)
    lowest = np.full((len(vacs), len(TIER_CODES)), -1, dtype=np.int8)
    for need in range(len(TIER_CODES)):
        for tier in reversed(range(need, len(TIER_CODES))):  # the last assignment is the lowest
            lowest[offered[:, tier], need] = tier
    reserved = vacs["reserved_for"].astype(object).map(lambda x: ref_index.get(x, -1) if isinstance(x, str) else -1)
    grade = np.array([g if isinstance(g, str) else None for g in vacs["ofsted_grade"]], dtype=object)

    vac = Vacancies(
        ids=vacs["vacancy_id"].to_numpy(dtype=object),
        rows=v_order,
        available=available,
        start=start,
        start_year=start_year,
        start_month_day=start_md,
        lowest_tier=lowest,
        prices=prices,
        age_min=pd.to_numeric(vacs["age_min"], errors="coerce").to_numpy(dtype=float),
        age_max=pd.to_numeric(vacs["age_max"], errors="coerce").to_numpy(dtype=float),
        service_type=vacs["service_type"].astype(object).map(str).to_numpy(dtype=object),
        service_code=vacs["service_type"].astype(object).map(lambda s: service_col[str(s)]).to_numpy(dtype=np.int64),
        setting=vacs["setting"].astype(object).map(str).to_numpy(dtype=object),
        ofsted_registered=vacs["ofsted_registered"].astype(object).fillna(False).to_numpy(dtype=bool),
        ofsted_grade=grade,
        sex=_codes(  # a property that names no sex takes any
            vacs["sex"].astype(object).fillna(Sex.any.value).replace("", Sex.any.value),
            SEX_CODES, "property sex", extra={Sex.any.value: -1},
        ),
        accepts_needs=accepts,
        excludes_risks=excludes,
        reserved_for=reserved.to_numpy(dtype=np.int64),
        easting=vacs["easting"].to_numpy(dtype=float),
        northing=vacs["northing"].to_numpy(dtype=float),
    )

    vac_index = {vid: i for i, vid in enumerate(vac.ids)}
    bans = [(ref_index.get(r), vac_index.get(v)) for r, v in instance.bans]
    ban_keys = np.unique(
        np.array([r * len(vac.ids) + v for r, v in bans if r is not None and v is not None], dtype=np.int64)
    )
    answered = _answer_keys(instance.answers, ref_index, vac_index, vacs["provider_id"].astype(str).to_numpy(),
                            len(vac.ids))
    return Tables(policy=policy, panel_day=panel_day, ref=ref, vac=vac, ban_keys=ban_keys, service_codes=service_codes,
                  **answered)


def _answer_keys(answers: list[dict], ref_index: dict, vac_index: dict, provider_of: np.ndarray, n_vac: int) -> dict:
    """Tables' answer fields from the providers' answers (only those of this queue's young people)."""
    if not answers:
        return {}
    homes: dict[str, np.ndarray] = {}
    for provider in {a["provider_id"] for a in answers}:
        homes[provider] = np.flatnonzero(provider_of == provider)
    declined, offers = [], {}
    for a in answers:
        r = ref_index.get(a["referral_id"])
        if r is None:
            continue
        theirs = homes[a["provider_id"]]
        v = vac_index.get(a["vacancy_id"]) if a["vacancy_id"] is not None else None
        if a["vacancy_id"] is None:
            declined.append(r * n_vac + theirs)
            continue
        if v is not None:
            offers[r * n_vac + v] = (float(a["weekly_price"]), int(np.datetime64(a["start"], "D").astype(np.int64)),
                                     Tier(a["tier"]).rank)
    keys = np.array(sorted(offers), dtype=np.int64)
    return {
        "declined_keys": np.unique(np.concatenate(declined)) if declined else np.zeros(0, dtype=np.int64),
        "offer_keys": keys,
        "offer_price": np.array([offers[k][0] for k in keys], dtype=float),
        "offer_start": np.array([offers[k][1] for k in keys], dtype=np.int64),
        "offer_tier": np.array([offers[k][2] for k in keys], dtype=np.int8),
    }


# --- pairs -----------------------------------------------------------------------------------


class Pairs:
    """A batch of (referral, vacancy) pairs, as index arrays into the compiled tables.

    Two shapes, and every rule works on both because numpy broadcasts: a *grid* (``r`` a
    column of k referral indices, ``v`` a row of m vacancy indices, both ascending: all k x m
    pairs, without materialising k x m index arrays), or a *list* (``r`` and ``v`` of equal
    length: arbitrary pairs). Pair-level quantities the rules share (age at the start date,
    miles from home, the tier used) are computed on first use and carried by :meth:`keep`.
    """

    __slots__ = ("t", "r", "v", "shape", "_cache")

    def __init__(self, tables: Tables, r: np.ndarray, v: np.ndarray, cache: dict | None = None) -> None:
        self.t = tables
        self.r = r
        self.v = v
        self.shape = np.broadcast_shapes(r.shape, v.shape)
        self._cache = cache if cache is not None else {}

    @classmethod
    def grid(cls, tables: Tables, referrals: np.ndarray, vacancies: np.ndarray) -> "Pairs":
        """Every pairing of the (ascending) referral and vacancy indices given."""
        return cls(tables, np.asarray(referrals, dtype=np.int64)[:, None], np.asarray(vacancies, dtype=np.int64)[None, :])

    @property
    def is_grid(self) -> bool:
        return self.r.ndim == 2

    def __len__(self) -> int:
        return int(np.prod(self.shape))

    @property
    def ref(self) -> Referrals:
        return self.t.ref

    @property
    def vac(self) -> Vacancies:
        return self.t.vac

    @property
    def policy(self) -> Policy:
        return self.t.policy

    def none(self) -> np.ndarray:
        return np.zeros(self.shape, dtype=bool)

    def _cached(self, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    @property
    def age(self) -> np.ndarray:
        """Whole years at the start date (a 29 February birthday counts from 1 March)."""

        def compute():
            ref, vac = self.ref, self.vac
            before_birthday = vac.start_month_day[self.v] < ref.dob_month_day[self.r]
            return vac.start_year[self.v] - ref.dob_year[self.r] - before_birthday

        return self._cached("age", compute)

    @property
    def miles_from_home(self) -> np.ndarray:
        """SSDA903 PL_DISTANCE from home to the property, to 0.1 mile."""
        ref, vac = self.ref, self.vac
        return self._cached(
            "miles_from_home",
            lambda: pl_distance_miles(ref.home_e[self.r], ref.home_n[self.r], vac.easting[self.v], vac.northing[self.v]),
        )

    @property
    def tier(self) -> np.ndarray:
        """Rank of the lowest offered tier that meets the assessed need; -1 when none does."""
        return self._cached("tier", lambda: self.vac.lowest_tier[self.v, self.ref.need_rank[self.r]])

    def where(self, mask: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
        """Positions (for indexing a result of this shape) and the referral and vacancy indices
        of the pairs where ``mask`` holds; for rules that only concern a few pairs."""
        mask = np.asarray(mask)
        if self.is_grid and mask.shape == (self.shape[0], 1):  # a question about referrals only
            rows, m = np.flatnonzero(mask[:, 0]), self.shape[1]
            at = (np.repeat(rows, m), np.tile(np.arange(m), len(rows)))
        else:
            at = np.nonzero(np.broadcast_to(mask, self.shape))
        return at, np.broadcast_to(self.r, self.shape)[at], np.broadcast_to(self.v, self.shape)[at]

    def further_from_home_than(self, miles: float) -> np.ndarray:
        """``miles_from_home > miles``, or unknown (a missing grid reference is not taken as
        near). The same answer as rounding every pair, faster: squared grid distances settle
        all but the pairs within 0.06 mile of the limit (rounding to 0.1 moves a distance by
        at most 0.05), and those get the exact PL_DISTANCE."""
        if "miles_from_home" in self._cache:
            known = self.miles_from_home
            return (known > miles) | np.isnan(known)
        ref, vac = self.ref, self.vac
        dx = ref.home_e[self.r] - vac.easting[self.v]
        dy = ref.home_n[self.r] - vac.northing[self.v]
        squared = dx * dx
        squared += dy * dy
        near, far = max(miles - 0.06, 0.0) * METRES_PER_PL_MILE, (miles + 0.06) * METRES_PER_PL_MILE
        out = (squared > far * far) | np.isnan(squared)
        close_call = (squared >= near * near) & ~out
        if close_call.any():
            at, r, v = self.where(close_call)
            out[at] = pl_distance_miles(ref.home_e[r], ref.home_n[r], vac.easting[v], vac.northing[v]) > miles
        return out

    def matches(self, keys: np.ndarray) -> np.ndarray:
        """True for the pairs listed in ``keys`` (sorted referral * n_vacancies + vacancy)."""
        out = self.none()
        if not len(keys):
            return out
        n = self.t.n_vacancies
        if not self.is_grid:
            return np.isin(self.r * n + self.v, keys)
        rows, cols = self.r[:, 0], self.v[0, :]
        kr, kv = keys // n, keys % n
        row = np.minimum(np.searchsorted(rows, kr), len(rows) - 1)
        col = np.minimum(np.searchsorted(cols, kv), len(cols) - 1)
        ok = (rows[row] == kr) & (cols[col] == kv)
        out[row[ok], col[ok]] = True
        return out

    def keep(self, mask: np.ndarray, carry: Iterable[str] | None = None) -> "Pairs":
        """The pairs where ``mask`` holds, as a list (in row-major order: a grid's survivors
        come out sorted by referral, then vacancy), carrying the cached quantities named."""
        at, r, v = self.where(mask)
        names = self._cache.keys() if carry is None else [c for c in carry if c in self._cache]
        cache = {k: np.broadcast_to(self._cache[k], self.shape)[at] for k in names}
        return Pairs(self.t, r, v, cache)
