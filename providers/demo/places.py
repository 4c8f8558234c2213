"""Where the demo council's young people live and its market's properties stand.

Medway and the authorities around it, each with its share of the supply and of the referrals'
home postcodes; the town centres exploited young people are kept away from; town names for
postcode districts; and ``Places``, the real ONS postcodes of those authorities, from which every
postcode in the demo is picked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np
import pandas as pd

from providers.demo._draw import weighted
from providers.demo.errors import DemoError
from providers.geography import grid_distance_miles, postcodes_in

MEDWAY, MAIDSTONE, SWALE, GRAVESHAM = "E06000035", "E07000110", "E07000113", "E07000109"
TONBRIDGE_MALLING, CANTERBURY, DARTFORD = "E07000115", "E07000106", "E07000107"
THURROCK, SOUTHEND, BEXLEY, GREENWICH, BROMLEY = "E06000034", "E06000033", "E09000004", "E09000011", "E09000006"

DEMO_AUTHORITY = MEDWAY  # Medway Council, a unitary authority in Kent: the placing council


@dataclass(frozen=True)
class Area:
    code: str
    letters: str  # first letters of the postcodes that cover it in the ONS directory
    supply: float  # share of the properties
    homes: float  # share of the referrals' home postcodes


# Medway's market: most supply in Medway and the Kent districts around it, some across the
# Thames in Thurrock and Southend, and in the south-east London boroughs (DOMAIN: sufficiency
# strategies report a third or more placed out of area).
AREAS: tuple[Area, ...] = (
    Area(MEDWAY, "M", 0.34, 0.75),
    Area(MAIDSTONE, "MT", 0.10, 0.05),
    Area(SWALE, "M", 0.08, 0.05),
    Area(GRAVESHAM, "D", 0.07, 0.04),
    Area(TONBRIDGE_MALLING, "MT", 0.06, 0.03),
    Area(CANTERBURY, "C", 0.05, 0.01),
    Area(DARTFORD, "D", 0.05, 0.02),
    Area(THURROCK, "RS", 0.05, 0.0),
    Area(SOUTHEND, "S", 0.04, 0.0),
    Area(BEXLEY, "DS", 0.05, 0.02),
    Area(GREENWICH, "S", 0.05, 0.015),
    Area(BROMLEY, "BST", 0.06, 0.015),
)

# Town centres (OS grid) where exploited young people were groomed; an avoid postcode is the
# directory postcode nearest to one of them.
TOWN_CENTRES: tuple[tuple[str, str, float, float], ...] = (
    ("Chatham", MEDWAY, 575900, 167800),
    ("Gillingham", MEDWAY, 577400, 168600),
    ("Strood", MEDWAY, 573400, 169300),
    ("Rochester", MEDWAY, 574300, 168500),
    ("Rainham", MEDWAY, 580800, 165800),
    ("Maidstone", MAIDSTONE, 576000, 155800),
    ("Sittingbourne", SWALE, 590600, 163600),
    ("Gravesend", GRAVESHAM, 564800, 174300),
    ("Dartford", DARTFORD, 554200, 174200),
)

# Towns by postcode district, for property names and wishes; others fall back to the authority.
_TOWNS = {
    "ME1": "Rochester", "ME2": "Strood", "ME3": "Hoo", "ME4": "Chatham", "ME5": "Chatham",
    "ME6": "Snodland", "ME7": "Gillingham", "ME8": "Rainham", "ME9": "Sittingbourne",
    "ME10": "Sittingbourne", "ME11": "Queenborough", "ME12": "Sheerness", "ME13": "Faversham",
    "ME14": "Maidstone", "ME15": "Maidstone", "ME16": "Maidstone", "ME17": "Maidstone",
    "ME18": "West Malling", "ME19": "West Malling", "ME20": "Aylesford", "DA1": "Dartford",
    "DA2": "Dartford", "DA3": "Longfield", "DA4": "Dartford", "DA5": "Bexley", "DA6": "Bexleyheath",
    "DA7": "Bexleyheath", "DA8": "Erith", "DA10": "Swanscombe", "DA11": "Gravesend",
    "DA12": "Gravesend", "DA13": "Meopham", "DA14": "Sidcup", "DA15": "Sidcup", "DA16": "Welling",
    "DA17": "Belvedere", "DA18": "Erith", "CT1": "Canterbury", "CT2": "Canterbury",
    "CT3": "Canterbury", "CT4": "Canterbury", "CT5": "Whitstable", "CT6": "Herne Bay",
    "RM15": "South Ockendon", "RM16": "Grays", "RM17": "Grays", "RM18": "Tilbury",
    "RM19": "Purfleet", "RM20": "West Thurrock", "SS0": "Westcliff-on-Sea", "SS1": "Southend-on-Sea",
    "SS2": "Southend-on-Sea", "SS3": "Shoeburyness", "SS9": "Leigh-on-Sea", "SS17": "Stanford-le-Hope",
    "SE2": "Abbey Wood", "SE3": "Blackheath", "SE7": "Charlton", "SE9": "Eltham",
    "SE10": "Greenwich", "SE18": "Woolwich", "SE28": "Thamesmead", "BR1": "Bromley",
    "BR2": "Bromley", "BR3": "Beckenham", "BR4": "West Wickham", "BR5": "Orpington",
    "BR6": "Orpington", "BR7": "Chislehurst", "TN9": "Tonbridge", "TN10": "Tonbridge",
    "TN11": "Tonbridge", "TN12": "Paddock Wood", "TN15": "Borough Green", "TN16": "Biggin Hill",
}


class Place(NamedTuple):
    """One directory postcode with its grid reference and the authority it lies in."""

    postcode: str
    easting: float
    northing: float
    la_code: str

    @property
    def town(self) -> str:
        return _TOWNS.get(self.postcode.split(" ")[0], "")


class Places:
    """Real postcodes of the demo's authorities, loaded once and sorted so picks are stable."""

    def __init__(self) -> None:
        self.frames: dict[str, pd.DataFrame] = {}
        for area in AREAS:
            frame = postcodes_in(area.code, area.letters)
            if frame.empty:
                raise DemoError(f"no postcodes found for {area.code} under letters {area.letters}")
            self.frames[area.code] = frame.sort_values("postcode", kind="stable").reset_index(drop=True)
        self._used: dict[str, set[int]] = {}

    def _row(self, code: str, i: int) -> Place:
        f = self.frames[code]
        return Place(str(f.at[i, "postcode"]), float(f.at[i, "easting"]), float(f.at[i, "northing"]), code)

    def pick(self, rng: random.Random, code: str, *, unique: bool = False) -> Place:
        """A random postcode in the authority; ``unique`` never returns the same one twice."""
        n = len(self.frames[code])
        used = self._used.setdefault(code, set())
        while True:
            i = rng.randrange(n)
            if not unique or i not in used:
                used.add(i)
                return self._row(code, i)

    def near(self, rng: random.Random, pc: Place, miles: float) -> Optional[Place]:
        """A random postcode in the same authority within ``miles`` of ``pc`` (not ``pc``)."""
        f = self.frames[pc.la_code]
        d = grid_distance_miles(f["easting"].to_numpy(), f["northing"].to_numpy(), pc.easting, pc.northing)
        close = np.flatnonzero((d <= miles) & (f["postcode"].to_numpy() != pc.postcode))
        if len(close) == 0:
            return None
        return self._row(pc.la_code, int(close[rng.randrange(len(close))]))

    def nearest(self, code: str, easting: float, northing: float) -> Place:
        f = self.frames[code]
        d = np.hypot(f["easting"].to_numpy() - easting, f["northing"].to_numpy() - northing)
        return self._row(code, int(np.argmin(d)))


def home_area(rng: random.Random) -> str:
    """The authority of a young person's home postcode, in the referrals' proportions."""
    return weighted(rng, [(a.code, a.homes) for a in AREAS if a.homes > 0])
