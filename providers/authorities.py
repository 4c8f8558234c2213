"""Local authorities: names, which authority holds children's services duties, and which adjoin.

Reg. 11 of the Care Planning, Placement and Case Review (England) Regulations 2010 asks two
questions of a placement: is it outside the council's area (nominated-officer approval), and is it
"at a distance", i.e. outside the area and not in an adjoining authority (Director approval).
Both are about *upper-tier* authorities, the ones with children's services duties: a Maidstone
postcode is inside Kent County Council's area, and Medway (a unitary) adjoins Kent as a whole.

The postcode directory gives lower-tier codes (`laua`); this module maps them up a tier using
`data/local_authorities.csv` and answers adjacency from `data/adjacency.csv`. Both are plain CSVs
so a council can ship its own (PLACEMATCH_LOCAL_AUTHORITIES, PLACEMATCH_ADJACENCY, or the
constructor), because "adjoining" across an estuary is a local policy call, not geography.
``load_authorities`` copies the same tables into the database (LocalAuthority and adjacency).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models.orm import LocalAuthority, authority_adjacency

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_AUTHORITIES_CSV = DATA_DIR / "local_authorities.csv"
DEFAULT_ADJACENCY_CSV = DATA_DIR / "adjacency.csv"

# ONS code prefixes: E07 is a shire district, whose children's services sit with its county (E10).
# Unitaries (E06), metropolitan districts (E08), London boroughs and the City (E09), and the
# Scottish, Welsh and Northern Irish councils (S12, W06, N09) are their own upper tier.
_DISTRICT_PREFIX = "E07"


def _csv_paths(authorities_csv: Path | str | None, adjacency_csv: Path | str | None) -> tuple[Path | str, Path | str]:
    """The files to read: those given, else PLACEMATCH_LOCAL_AUTHORITIES / PLACEMATCH_ADJACENCY,
    else the shipped tables. Shared by Authorities and load_authorities so the in-memory tables
    and the database agree."""
    return (
        authorities_csv or os.environ.get("PLACEMATCH_LOCAL_AUTHORITIES") or DEFAULT_AUTHORITIES_CSV,
        adjacency_csv or os.environ.get("PLACEMATCH_ADJACENCY") or DEFAULT_ADJACENCY_CSV,
    )


def _read_csv(path: Path | str, columns: list[str]) -> pd.DataFrame:
    # Lines starting with '#' carry provenance and caveats; dtype=str keeps codes exactly as written.
    frame = pd.read_csv(path, comment="#", dtype=str, skipinitialspace=True)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    return frame[columns].apply(lambda col: col.str.strip())


class Authorities:
    """Names, upper tiers and adjacency of local authorities, from two CSV files.

    authorities_csv: columns code,name,upper_tier_code,region.
    adjacency_csv: columns code_a,code_b, one row per pair of adjoining upper-tier authorities
    (read symmetrically; a district code is lifted to its county).
    extra_pairs: more adjoining pairs, e.g. from a council's configuration.
    """

    def __init__(
        self,
        authorities_csv: Path | str | None = None,
        adjacency_csv: Path | str | None = None,
        extra_pairs: Iterable[tuple[str, str]] = (),
    ) -> None:
        authorities_csv, adjacency_csv = _csv_paths(authorities_csv, adjacency_csv)

        table = _read_csv(authorities_csv, ["code", "name", "upper_tier_code", "region"])
        duplicated = table["code"][table["code"].duplicated()]
        if not duplicated.empty:
            raise ValueError(f"{authorities_csv}: code(s) listed twice: {', '.join(duplicated)}")
        self._names: dict[str, str] = dict(zip(table["code"], table["name"]))
        self._upper: dict[str, str] = dict(zip(table["code"], table["upper_tier_code"]))
        self._regions: dict[str, str] = dict(zip(table["code"], table["region"]))

        pairs = _read_csv(adjacency_csv, ["code_a", "code_b"])
        self._neighbours: dict[str, set[str]] = {}
        for a, b in [*zip(pairs["code_a"], pairs["code_b"]), *extra_pairs]:
            self._add_pair(a, b)

    def _add_pair(self, a: str, b: str) -> None:
        ua, ub = self.upper_tier(a), self.upper_tier(b)
        if ua == ub:
            raise ValueError(f"adjacency pair {a},{b}: both are in {self.name(ua)}, an area cannot adjoin itself")
        self._neighbours.setdefault(ua, set()).add(ub)
        self._neighbours.setdefault(ub, set()).add(ua)

    # Single-code questions

    def name(self, code: str) -> str:
        """Display name; an unknown code is shown as itself rather than failing a page or report."""
        return self._names.get(code, code)

    def region(self, code: str) -> str | None:
        return self._regions.get(code)

    def councils_in(self, region: str) -> list[str]:
        """The region's authorities with children's services duties (counties, unitaries,
        London boroughs), by code."""
        return sorted(c for c, r in self._regions.items() if r == region and self._upper.get(c) == c)

    def councils_in_any(self) -> list[str]:
        """Every authority with children's services duties the table knows, by code."""
        return sorted(c for c, u in self._upper.items() if u == c)

    def areas_of(self, council: str) -> list[str]:
        """The lower-tier authorities a council's area is made of (its districts, or itself):
        the codes the postcode directory places addresses in."""
        districts = sorted(c for c, u in self._upper.items() if u == council and c != council)
        return districts or [council]

    def is_known(self, code: str) -> bool:
        return code in self._names

    def is_unresolved(self, code: str) -> bool:
        """True for a district (E07) missing from the table: its county is unknown, so upper_tier()
        falls back to the district itself and in-area/adjoining answers for it may be wrong."""
        return code.startswith(_DISTRICT_PREFIX) and code not in self._upper

    def upper_tier(self, code: str) -> str:
        """The authority with children's services duties for `code`: a district's county; a
        unitary, London borough or county itself. Unknown codes map to themselves (correct for
        E06/E08/E09; flagged by is_unresolved() and logged for an unknown E07)."""
        upper = self._upper.get(code)
        if upper is not None:
            return upper
        if self.is_unresolved(code):
            logger.warning("local authority %s is a district not in the authorities table; "
                           "treating it as its own upper tier", code)
        return code

    def neighbours(self, code: str) -> frozenset[str]:
        """Upper-tier authorities adjoining `code`'s upper tier."""
        return frozenset(self._neighbours.get(self.upper_tier(code), ()))

    def same_area(self, a: str, b: str) -> bool:
        """Both codes fall in the same upper-tier authority (Maidstone and Kent; Medway and Medway)."""
        return self.upper_tier(a) == self.upper_tier(b)

    def adjoins(self, a: str, b: str) -> bool:
        """The two upper-tier areas share a boundary. An area does not adjoin itself: use same_area."""
        ua, ub = self.upper_tier(a), self.upper_tier(b)
        return ua != ub and ub in self._neighbours.get(ua, ())

    # Vectorised, for the matching engine's long table of pairs

    def upper_tiers(self, la_codes: pd.Series) -> pd.Series:
        """upper_tier() over a Series; missing codes stay missing."""
        codes = la_codes.astype(object)
        unresolved = sorted({c for c in codes.dropna().unique() if self.is_unresolved(c)})
        if unresolved:
            logger.warning("districts not in the authorities table, treated as their own upper tier: %s",
                           ", ".join(unresolved))
        return codes.map(self._upper).fillna(codes).astype(object).where(codes.notna(), None)

    def classify(self, placing_code: str, la_codes: pd.Series) -> pd.DataFrame:
        """For each placement authority code: in_area, adjoining, at_a_distance (reg. 11).

        at_a_distance = not in area and not adjoining. Columns are pandas nullable booleans; a
        missing code (e.g. a postcode that could not be located) gives <NA> in all three, because
        "we don't know" must not read as "near".
        """
        placing = self.upper_tier(placing_code)
        upper = self.upper_tiers(la_codes)
        known = upper.notna()
        in_area = upper == placing
        adjoining = upper.isin(self._neighbours.get(placing, set())) & ~in_area

        def nullable(values: pd.Series) -> pd.Series:
            return values.astype("boolean").where(known, pd.NA)

        return pd.DataFrame(
            {
                "in_area": nullable(in_area),
                "adjoining": nullable(adjoining),
                "at_a_distance": nullable(~in_area & ~adjoining),
            },
            index=la_codes.index,
        )


@cache
def default_authorities() -> Authorities:
    """The shipped tables (or those named by PLACEMATCH_* at first use), built once per process."""
    return Authorities()


# The database's copy: the LocalAuthority table and its adjacency rows, which queries join on.


def load_authorities(
    session: Session,
    authorities_csv: Path | str | None = None,
    adjacency_csv: Path | str | None = None,
) -> tuple[int, int]:
    """Add the local authorities and their adjacency (one row each way, between upper-tier
    authorities) that the database does not hold yet. Idempotent. Returns (authorities added,
    adjacency rows added)."""
    la_path, adj_path = _csv_paths(authorities_csv, adjacency_csv)
    table = pd.read_csv(la_path, comment="#", dtype=str, skipinitialspace=True, keep_default_na=False)
    table = table.apply(lambda col: col.str.strip())
    present = set(session.scalars(select(LocalAuthority.code)))
    new = [
        LocalAuthority(code=r.code, name=r.name, upper_tier_code=r.upper_tier_code, region=r.region or None)
        for r in table.itertuples(index=False)
        if r.code not in present
    ]
    session.add_all(new)
    session.flush()

    tables = Authorities(la_path, adj_path)
    known = present | {la.code for la in new}
    wanted = sorted(
        {(a, b) for a in sorted(known) if tables.upper_tier(a) == a for b in tables.neighbours(a) if b in known}
    )
    existing = {tuple(row) for row in session.execute(select(authority_adjacency.c.code_a, authority_adjacency.c.code_b))}
    pairs = [{"code_a": a, "code_b": b} for a, b in wanted if (a, b) not in existing]
    if pairs:
        session.execute(insert(authority_adjacency), pairs)
    return len(new), len(pairs)
