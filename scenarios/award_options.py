"""Award options as tender scenarios: "award to the top 3 per lot", "the top 5", "weight quality
at 50%" tried on a tender's bids before anyone signs the award, then run through the same
month-by-month simulation as any scenario, so the commissioner sees the cost, unmet need and
distance of each award against forecast demand.

A scenario file names the tender and the option under ``supply: award:``::

    supply:
      award:
        tender: 3              # a tender evaluated in the service (its number on the tenders page),
                               # or, from the command line, its tender.yaml (next to the scenario file)
        top: 5                 # or min_score: 65; neither: the tender's own award rule
        quality_weight: 50     # optional: price then weighs 50; the criteria keep their proportions
        newcomers_at: ME4 4TR  # optional: where newly awarded providers' beds would be

What the award does to the market, for each service type the tender's lots buy:

* The homes of providers awarded a lot of that service type stay, priced at the weekly prices
  they bid, tier by tier (a provider awarded two lots offering the same tier is priced at the
  lower-numbered lot's bid); a tier they were not awarded is no longer bought from them.
* The homes of every other provider of that service type leave the framework: the simulation
  reaches them only as spot purchases (its fallback), at spot prices.
* A provider that offered more beds than its homes have gets the difference as new beds at its
  first home; a newcomer (no homes today) gets the beds it offered at ``newcomers_at``, or
  else at the home in the middle of that service type's market today. New beds are assumed
  registered, rated good and open to 16-25, with no needs they are known to meet, as the
  block contracts' are (scenarios.tender).
* Young people placed today stay where they are, and block contracts run on as they are.

An option that would leave a lot with no provider is refused, naming the lot, as the award
itself would be.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from providers.tender_evaluation import Evaluation, evaluate
from providers.tender_files import (
    Award,
    Criterion,
    Tender,
    TenderFilesRefused,
    read_tender,
)

# A scenario names its tender by number (kept in the service) or by file (the command line).
TenderRef = int | str
Tenders = Callable[[TenderRef], Tender]


class AwardOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tender: int | str
    top: Optional[int] = Field(None, ge=1, le=100)
    min_score: Optional[float] = Field(None, gt=0, le=100)
    quality_weight: Optional[float] = Field(None, gt=0, lt=100)
    newcomers_at: Optional[str] = Field(None, min_length=5, max_length=8)

    @model_validator(mode="after")
    def _one_rule(self) -> "AwardOption":
        if self.top is not None and self.min_score is not None:
            raise ValueError("give top: N or min_score: S, not both")
        return self

    def words(self) -> str:
        """The option as a commissioner would say it."""
        rule = (f"the top {self.top} bids of each lot" if self.top is not None else
                f"every bid scoring {self.min_score:g} or more" if self.min_score is not None else
                "the bids its own award rule chooses")
        weight = f", with quality weighted {self.quality_weight:g}%" if self.quality_weight is not None else ""
        return f"Award tender {self.tender} to {rule}{weight}"


class AwardOptionRefused(ValueError):
    """What keeps an option from being tried: ``(key, reason)`` pairs, key under supply > award."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {r}" if k else r for k, r in problems))


def reweighted(tender: Tender, option: AwardOption) -> Tender:
    """The tender as the option would evaluate it: its award rule and, if given, the quality
    weight (the price weight the rest of 100; each criterion scaled so they keep their shares)."""
    spec = tender.spec
    update: dict = {}
    if option.top is not None or option.min_score is not None:
        update["award"] = Award(top=option.top, min_score=option.min_score)
    if option.quality_weight is not None:
        scale = option.quality_weight / spec.quality_weight
        update |= {"quality_weight": option.quality_weight, "price_weight": 100 - option.quality_weight,
                   "criteria": [Criterion(id=c.id, name=c.name, weight=c.weight * scale) for c in spec.criteria]}
    return dataclasses.replace(tender, spec=spec.model_copy(update=update)) if update else tender


def evaluated(tenders: Tenders | None, option: AwardOption) -> Evaluation:
    """The option's ranking and award, or AwardOptionRefused naming what is wrong."""
    if tenders is None:
        raise AwardOptionRefused([("tender", "award options can be tried only where the tenders are: from the "
                                             "tenders page, or from the command line with the tender's files")])
    try:
        tender = tenders(option.tender)
    except LookupError as exc:
        raise AwardOptionRefused([("tender", str(exc.args[0]) if exc.args else "no such tender")]) from None
    except TenderFilesRefused as exc:
        raise AwardOptionRefused([("tender", f"its files cannot be read: {p}") for p in exc.problems[:5]]) from None
    evaluation = evaluate(reweighted(tender, option))
    empty = [p for p in evaluation.award_problems() if "would have no provider" in p]
    if empty:
        raise AwardOptionRefused([("top" if option.top is not None else "min_score" if option.min_score is not None
                                   else "tender", p) for p in empty])
    return evaluation


def awarded_market(supply: pd.DataFrame, evaluation: Evaluation, new_home: Callable[..., dict],
                   newcomers_at=None) -> pd.DataFrame:
    """The supply once the evaluation's award replaces the framework (see the module).
    ``new_home`` builds a new home's row (scenarios.tender.new_home, shared with the block
    contracts); ``newcomers_at`` a located postcode or None."""
    from matching.instance import PRICE_COLUMNS

    spec = evaluation.tender.spec
    label = f"{spec.name} (as awarded in this scenario)"
    out = supply
    added = []
    for service_type in dict.fromkeys(lot.service_type.value for lot in spec.lots):
        prices: dict[str, dict] = {}  # provider -> {tier: the price it bid}
        offered: dict[str, int] = {}
        for lot in sorted((lot for lot in spec.lots if lot.service_type.value == service_type),
                          key=lambda lot: lot.number):
            for r in evaluation.awarded(lot.number):
                bidder = r.bid.bidder_id
                for tier, price in r.bid.prices.items():
                    prices.setdefault(bidder, {}).setdefault(tier, price)
                offered[bidder] = offered.get(bidder, 0) + r.bid.capacity_beds
        segment = (out["service_type"] == service_type) & ~out["block"].astype(bool)  # block contracts run on
        middle = _middle(out[segment])
        kept = segment & out["provider_id"].isin(list(prices))
        out = out[~segment | kept].copy()
        out.loc[kept[kept].index, list(PRICE_COLUMNS.values())] = np.nan  # only tiers bid for are bought
        for bidder, tiers in prices.items():
            rows = out.index[(out["service_type"] == service_type) & ~out["block"].astype(bool)
                             & (out["provider_id"] == bidder)]
            for tier, price in tiers.items():
                out.loc[rows, PRICE_COLUMNS[tier]] = price
            out.loc[rows, "lot"], out.loc[rows, "framework"] = label, spec.name
            out.loc[rows, "lot_id"], out.loc[rows, "block"], out.loc[rows, "void_weekly_cost"] = None, False, 0.0
            extra = offered[bidder] - int(out.loc[rows, "beds"].sum())
            if extra <= 0:
                continue
            place = _place_of(out.loc[rows[0]]) if len(rows) else newcomers_at or middle
            if place is None:
                continue  # no market of this service type today and nowhere named: nowhere to put them
            added.append(new_home(f"A-{bidder}-{service_type}", bidder, extra, place, service_type,
                                  {PRICE_COLUMNS[t]: p for t, p in tiers.items()}, label, framework=spec.name,
                                  available_from=out["available_from"].min()))
    if added:
        out = pd.concat([out, pd.DataFrame(added)], ignore_index=True)
    return out.reset_index(drop=True)


@dataclasses.dataclass(frozen=True)
class _Place:
    postcode: str
    easting: float
    northing: float
    la_code: str


def _place_of(row) -> _Place:
    return _Place(row["postcode"], float(row["easting"]), float(row["northing"]), row["la_code"])


def _middle(homes: pd.DataFrame) -> _Place | None:
    """The home nearest the middle of these homes (a real postcode, unlike their mean)."""
    if homes.empty:
        return None
    e, n = homes["easting"].mean(), homes["northing"].mean()
    nearest = ((homes["easting"] - e) ** 2 + (homes["northing"] - n) ** 2).idxmin()
    return _place_of(homes.loc[nearest])


# --- where a scenario's tender comes from --------------------------------------------------------


def tenders_from(session=None, folder: Path | None = None) -> Tenders:
    """Find a scenario's tender: a number is a tender kept in the service's database (the
    session's), a name a tender.yaml in ``folder`` (the scenario file's). LookupError, in words,
    when there is none."""
    def find(ref: TenderRef) -> Tender:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            if session is None:
                raise LookupError(f"tender {ref} is kept in the service: try this option there, or name the "
                                  "tender's tender.yaml")
            from models.supply import TenderEvaluation
            from providers.tender_store import tender_of

            row = session.get(TenderEvaluation, int(ref))
            if row is None:
                raise LookupError(f"there is no tender {ref}: the tenders page lists them by number")
            return tender_of(row)
        if folder is None:
            raise LookupError("name the tender by its number on the tenders page")
        path = (folder / ref).resolve()
        if not path.is_relative_to(Path(folder).resolve()):  # "next to" means inside: never ../ elsewhere
            raise LookupError(f"the tender {ref} must be in the scenario file's folder")
        if not path.is_file():
            raise LookupError(f"there is no file {ref} next to the scenario file")
        return read_tender(path)

    return find


# --- the options a commissioner tries first ------------------------------------------------------

OPTION_REPLICATIONS = 50  # enough for the comparison's intervals; a run of four takes a few minutes


def framework_years(spec) -> int:
    """The framework's length in whole years (1 to 10, as a scenario's horizon may be)."""
    return max(1, min(10, round((spec.ends_on - spec.starts_on).days / 365.25)))


def standard_options(spec, tender: TenderRef) -> dict[str, str]:
    """Scenario files (name -> YAML text) for the questions asked before an award is signed:
    the market as it is today (the baseline), the award as the tender's rule makes it, a wider
    award, and quality weighted more; each over the framework's years."""
    years = framework_years(spec)
    wider = (f"top: {spec.award.top + 2}", f"the top {spec.award.top + 2} bids of each lot") \
        if spec.award.top is not None else \
        (f"min_score: {max(1.0, spec.award.min_score - 10):g}", f"bids scoring {max(1.0, spec.award.min_score - 10):g} "
                                                                  "or more")
    quality = 50.0 if spec.quality_weight < 50 else min(90.0, spec.quality_weight + 10)
    ref = tender if isinstance(tender, int) else f'"{tender}"'
    head = f"horizon_years: {years}\nreplications: {OPTION_REPLICATIONS}\nseed: 2026\n"

    def award(name: str, description: str, lines: str) -> str:
        return (f'name: "{name}"\ndescription: "{description}"\n{head}supply:\n  award:\n    tender: {ref}\n'
                + "".join(f"    {line}\n" for line in lines.splitlines() if line))

    rule = f"top {spec.award.top}" if spec.award.top is not None else f"score {spec.award.min_score:g} or more"
    return {
        "baseline.yaml": f'name: "Baseline: the market today"\ndescription: "No award: the homes and prices of '
                         f'today"\n{head}',
        "award-as-evaluated.yaml": award(f"Award as evaluated ({rule})", f"{spec.name}: the tender's own award rule",
                                         ""),
        "award-wider.yaml": award(f"Award wider ({wider[1]})", f"{spec.name}: more providers on each lot", wider[0]),
        "award-quality.yaml": award(f"Quality weighted {quality:g}%",
                                    f"{spec.name}: price {100 - quality:g}%, quality {quality:g}%",
                                    f"quality_weight: {quality:g}"),
    }
