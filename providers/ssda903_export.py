"""The placements placematch holds, written as the SSDA903 return's Header and Episodes tables
for one collection year (1 April to 31 March), so a council's data team can check them against
its case system and the DfE's validator before the return is sent.

What is written, and why:

* Only looked-after young people have episodes (legal status looked after or eligible): relevant
  and former relevant young people are care leavers, reported in OC3, not Episodes.
* One episode per placement that started (active or ended), cut to the collection year's overlap;
  an episode still open on 31 March (or on the day of export, in a year not yet over) has no end.
  A looked-after period ends at 18: a placement that runs past the 18th birthday ends its episode
  that day with REC E17 (aged 18 and remained with current carers).
* A placement that ended before 18, for a young person still looked after, ends its episode X1
  (a new episode begins); when placematch made the next placement too (starting the day the first
  ended), the reason is the care plan (CARPL) and the second starts RNE P. The first
  placement placematch holds also starts RNE P: a young person referred for a home is already
  looked after, and the episode before it lies in the case system, not here.
* PLACE from the service type (K3 registered supported accommodation, K2 children's home, U6
  foster care); PLACE_PROVIDER PR1 for the council's own homes, otherwise PR4 (placematch records
  whether a provider is the council's own, not whether another is private or voluntary).
* PL_LA is the upper-tier authority of the placement's postcode (WAL, SCO, NIR outside England),
  PL_LOCATION IN or OUT of the placing authority, PL_DISTANCE the DfE's straight-line miles to one
  decimal place, from the same postcode grid references the matching uses.
* Fields placematch does not hold (ETHNIC, UPN, MOTHER, MC_DOB, the legal status's LS code and
  the category of need CIN) are left blank for the case system to fill; the README lists the
  validator's rules they raise.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Engine, select
from sqlalchemy.orm import selectinload

from models.base import council_today
from models.db import session_factory
from models.enums import LegalStatus, PlacementStatus, ServiceType, Sex
from models.people import Placement
from models.supply import Property
from providers import csvfiles as cf
from providers.authorities import default_authorities
from providers.geography import pl_distance_miles

HEADER_COLUMNS = ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"]
# The columns the DfE's validator reads, then the three it derives from the postcodes (which the
# return carries and the validator recomputes; tests compare the two).
EPISODE_COLUMNS = ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                   "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"]
DERIVED_COLUMNS = ["PL_LA", "PL_LOCATION", "PL_DISTANCE"]
HEADER_FILE, EPISODES_FILE = "header.csv", "episodes.csv"

PLACE_BY_SERVICE = {
    ServiceType.supported_accommodation: "K3",  # registered supported accommodation (from 2024/25)
    ServiceType.supported_tenancy: "K3",
    ServiceType.supported_lodgings: "K3",
    ServiceType.childrens_home: "K2",  # children's home under the Children's Homes Regulations
    ServiceType.foster_care: "U6",  # with another foster carer, not long term or fostering for adoption
}
NOT_EPISODES = {
    ServiceType.floating_support: "floating support goes into the young person's own home, not a placement",
    ServiceType.staying_put: "staying put is for those aged 18 or over, who are no longer looked after",
    ServiceType.emergency: "emergency accommodation is never used for a looked-after child",
}
OUTSIDE_ENGLAND = {"W": "WAL", "S": "SCO", "N": "NIR"}
_YEAR = re.compile(r"^(\d{4})[-/](\d{2}|\d{4})$")


class ExportRefused(ValueError):
    """The request cannot be exported (a collection year written wrongly, an unknown authority)."""


@dataclass(frozen=True)
class CollectionYear:
    """1 April ``start`` to 31 March the year after: "2026-27"."""

    start: int

    @classmethod
    def parse(cls, text: str) -> CollectionYear:
        m = _YEAR.match(text.strip())
        if not m or int(m.group(2)[-2:]) != (int(m.group(1)) + 1) % 100:
            raise ExportRefused(f"collection year {text!r}: write it as the two years it spans, e.g. 2026-27")
        return cls(int(m.group(1)))

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.start, 4, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.start + 1, 3, 31)

    @property
    def label(self) -> str:
        return f"{self.start}-{(self.start + 1) % 100:02d}"

    @property
    def sex_codes(self) -> dict[Sex, str]:
        # The return coded sex 1/2 until 2023-24 and M/F (U unknown) from 2024-25.
        return {Sex.male: "M", Sex.female: "F"} if self.start >= 2024 else {Sex.male: "1", Sex.female: "2"}


@dataclass
class Export:
    year: CollectionYear
    placing_authority: str
    headers: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    # Placements of looked-after young people that are not episodes, with the reason (plain words).
    left_out: list[tuple[int, str]] = field(default_factory=list)

    def write(self, directory: Path | str) -> dict[str, Path]:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        return {
            "header": cf.write_table(directory / HEADER_FILE, HEADER_COLUMNS, self.headers),
            "episodes": cf.write_table(directory / EPISODES_FILE, EPISODE_COLUMNS + DERIVED_COLUMNS, self.episodes),
        }

    def __str__(self) -> str:
        lines = [f"SSDA903 {self.year.label} for {default_authorities().name(self.placing_authority)}: "
                 f"{len(self.headers)} young people, {len(self.episodes)} episodes"]
        lines += [f"placement {pid} is not an episode: {why}" for pid, why in self.left_out]
        return "\n".join(lines)


def _date(day: Optional[dt.date]) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _pl_la(prop: Property) -> str:
    nation = OUTSIDE_ENGLAND.get(prop.la_code[:1])
    return nation or default_authorities().upper_tier(prop.la_code)


def _eighteenth(dob: dt.date) -> dt.date:
    try:
        return dob.replace(year=dob.year + 18)
    except ValueError:  # born 29 February: 18 on 1 March
        return dt.date(dob.year + 18, 3, 1)


def build_export(engine: Engine, year: CollectionYear, placing_authority: str,
                 today: Optional[dt.date] = None) -> Export:
    """The Header and Episodes rows for ``year``; episodes open on ``today`` (default: today on
    the council's calendar) have no end, and nothing after ``today`` is reported."""
    authorities = default_authorities()
    if not authorities.is_known(placing_authority):
        raise ExportRefused(f"placing authority {placing_authority!r} is not a known local authority code")
    today = today or council_today()
    upto = min(year.last_day, today)
    out = Export(year, authorities.upper_tier(placing_authority))
    stmt = (select(Placement)
            .where(Placement.status.in_([PlacementStatus.active, PlacementStatus.ended]))
            .options(selectinload(Placement.referral), selectinload(Placement.property).selectinload(Property.provider))
            .order_by(Placement.referral_id, Placement.starts_on, Placement.id))
    with session_factory(engine)() as session:
        by_child: dict[str, list[Placement]] = {}
        for p in session.scalars(stmt):
            if not LegalStatus(p.referral.legal_status).is_looked_after:
                continue
            if p.property.service_type in NOT_EPISODES:
                out.left_out.append((p.id, NOT_EPISODES[p.property.service_type]))
                continue
            by_child.setdefault(p.referral_id, []).append(p)
        for child, placements in by_child.items():
            rows = _episodes(placements, year, upto, out.placing_authority)
            if rows:
                ref = placements[0].referral
                out.headers.append({"CHILD": child, "SEX": year.sex_codes.get(ref.sex, "U"),
                                    "DOB": _date(ref.date_of_birth)})
                out.episodes += rows
    return out


def _episodes(placements: list[Placement], year: CollectionYear, upto: dt.date, la: str) -> list[dict[str, Any]]:
    ref = placements[0].referral
    leaves_care = _eighteenth(ref.date_of_birth)
    rows: list[dict[str, Any]] = []
    previous_end: Optional[dt.date] = None
    for p in placements:
        start = p.starts_on
        end = p.ended_on if p.status == PlacementStatus.ended else None
        at_18 = end is None or end > leaves_care
        if at_18:
            end = leaves_care
        follows = previous_end is not None and start == previous_end
        previous_end = end
        if start > upto or end < year.first_day or start >= leaves_care:
            continue
        if end > upto:  # still open at the end of the year (or today): no end yet
            end = None
        if follows and rows:  # the episode before ended in this year, in a change of placement
            rows[-1]["REC"], rows[-1]["REASON_PLACE_CHANGE"] = "X1", "CARPL"
        prop = p.property
        pl_la = _pl_la(prop)
        rows.append({
            "CHILD": ref.id, "DECOM": _date(start), "RNE": "P", "LS": "", "CIN": "",
            "PLACE": PLACE_BY_SERVICE[prop.service_type],
            "PLACE_PROVIDER": "PR1" if prop.provider.in_house else "PR4",
            # a placement that ended before 18 for a young person still looked after ends its
            # episode in a move (X1); the reason is known only when the next home is placematch's
            "DEC": _date(end), "REC": ("E17" if at_18 else "X1") if end else "",
            "REASON_PLACE_CHANGE": "",
            "HOME_POST": ref.home_postcode, "PL_POST": prop.postcode, "URN": prop.provider.ofsted_urn or "",
            "PL_LA": pl_la, "PL_LOCATION": "IN" if pl_la == la else "OUT",
            "PL_DISTANCE": f"{float(pl_distance_miles(ref.home_easting, ref.home_northing, prop.easting, prop.northing)):.1f}",
        })
    return rows
