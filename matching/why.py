"""Why the engine chose a home, in two sentences a panel can read out to a young person, a
manager or an inspector: what the home offers and where it is, then how it compares with the
nearer homes it did not choose (each with the reason the engine recorded).

One builder for every reader: the ``why`` column of matches.csv (matching.explain) and the
case page (api.pages.panel_pages) both say it the same way, from plain values, so the words
do not depend on where the figures were read from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models import glossary

NEARER_SHOWN = 2  # nearer homes named in the sentence; the rest are counted


@dataclass(frozen=True)
class Home:
    """A home as the sentence names it: the proposal, or another home listed for the young person."""

    name: str  # the property's name, or its reference where it has none
    miles_from_home: float
    why_not: str = ""  # another home only: why the engine did not choose it, in words


def why_this_home(home: Home, *, service_type: str, tier: str, assessed_tier: str, out_of_area: bool,
                  at_a_distance: bool, la_code: str, miles_from_education: float | None,
                  others: Sequence[Home], area_name: Callable[[str], str]) -> str:
    """The sentence for a proposal. ``others``: the other homes listed for the young person
    (the engine's next best options); ``area_name``: an authority's name from its ONS code."""
    where = ("in the council's area" if not out_of_area else
             f"out of area, in {area_name(la_code)} (not an adjoining authority)" if at_a_distance
             else f"out of area, in the adjoining {area_name(la_code)}")
    fit = ("the support assessed" if tier == assessed_tier else
           f"{glossary.words(tier, glossary.TIERS).lower()} support (more than the "
           f"{glossary.words(assessed_tier, glossary.TIERS).lower()} support assessed)")
    education = (f" and {miles_from_education:.1f} from school, college or work"
                 if miles_from_education is not None else "")
    first = (f"{home.name} ({glossary.words(service_type, glossary.SERVICE_TYPES).lower()}) offers {fit}, "
             f"{where}: {home.miles_from_home:.1f} miles from home{education}.")
    if not others:
        return first + " It is the only home open to them."
    nearer = [o for o in others if o.miles_from_home < home.miles_from_home - 0.05]
    if not nearer:
        return first + f" It is the nearest of the {len(others) + 1} homes listed for them."
    said = "; ".join(f"{o.name}, {o.miles_from_home:.1f} miles: {o.why_not}" for o in nearer[:NEARER_SHOWN]
                     if o.why_not)
    more = f" ({len(nearer) - NEARER_SHOWN} more below)" if len(nearer) > NEARER_SHOWN else ""
    return first + (f" Nearer homes were not chosen: {said}{more}." if said else "")
