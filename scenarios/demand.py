"""From people to beds: the projected cohort times the need mix gives bed demand by tier, service
type and area for each year.

The need mix says, for young people in each state and age band, what share need a bed of each
service type from the council's market (fostering and children's homes are shown too: Staying
Put takes foster beds), and for each service type the share at each support tier. Its defaults
(``DEFAULT_NEED_MIX``, documented below) are replaced by the council's own where placematch's
database has them: the service types and current tiers of its placements by age band, and the
areas young people come from (their home authority).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import council_today
from scenarios import cohort as C

SERVICE_TYPES = ("foster_care", "childrens_home", "supported_accommodation", "supported_lodgings", "staying_put",
                 "supported_tenancy", "floating_support")
TIERS = ("standard", "enhanced", "intensive")

# Of the young people in a state, the share who need a bed (or support) of each service type
# (the rest need nothing from the market: placed with parents, living independently...).
DEFAULT_NEED_MIX: dict[str, dict[str, float]] = {
    "la_fostering": {"foster_care": 1.0},
    "la_residential": {"childrens_home": 1.0},
    "la_supported": {"supported_accommodation": 0.85, "supported_lodgings": 0.15},
    "la_other": {},
    "staying_put": {"staying_put": 1.0},
    # Care leavers: about a third in supported accommodation or lodgings, some in supported
    # tenancies or with floating support, the rest independent or with family.
    "care_leaver": {"supported_accommodation": 0.22, "supported_lodgings": 0.08, "supported_tenancy": 0.10,
                    "floating_support": 0.10},
}
# The demo council's referral mix (DOMAIN: tiers 45/35/20), for service types with tiers.
DEFAULT_TIER_MIX = {"standard": 0.45, "enhanced": 0.35, "intensive": 0.20}


@dataclass
class NeedMix:
    by_state: dict[str, dict[str, float]] = field(default_factory=lambda: {k: dict(v) for k, v in DEFAULT_NEED_MIX.items()})
    tiers: dict[str, dict[str, float]] = field(default_factory=lambda: {s: dict(DEFAULT_TIER_MIX) for s in SERVICE_TYPES})
    areas: dict[str, float] = field(default_factory=lambda: {"all": 1.0})
    source: str = "defaults"

    def matrix(self) -> np.ndarray:
        """(states, service types) shares."""
        return np.array([[self.by_state.get(s, {}).get(t, 0.0) for t in SERVICE_TYPES] for s in C.STATES])


def need_mix_from_database(session: Session) -> NeedMix:
    """The council's own tier mix per service type (current tiers of active and proposed
    placements) and area mix (home authorities of referrals and placements), where it has them."""
    from models.enums import PlacementStatus
    from models.people import Placement, Referral
    from models.supply import Property

    mix = NeedMix()
    rows = session.execute(
        select(Property.service_type, Placement.id, Referral.home_la_code)
        .join(Placement, Placement.property_id == Property.id).join(Referral, Referral.id == Placement.referral_id)
        .where(Placement.status.in_([PlacementStatus.active, PlacementStatus.proposed, PlacementStatus.awaiting_approval]))
    ).all()
    placements = {pid: (st.value if hasattr(st, "value") else st, la) for st, pid, la in rows}
    if placements:
        tiers: dict[str, dict[str, float]] = {}
        current = _current_tiers(session, list(placements))
        for pid, tier in current.items():
            service = placements[pid][0]
            tiers.setdefault(service, dict.fromkeys(TIERS, 0.0))[tier] += 1
        for service, counts in tiers.items():
            total = sum(counts.values())
            if total:
                mix.tiers[service] = {t: c / total for t, c in counts.items()}
        areas = pd.Series([la for _, la in placements.values()]).value_counts(normalize=True)
        mix.areas = {str(k): float(v) for k, v in areas.items()}
        mix.source = f"placematch database ({len(placements)} placements)"
    return mix


def _current_tiers(session: Session, placement_ids: list[int]) -> dict[int, str]:
    """Each placement's tier today: its support plan's latest step that has started."""

    from models.people import SupportPlanStep

    steps = session.execute(select(SupportPlanStep.placement_id, SupportPlanStep.starts_on, SupportPlanStep.tier)
                            .where(SupportPlanStep.placement_id.in_(placement_ids))).all()
    today = council_today()
    best: dict[int, tuple] = {}
    for pid, starts, tier in steps:
        if pid not in best or (starts <= today and (best[pid][0] > today or starts > best[pid][0])):
            best[pid] = (starts, tier.value if hasattr(tier, "value") else tier)
    return {pid: tier for pid, (_, tier) in best.items()}


def beds(population: np.ndarray, mix: NeedMix) -> np.ndarray:
    """(..., ages, states) people -> (..., service types, tiers, areas) beds."""
    by_service = np.einsum("...as,st->...t", population, mix.matrix())
    tiers = np.array([[mix.tiers.get(t, DEFAULT_TIER_MIX).get(k, 0.0) for k in TIERS] for t in SERVICE_TYPES])
    areas = np.array(list(mix.areas.values()))
    return by_service[..., :, None, None] * tiers[:, :, None] * areas
