"""A tender's bids scored price against quality, ranked per lot, and the award chosen.

What is computed, as councils publish it (every figure is shown with the ranking, so a bidder
or an auditor can redo it by hand):

* **The lot's price of a bid**: its weekly price at each tier the lot offers, weighted by the
  lot's tier mix (the share of weeks expected at each tier; equal shares if none is given).
* **Price score**, out of the tender's price weight, by one of two methods:
  ``lowest_price`` (the one most councils publish): lowest price in the lot / the bid's price x
  weight, so a bid at twice the lowest price gets half the marks; or
  ``percentage_above_lowest``: weight x (1 - (bid - lowest) / lowest), never below 0, so a bid
  10% above the lowest loses 10% of the marks and one at twice the lowest gets none (it
  separates close prices more sharply).
* **Quality score**, out of the quality weight: for each criterion, the moderated (agreed)
  score if the moderation gives one, else the evaluators' mean, / the scale's top x the
  criterion's weight. The spread (highest minus lowest evaluator's score) is shown; a spread
  of ``moderate_spread`` or more with no agreed score is flagged, and no award is made until
  it is moderated.
* **Total** = price score + quality score, out of 100, compared at 2 decimal places. Bids are
  ranked high to low; equal totals are flagged as a tie and ordered by the quality score; bids
  equal on both share a rank.
* **Abnormally low**: a lot's price more than ``abnormally_low_percent`` below the lot's median
  is flagged. The council must ask the bidder to explain it before awarding; such a bid is
  left out of the award unless the tender file lists it as ``explained``.

The award, per lot: the top N bids (every bid sharing the Nth bid's rank too), or every bid
scoring at least ``min_score``, leaving out unexplained abnormally low bids. An award that
would leave a lot with no provider is refused, naming the lot.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from models import glossary
from models.enums import Tier
from providers.tender_files import Bid, Tender

PLACES = 2  # scores are compared and shown to 2 decimal places


@dataclass(frozen=True)
class CriterionScore:
    criterion: str
    by_evaluator: tuple[tuple[str, float], ...]
    agreed: float | None  # the moderated score, if the moderation gave one
    used: float  # the agreed score, else the evaluators' mean
    spread: float  # highest minus lowest evaluator's score (0 with one evaluator)
    marks: float  # used / scale x the criterion's weight
    needs_moderation: bool


@dataclass
class Ranked:
    bid: Bid
    lot_price: float  # the weekly price, weighted by the lot's tier mix
    price_score: float
    quality_score: float
    criteria: list[CriterionScore]
    rank: int = 0
    flags: list[str] = field(default_factory=list)  # codes of glossary.TENDER_FLAGS
    tied_with: list[str] = field(default_factory=list)  # bidder ids with the same total
    awarded: bool = False
    left_out: str = ""  # why a bid that ranks high enough is not awarded, in words

    @property
    def total(self) -> float:
        return round(self.price_score + self.quality_score, PLACES)

    @property
    def key(self) -> tuple[float, float]:
        return (self.total, round(self.quality_score, PLACES))


@dataclass
class Evaluation:
    tender: Tender
    lots: dict[int, list[Ranked]]  # lot number -> its bids, best first
    medians: dict[int, float]  # lot number -> the median of its bids' lot prices
    lowest: dict[int, float]

    def ranked(self) -> list[Ranked]:
        return [r for lot in self.lots.values() for r in lot]

    def awarded(self, lot: int | None = None) -> list[Ranked]:
        return [r for r in (self.lots.get(lot, []) if lot is not None else self.ranked()) if r.awarded]

    def award_problems(self) -> list[str]:
        """Why the award cannot be made as it stands (empty when it can), in words."""
        problems = []
        unmoderated = [f"{r.bid.bidder_id}'s lot {r.bid.lot} bid on {c.criterion} (scores {c.spread:g} apart)"
                       for r in self.ranked() for c in r.criteria if c.needs_moderation]
        if unmoderated:
            problems.append("moderate these scores first (the evaluators are too far apart and no agreed score is "
                            "given): " + "; ".join(unmoderated))
        for lot in self.tender.spec.lots:
            if not self.awarded(lot.number):
                had = len(self.lots.get(lot.number, []))
                problems.append(f"lot {lot.number} ({lot.name}) would have no provider: "
                                + ("no bid was made for it" if not had else
                                   f"none of its {had} bid{'s' if had != 1 else ''} meets the award rule"))
        return problems


def _quality(tender: Tender, bid: Bid, scored: dict[tuple, list[tuple[str, float]]]) -> list[CriterionScore]:
    spec = tender.spec
    out = []
    for criterion in spec.criteria:
        key = (bid.bidder_id, bid.lot, criterion.id)
        given = tuple(sorted(scored.get(key, ())))
        values = [v for _, v in given]
        agreed = tender.agreed.get(key)
        used = agreed if agreed is not None else statistics.fmean(values)
        spread = max(values) - min(values) if values else 0.0
        out.append(CriterionScore(criterion.id, given, agreed, used, spread,
                                  used / spec.quality_scale * criterion.weight,
                                  agreed is None and spread >= spec.moderate_spread))
    return out


def lot_price(bid: Bid, mix: dict[Tier, float]) -> float:
    return sum(share * bid.prices[tier] for tier, share in mix.items())


def price_score(price: float, lowest: float, weight: float, method: str) -> float:
    if method == "lowest_price":
        return lowest / price * weight
    return max(0.0, 1 - (price - lowest) / lowest) * weight  # percentage_above_lowest


def evaluate(tender: Tender) -> Evaluation:
    """Every bid scored and ranked per lot, flagged, and the award chosen (see the module)."""
    spec = tender.spec
    lots, medians, lowest = {}, {}, {}
    explained = set(spec.explained)
    scored: dict[tuple, list[tuple[str, float]]] = {}
    for s in tender.scores:
        scored.setdefault((s.bidder_id, s.lot, s.criterion), []).append((s.evaluator, s.score))
    for lot in spec.lots:
        bids = [b for b in tender.bids if b.lot == lot.number]
        if not bids:
            lots[lot.number] = []
            continue
        mix = lot.mix()
        prices = {b.bidder_id: lot_price(b, mix) for b in bids}
        lowest[lot.number] = min(prices.values())
        medians[lot.number] = statistics.median(prices.values())
        ranked = [Ranked(b, prices[b.bidder_id],
                         price_score(prices[b.bidder_id], lowest[lot.number], spec.price_weight, spec.price_method),
                         0.0, _quality(tender, b, scored)) for b in bids]
        for r in ranked:
            r.quality_score = sum(c.marks for c in r.criteria)
        ranked.sort(key=lambda r: (-r.key[0], -r.key[1], r.bid.bidder_name.lower(), r.bid.bidder_id))
        threshold = medians[lot.number] * (1 - spec.abnormally_low_percent / 100)
        by_total: dict[float, list[str]] = {}
        for r in ranked:
            by_total.setdefault(r.total, []).append(r.bid.bidder_id)
        for i, r in enumerate(ranked):
            r.rank = i + 1 if i == 0 or ranked[i - 1].key != r.key else ranked[i - 1].rank
            r.tied_with = [b for b in by_total[r.total] if b != r.bid.bidder_id]
            if r.tied_with:
                r.flags.append("tie")
            if r.lot_price < threshold:
                r.flags.append("abnormally_low")
            if any(c.needs_moderation for c in r.criteria):
                r.flags.append("needs_moderation")
        _award(ranked, spec.award, explained)
        lots[lot.number] = ranked
    return Evaluation(tender, lots, medians, lowest)


def _award(ranked: list[Ranked], award, explained: set[str]) -> None:
    eligible = []
    for r in ranked:
        if "abnormally_low" in r.flags and r.bid.bidder_id not in explained:
            r.left_out = ("its price is abnormally low: ask the bidder to explain it, and list it under explained "
                          "in the tender file if the explanation is accepted")
        else:
            eligible.append(r)
    if award.min_score is not None:
        chosen = [r for r in eligible if r.total >= award.min_score]
    else:
        chosen = eligible[:award.top]
        if chosen and len(eligible) > award.top:  # a tie at the cut-off: every bid sharing the last rank
            chosen += [r for r in eligible[award.top:] if r.key == chosen[-1].key]
    for r in chosen:
        r.awarded = True


# --- for people: the ranking as a table ------------------------------------------------------


def ranking_rows(evaluation: Evaluation) -> list[dict]:
    """One row a bid, lot by lot, best first, in the words ranking.csv and the pages use: every
    tier's price, every criterion's score with its spread, the flags in words."""
    spec = evaluation.tender.spec
    names = {c.id: c.name for c in spec.criteria}
    rows = []
    for lot in spec.lots:
        for r in evaluation.lots.get(lot.number, []):
            row = {"Lot": f"{lot.number}: {lot.name}", "Rank": r.rank, "Bidder": r.bid.bidder_name,
                   "Bidder reference": r.bid.bidder_id, "Weekly price (lot's tier mix)": round(r.lot_price, 2)}
            for tier in Tier:  # every tier's column, empty where the lot does not offer it
                row[f"{glossary.words(tier, glossary.TIERS)} weekly price"] = r.bid.prices.get(tier)
            row |= {"Price score": round(r.price_score, PLACES), "Quality score": round(r.quality_score, PLACES)}
            for c in r.criteria:
                label = names[c.criterion]
                row[f"{label}: score used"] = round(c.used, PLACES)
                row[f"{label}: spread"] = round(c.spread, PLACES)
            row |= {"Total score": r.total, "Awarded": "yes" if r.awarded else "no",
                    "Flags": "; ".join(_flag_words(r)), "Why not awarded": r.left_out,
                    "Beds offered": r.bid.capacity_beds}
            rows.append(row)
    return rows


def ranking_table(evaluation: Evaluation) -> tuple[list[str], list[dict]]:
    """(columns, rows) of ranking.csv: every column any lot's rows have, in the order first met
    (lots differ in their tiers and criteria), for the command line and the page alike."""
    rows = ranking_rows(evaluation)
    return list(dict.fromkeys(k for row in rows for k in row)), rows


def _flag_words(r: Ranked) -> list[str]:
    words = []
    for flag in r.flags:
        text = glossary.words(flag, glossary.TENDER_FLAGS)
        if flag == "tie":
            text += f" with {', '.join(r.tied_with)}"
        words.append(text)
    return words
