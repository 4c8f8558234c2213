"""Which approvals a proposed placement needs, and from whom.

Reg. 11 of the Care Planning regulations (for looked-after children) and each council's own
rules turn a placement into approval requests, each decided by one role. The rules are a YAML
policy (``matching/approvals.yaml`` documents the defaults); this module only evaluates them,
vectorised over many proposals, so the engine can show the approvals with each proposal and
the service can raise the requests when the panel accepts one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.enums import ApprovalRule, LegalStatus, Role, Tier
from providers import safe_yaml

DEFAULT_APPROVALS_FILE = Path(__file__).with_name("approvals.yaml")
LOOKED_AFTER = [s.value for s in LegalStatus if s.is_looked_after]


class RuleRoles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    out_of_area: Optional[Role] = None
    at_a_distance: Optional[Role] = None
    over_20_miles: Optional[Role] = None
    unregistered: Optional[Role] = None
    emergency: Optional[Role] = None
    cost_ceiling: Optional[Role] = None


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    looked_after: RuleRoles = RuleRoles(
        out_of_area=Role.service_manager, at_a_distance=Role.director, over_20_miles=Role.director,
        unregistered=Role.head_of_service, emergency=Role.head_of_service,
        cost_ceiling=Role.head_of_service,
    )
    care_leavers: RuleRoles = RuleRoles(
        at_a_distance=Role.service_manager, over_20_miles=Role.service_manager,
        emergency=Role.head_of_service, cost_ceiling=Role.head_of_service,
    )
    distance_miles: float = Field(20.0, gt=0)
    # An override that breaks a hard rule (the panel placing where the engine's rules say no)
    # goes to this role whatever the young person's legal status; null: no approval needed.
    rules_broken: Optional[Role] = Role.head_of_service
    cost_ceilings: dict[Tier, float] = {Tier.standard: 1400, Tier.enhanced: 2500, Tier.intensive: 5000}


def load_approval_policy(path: str | Path | None = None) -> ApprovalPolicy:
    if path is None:
        return ApprovalPolicy()
    path = Path(path)
    try:
        # Bounded and without aliases (providers.safe_yaml), as every YAML file placematch reads.
        data = safe_yaml.read(path, str(path)) or {}
        return ApprovalPolicy.model_validate(data)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such approvals policy file") from None
    except safe_yaml.YamlRefused as exc:
        raise ValueError(str(exc)) from None
    except ValidationError as exc:
        raise ValueError(
            "\n".join(f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None


def approvals_required(proposals: pd.DataFrame, policy: ApprovalPolicy) -> pd.Series:
    """For each proposal, the approvals it needs as ``rule:role`` codes (in rule order).

    ``proposals`` needs: legal_status, out_of_area, at_a_distance, miles_from_home,
    ofsted_registered, emergency, tier, weekly_cost.
    """
    looked_after = proposals["legal_status"].isin(LOOKED_AFTER).to_numpy()
    ceiling = proposals["tier"].map({t.value: c for t, c in policy.cost_ceilings.items()}).astype(float)
    triggered = {
        ApprovalRule.out_of_area: proposals["out_of_area"].to_numpy(dtype=bool),
        ApprovalRule.at_a_distance: proposals["at_a_distance"].to_numpy(dtype=bool),
        ApprovalRule.over_20_miles: (proposals["miles_from_home"] > policy.distance_miles).to_numpy(),
        ApprovalRule.unregistered: ~proposals["ofsted_registered"].to_numpy(dtype=bool),
        ApprovalRule.emergency: proposals["emergency"].to_numpy(dtype=bool),
        ApprovalRule.cost_ceiling: (proposals["weekly_cost"] > ceiling).to_numpy(),
    }
    out = [[] for _ in range(len(proposals))]
    for rule, hit in triggered.items():
        for group, mask in ((policy.looked_after, looked_after), (policy.care_leavers, ~looked_after)):
            role = getattr(group, rule.value)
            if role is None:
                continue
            for k in np.flatnonzero(hit & mask):
                out[k].append(f"{rule.value}:{role.value}")
    return pd.Series(out, index=proposals.index, dtype=object)
