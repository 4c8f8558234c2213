"""The demo council's tender: Medway's 16-25 supported accommodation framework re-let for
2027, as tender.yaml, bids.csv, scores.csv and moderation.csv (providers.tender_files).

Four lots, 24 bidders (the demo's 20 supported accommodation and tenancy providers, who bid
for the lots near their homes, and four newcomers), three quality criteria scored 0-5 by
three evaluators each, 60% price and 40% quality as Medway published. Made to show what an
evaluation panel meets: one abnormally low bid (a newcomer far under the lot's median), one
exact tie, and scores the evaluators disagreed on that the moderation settled. Seeded: the
same files every time.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from models.enums import Tier
from providers.demo.commissioning import PRICE_RANGES
from providers.demo.places import DEMO_AUTHORITY
from providers.demo.supply import PROVIDERS

SEED = 2027
LOTS = [  # number, name, service type, area, tiers and their expected shares of the weeks
    (1, "Supported accommodation in Medway", "supported_accommodation", "Medway",
     {Tier.standard: 0.55, Tier.enhanced: 0.45}),
    (2, "Supported accommodation in Kent and the adjoining boroughs", "supported_accommodation",
     "Kent, Bexley, Bromley, Greenwich and Thurrock", {Tier.standard: 0.6, Tier.enhanced: 0.4}),
    (3, "Intensive supported accommodation", "supported_accommodation", None,
     {Tier.enhanced: 0.3, Tier.intensive: 0.7}),
    (4, "Supported tenancies with floating support", "supported_tenancy", None,
     {Tier.standard: 0.5, Tier.enhanced: 0.5}),
]
# Which lots each kind of demo provider bids for (providers.demo.supply's kinds)
LOTS_OF_KIND = {"sa": (1, 3), "block": (3,), "sa_spot": (2, 3), "sa18": (2,), "st": (4,), "st18": (4,)}
NEWCOMERS = [  # invented names; any likeness to a real organisation is accidental
    ("NEW01", "Harbourside Youth Housing CIC", (1, 2)),
    ("NEW02", "Pathfinder Supported Homes", (1, 3)),
    ("NEW03", "Northfleet Floating Support Co-operative", (4,)),
    ("NEW04", "Greenway Move-On Tenancies", (4,)),
]
CRITERIA = [("safeguarding", "Safeguarding", 15), ("outcomes", "Outcomes for young people", 15),
            ("social_value", "Social value", 10)]
EVALUATORS = [("E1", "Commissioning officer", []), ("E2", "Leaving care social worker", []),
              ("E3", "Quality assurance officer", []), ("E4", "Young people's panel member", ["PRV05"])]
ABNORMALLY_LOW = ("NEW01", 1)  # a newcomer's lot 1 bid, far under the lot's median
TIED = (("PRV16", "PRV17"), 4)  # two tenancy providers whose lot 4 bids score the same
MODERATED = ("PRV02", 1, "outcomes")  # where the evaluators were three points apart

TENDER_YAML = """\
name: Medway 16-25 Supported Accommodation Framework 2027
placing_authority: {authority}
starts_on: 2027-04-01
ends_on: 2031-03-31
price_weight: 60
quality_weight: 40
price_method: lowest_price
quality_scale: 5
moderate_spread: 2
abnormally_low_percent: 20
award: {{top: 4}}
explained: []
criteria:
{criteria}
evaluators:
{evaluators}
lots:
{lots}
bids: bids.csv
scores: scores.csv
moderation: moderation.csv
"""


def _price(rng: random.Random, service: str, tier: Tier, position: float) -> float:
    lo, hi = PRICE_RANGES[next(s for s in PRICE_RANGES if s.value == service)][tier]
    if service == "supported_tenancy":  # by the hour: the tier's hours at the bidder's rate
        lo, hi = {Tier.standard: (170, 230), Tier.enhanced: (400, 560)}[tier]
    return float(round(lo + (hi - lo) * min(1.0, max(0.0, position + rng.uniform(-0.05, 0.05)))))


def write_demo_tender(folder: Path) -> Path:
    """Write the demo council's tender files into ``folder``; the path of its tender.yaml."""
    rng = random.Random(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    bidders = [(f"PRV{i:02d}", spec.name, LOTS_OF_KIND[spec.kind]) for i, spec in enumerate(PROVIDERS, start=1)
               if spec.kind in LOTS_OF_KIND] + NEWCOMERS
    lots = {number: (service, mix) for number, _, service, _, mix in LOTS}
    bids, scores, moderation = [], [], []
    quality: dict[str, float] = {bidder: rng.uniform(2.2, 4.6) for bidder, _, _ in bidders}
    position: dict[str, float] = {bidder: rng.uniform(0.3, 0.75) for bidder, _, _ in bidders}
    tied_prices: dict = {}
    for bidder, name, wanted in bidders:
        for lot in wanted:
            service, mix = lots[lot]
            prices = {t: _price(rng, service, t, position[bidder]) for t in mix}
            if (bidder, lot) == ABNORMALLY_LOW:
                prices = {t: float(round(_price(rng, service, t, 0.0) * 0.6)) for t in mix}
            if lot == TIED[1] and bidder in TIED[0]:
                prices = tied_prices.setdefault(lot, prices)
            bids.append({"bidder_id": bidder, "bidder_name": name, "lot": lot,
                         **{f"price_{t.value}": prices.get(t, "") for t in Tier},
                         "capacity_beds": rng.randint(3, 14)})
            for criterion, _, _ in CRITERIA:
                base = quality[TIED[0][0]] if (lot == TIED[1] and bidder in TIED[0]) else quality[bidder]
                for evaluator in ("E1", "E2", "E3"):
                    if lot == TIED[1] and bidder in TIED[0]:
                        score = round(base)  # the same scores for both: an exact tie
                    else:
                        score = min(5, max(0, round(base + rng.uniform(-0.6, 0.6))))
                    if (bidder, lot, criterion) == MODERATED:
                        score = {"E1": 1, "E2": 4, "E3": 3}[evaluator]
                    scores.append({"bidder_id": bidder, "lot": lot, "criterion": criterion,
                                   "evaluator": evaluator, "score": score})
            if bidder != "PRV05":  # the young people's panel member scores social value, but not PRV05
                tied = lot == TIED[1] and bidder in TIED[0]
                scores.append({"bidder_id": bidder, "lot": lot, "criterion": "social_value", "evaluator": "E4",
                               "score": round(quality[TIED[0][0]]) if tied else
                               min(5, max(0, round(quality[bidder] + rng.uniform(-0.6, 0.6))))})
    moderation.append({"bidder_id": MODERATED[0], "lot": MODERATED[1], "criterion": MODERATED[2],
                       "agreed_score": 3, "note": "Agreed at moderation on 14 October 2026: the evidence of "
                                                  "move-on outcomes supports a 3"})
    _csv(folder / "bids.csv", bids)
    _csv(folder / "scores.csv", scores)
    _csv(folder / "moderation.csv", moderation)
    path = folder / "tender.yaml"
    path.write_text(TENDER_YAML.format(
        authority=DEMO_AUTHORITY,
        criteria="\n".join(f"  - {{id: {c}, name: {n}, weight: {w}}}" for c, n, w in CRITERIA),
        evaluators="\n".join(f"  - {{id: {e}, name: \"{n}\"" + (f", conflicts: [{', '.join(c)}]" if c else "") + "}"
                             for e, n, c in EVALUATORS),
        lots="\n".join(
            f"  - number: {n}\n    name: {name}\n    service_type: {service}\n"
            + (f"    area: {area}\n" if area else "")
            + f"    tiers: [{', '.join(t.value for t in mix)}]\n"
            + f"    tier_mix: {{{', '.join(f'{t.value}: {s}' for t, s in mix.items())}}}"
            for n, name, service, area, mix in LOTS)), encoding="utf-8")
    return path


def _csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
