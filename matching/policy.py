"""The panel's policy: which hard rules apply and how proposals are scored.

A policy is a YAML file (every key optional; ``matching/policy.yaml`` holds the documented
defaults) read into :class:`Policy`. Two modes:

* ``lexicographic`` (the default): (1) place as many young people as possible, weighted by
  urgency; then (2) among those, the least need-fit and distance penalty; then (3) the least
  weekly cost. No amount of (2) or (3) ever trades against one more placement.
* ``weighted``: one sum in pounds a week, for commissioners: weekly cost plus each penalty
  priced in pounds, less the value of each placement.

Coefficients are integers and deliberately coarse (tenths of a mile, whole pounds), which keeps
the solver's numbers small and its proofs fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.enums import RiskToOthers, RiskToSelf, Tier, Urgency
from providers import safe_yaml

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Penalties(_Strict):
    """Level (2) of the lexicographic objective, in points; 1 point = a tenth of a mile.

    The area terms are split by legal status: for looked-after children (looked after,
    eligible) a placement outside the area or at a distance is a statutory matter (reg. 11
    approvals, the sufficiency duty); for care leavers (relevant, former relevant) it is not,
    and their distance from home already counts mile by mile, so by default the area adds
    nothing and never moves a care leaver further from home to land "in area".
    ``pounds_a_week_per_point`` brings the weekly cost into this level (every that-many pounds
    a week count one point), so the engine never spends hundreds of pounds a week for a tenth
    of a mile; None leaves cost to level (3) alone."""

    per_tenth_mile_home: int = Field(1, ge=0)
    per_tenth_mile_education: int = Field(1, ge=0)
    over_20_miles: int = Field(100, ge=0)  # the national 20-mile measure and Medway's rule
    out_of_area: int = Field(50, ge=0)  # looked-after children (reg. 11: nominated officer)
    at_a_distance: int = Field(100, ge=0)  # looked-after children (reg. 11: the Director)
    care_leaver_out_of_area: int = Field(0, ge=0)
    care_leaver_at_a_distance: int = Field(0, ge=0)
    over_provision_per_tier: int = Field(100, ge=0)
    suitable_not_preferred: int = Field(30, ge=0)
    outside_preferred_area: int = Field(30, ge=0)
    emergency: int = Field(10_000, ge=0)  # B&B only when nothing else exists
    pounds_a_week_per_point: Optional[int] = Field(50, gt=0)


class Pounds(_Strict):
    """The weighted mode: every term in pounds a week."""

    placement_value: dict[Urgency, int] = {
        Urgency.today: 12_000,
        Urgency.within_5_days: 10_000,
        Urgency.over_5_days: 8_000,
    }
    per_mile_home: int = Field(10, ge=0)
    per_mile_education: int = Field(10, ge=0)
    over_20_miles: int = Field(300, ge=0)
    out_of_area: int = Field(150, ge=0)  # looked-after children, as in Penalties
    at_a_distance: int = Field(450, ge=0)
    care_leaver_out_of_area: int = Field(0, ge=0)
    care_leaver_at_a_distance: int = Field(0, ge=0)
    over_provision_per_tier: int = Field(0, ge=0)  # the dearer tier's price is already counted
    suitable_not_preferred: int = Field(300, ge=0)
    outside_preferred_area: int = Field(150, ge=0)
    emergency: int = Field(5_000, ge=0)


class SolverSettings(_Strict):
    time_limit_seconds: float = Field(30.0, gt=0, le=3600)
    # 0: one worker, which is deterministic and the fastest on this model (measured); N > 1 runs
    # N workers with interleaved search so results stay repeatable.
    workers: int = Field(0, ge=0, le=64)
    seed: int = 0


class Policy(_Strict):
    mode: Literal["lexicographic", "weighted"] = "lexicographic"
    # Level (1): the value of placing a young person, by urgency.
    urgency_weights: dict[Urgency, int] = {
        Urgency.today: 3,
        Urgency.within_5_days: 2,
        Urgency.over_5_days: 1,
    }
    # A bed must be free by the panel date plus this many days.
    available_within_days: dict[Urgency, int] = {
        Urgency.today: 0,
        Urgency.within_5_days: 5,
        Urgency.over_5_days: 28,
    }
    distance_cap_miles: Optional[float] = Field(60.0, gt=0)
    require_good_grade: bool = True  # Medway: providers graded good or above only
    preferred_radius_miles: float = Field(5.0, ge=0)
    max_intensive_per_shared_home: Optional[int] = Field(2, ge=0)
    # Risk to others (left) that must never share a home with a risk to self (right).
    incompatible: list[tuple[RiskToOthers, RiskToSelf]] = [
        (RiskToOthers.sexual, RiskToSelf.sexual_exploitation),
        (RiskToOthers.criminal, RiskToSelf.criminal_exploitation),
        (RiskToOthers.physical, RiskToSelf.self_harm),
        (RiskToOthers.fire_setting, RiskToSelf.self_harm),
    ]
    weekly_budget_cap: Optional[int] = Field(None, ge=0)
    # Floating support and outreach packages have support hours a week, not beds: a young person
    # takes this many of a package's free hours at the tier they are proposed at (DOMAIN: standard
    # up to about 7 hours, enhanced about 8-20, intensive above 20).
    support_hours_needed: dict[Tier, int] = {Tier.standard: 6, Tier.enhanced: 14, Tier.intensive: 25}
    penalties: Penalties = Penalties()
    pounds: Pounds = Pounds()
    solver: SolverSettings = SolverSettings()
    alternatives: int = Field(3, ge=0, le=20)

    @field_validator("urgency_weights", "available_within_days")
    @classmethod
    def _every_urgency(cls, v: dict) -> dict:
        missing = [u.value for u in Urgency if u not in v]
        if missing:
            raise ValueError("missing urgency: " + ", ".join(missing))
        if any(x < 0 for x in v.values()):
            raise ValueError("values must not be negative")
        return v

    @field_validator("support_hours_needed")
    @classmethod
    def _every_tier(cls, v: dict) -> dict:
        missing = [t.value for t in Tier if t not in v]
        if missing:
            raise ValueError("missing tier: " + ", ".join(missing))
        if any(x < 1 or x > 168 for x in v.values()):
            raise ValueError("hours a week are from 1 to 168")
        return v

    def hours_needed(self, tier: str) -> int:
        return int(self.support_hours_needed[Tier(tier)])


class PolicyError(ValueError):
    """A policy file that cannot be used, with the file, the key and the reason."""


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy in ``path`` on top of the defaults (None: the defaults alone)."""
    if path is None:
        return Policy()
    path = Path(path)
    try:
        # Bounded and without aliases (providers.safe_yaml): a policy file is never expanded.
        data = safe_yaml.read(path, str(path)) or {}
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such policy file") from None
    except safe_yaml.YamlRefused as exc:
        raise PolicyError(str(exc)) from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: a policy is a mapping of keys to values")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        ]
        raise PolicyError("\n".join(lines)) from None
