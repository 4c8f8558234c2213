"""SSDA903 returns for the demo council (Medway-sized, seeded): five years of Header, Episodes,
OC3 and UASC tables in the published format, so the forecast can be run, backtested and shown
on the demo. Made up, like the rest of the demo: rates are round numbers in the range the
national statistics give, not any council's.

About 400 children looked after at each 31 March (ages 0-17) and about 300 care leavers 16-21.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from scenarios.ssda903 import History, read_history

LA = "Medway"
FIRST_YEAR, YEARS = 2020, 5  # the returns for 2020/21 to 2024/25
# Entries into care a year by age at entry (0-17): peaks in infancy and mid-teens.
ENTRIES_BY_AGE = np.array([16, 4, 4, 4, 3, 3, 3, 3, 3, 4, 5, 7, 10, 13, 17, 19, 18, 10], dtype=float)
UASC_ENTRIES = 14  # a year, aged 15-17
# Placement type on entry and each year after, by age group: (codes, weights).
PLACEMENTS = {
    "child": (["U1", "U4", "U5", "U6", "P1", "K2"], [0.1, 0.35, 0.3, 0.05, 0.15, 0.05]),
    "teen": (["U4", "U5", "U6", "K2", "R1", "P1"], [0.3, 0.25, 0.05, 0.2, 0.05, 0.15]),
    "older": (["U4", "U5", "K2", "P2", "SUPPORTED"], [0.2, 0.2, 0.12, 0.08, 0.4]),
}
LEAVE_BEFORE_16 = 0.28  # a year: return home, adoption, special guardianship
LEAVE_AT_16_17 = 0.12  # a year: leaving care early (relevant young people)
STAYING_PUT = 0.25  # of those fostered at 18
CONTINUE_TO_25 = 0.3


def generate(seed: int = 2026, years: int = YEARS, first_year: int = FIRST_YEAR) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    children: list[dict] = []
    episodes: list[dict] = []
    oc3: list[dict] = []
    uasc: list[dict] = []
    next_id = 100_000
    start = dt.date(first_year - 12, 4, 1)  # twelve years of history before the first return
    end = dt.date(first_year + years, 3, 31)

    def place(age: int, year: int) -> str:
        group = "child" if age < 13 else "teen" if age < 16 else "older"
        codes, weights = PLACEMENTS[group]
        code = str(rng.choice(codes, p=weights))
        return ("K3" if year >= 2024 else "H5") if code == "SUPPORTED" else code

    for year in range(start.year, end.year):
        for age, mean in enumerate(ENTRIES_BY_AGE):
            for _ in range(rng.poisson(mean)):
                next_id += 1
                children.append(_child(rng, next_id, year, age, False, place, episodes, end, oc3))
        for _ in range(rng.poisson(UASC_ENTRIES)):
            next_id += 1
            age = int(rng.integers(15, 18))
            child = _child(rng, next_id, year, age, True, place, episodes, end, oc3)
            children.append(child)
            uasc.append({"CHILD": child["CHILD"], "SEX": child["SEX"], "DOB": child["DOB"],
                         "DUC": (pd.Timestamp(child["DOB"]) + pd.DateOffset(years=18)).date()})
    header = pd.DataFrame(children)
    eps = pd.DataFrame(episodes)
    # One return per collection year: the episodes open at some point during it, as they stood then.
    returns = []
    for y in range(first_year, first_year + years):
        year_start, year_end = pd.Timestamp(y, 4, 1), pd.Timestamp(y + 1, 3, 31)
        rows = eps[(eps["DECOM"] <= year_end) & (eps["DEC"].isna() | (eps["DEC"] >= year_start))].copy()
        rows.loc[rows["DEC"] > year_end, ["DEC", "REC"]] = [pd.NaT, ""]
        # Supported accommodation is H5 to 2023/24 and K3 from 2024/25, in each return's own codes.
        rows["PLACE"] = rows["PLACE"].replace({"H5": "K3"} if y >= 2024 else {"K3": "H5"})
        rows["YEAR"] = y
        returns.append(rows)
    all_eps = pd.concat(returns, ignore_index=True)
    all_eps["LA"] = LA
    header["LA"], header["YEAR"] = LA, first_year
    oc3_frame = pd.DataFrame(oc3, columns=["CHILD", "DOB", "IN_TOUCH", "ACCOM", "YEAR"])
    oc3_frame = oc3_frame[oc3_frame["YEAR"].between(first_year, first_year + years - 1)]
    oc3_frame["LA"] = LA
    uasc_frame = pd.DataFrame(uasc, columns=["CHILD", "SEX", "DOB", "DUC"])
    uasc_frame["LA"] = LA
    return {"header": header, "episodes": all_eps, "oc3": oc3_frame, "uasc": uasc_frame}


def _child(rng, child_id, year, age, is_uasc, place, episodes, end, oc3) -> dict:
    entered = dt.date(year, 4, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
    dob = entered - dt.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
    day, current = entered, entered
    left_on = None
    while day < end:
        this_age = (day - dob).days // 365
        if this_age >= 18:
            left_on = dob.replace(year=dob.year + 18) if not (dob.month == 2 and dob.day == 29) else dob + dt.timedelta(days=6575)
            break
        chance = LEAVE_BEFORE_16 if this_age < 16 else LEAVE_AT_16_17
        if day > current and rng.random() < chance:
            left_on = day
            break
        day += dt.timedelta(days=365)
    code = place((current - dob).days // 365, current.year)
    stop = min(left_on or end, end)
    # A change of placement about every 18 months: a new episode (RNE P).
    rne = "S"
    while current < stop:
        nxt = current + dt.timedelta(days=int(rng.integers(200, 900)))
        ends = min(nxt, stop)
        closed = ends < end
        episodes.append({"CHILD": str(child_id), "DECOM": pd.Timestamp(current), "RNE": rne,
                         "LS": "V2" if is_uasc or rng.random() < 0.3 else "C2",  # s20 or a care order
                         "PLACE": code, "DEC": pd.Timestamp(ends) if closed else pd.NaT,
                         "REC": ("E8" if ends == left_on else "X1") if closed else ""})
        current, rne = ends, "P"
        if current < stop:
            code = place((current - dob).days // 365, current.year)
    if left_on is not None and left_on < end and (left_on - dob).days // 365 >= 16:
        for birthday_age in range(17, 22):
            birthday = dt.date(dob.year + birthday_age, dob.month, min(dob.day, 28))
            if birthday <= left_on:
                continue
            year = birthday.year if birthday.month >= 4 else birthday.year - 1
            fostered = code.startswith("U")
            accom = "Z1" if fostered and birthday_age <= 20 and rng.random() < STAYING_PUT else str(
                rng.choice(["D1", "E1", "U1", "B1", "K1", "T1", "V2"], p=[0.3, 0.1, 0.25, 0.15, 0.08, 0.07, 0.05]))
            oc3.append({"CHILD": str(child_id), "DOB": dob, "IN_TOUCH": "YES", "ACCOM": accom, "YEAR": year})
    return {"CHILD": str(child_id), "SEX": str(int(rng.integers(1, 3))), "DOB": dob, "ETHNIC": "WBRI" if not is_uasc else "OOTH"}


def write(folder: Path, seed: int = 2026) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in generate(seed).items():
        out = frame.copy()
        for column in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[column]):
                out[column] = out[column].dt.strftime("%Y-%m-%d").fillna("")
        path = folder / f"{name}.csv"
        out.to_csv(path, index=False)
        paths.append(path)
    return paths


def demo_history(folder: Path, seed: int = 2026) -> History:
    return read_history(write(folder, seed))
