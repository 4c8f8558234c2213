"""A tender's files: what it asks for (tender.yaml), the bids (bids.csv) and the evaluators'
quality scores (scores.csv, and the moderated scores, moderation.csv), each CSV or a sheet of
an Excel workbook (providers.workbooks).

tender.yaml says how bids are judged, before any bid is opened::

    name: Medway 16-25 Supported Accommodation Framework 2027
    placing_authority: E06000035
    starts_on: 2027-04-01
    ends_on: 2031-03-31
    price_weight: 60            # percentage points of the 100 a bid can score
    quality_weight: 40          # = the criteria's weights added up
    price_method: lowest_price  # or percentage_above_lowest (providers.tender_evaluation)
    quality_scale: 5            # each criterion scored 0-5 by each evaluator
    moderate_spread: 2          # evaluators this far apart must agree a moderated score
    abnormally_low_percent: 20  # a bid this far below the lot's median price is flagged
    award: {top: 3}             # per lot; or {min_score: 60}
    explained: [PRV031]         # abnormally low bids whose explanation the council accepted
    criteria:
      - {id: safeguarding, name: Safeguarding, weight: 15}
      - {id: outcomes, name: Outcomes for young people, weight: 15}
      - {id: social_value, name: Social value, weight: 10}
    evaluators:
      - {id: E1, name: Commissioning officer}
      - {id: E4, name: Health partner, conflicts: [PRV012]}   # may not score PRV012's bids
    lots:
      - number: 1
        name: Supported accommodation, Medway
        service_type: supported_accommodation
        area: Medway
        tiers: [standard, enhanced]
        tier_mix: {standard: 0.6, enhanced: 0.4}   # how the lot's weeks are expected to split
    bids: bids.csv              # or {file: tender.xlsx, sheet: Bids}
    scores: scores.csv
    moderation: moderation.csv  # optional

bids.csv, one row a bid: ``bidder_id, bidder_name, lot, price_standard, price_enhanced,
price_intensive, capacity_beds`` (a weekly price for every tier the lot offers, and none for a
tier it does not). scores.csv, one row an evaluator's score: ``bidder_id, lot, criterion,
evaluator, score``. moderation.csv, one row a moderated score: ``bidder_id, lot, criterion,
agreed_score`` (and an optional ``note``).

Every problem names the file (and sheet), the row as the spreadsheet numbers it, the column and
the reason; a YAML problem names its line and key. Nothing is evaluated until every file reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.enums import ServiceType, Tier
from providers import csvfiles as cf
from providers import safe_yaml
from providers.safe_yaml import Problem
from providers.workbooks import read_csv_or_sheet

BID_COLUMNS = ["bidder_id", "bidder_name", "lot", "capacity_beds"]
PRICE_COLUMNS = {t: f"price_{t.value}" for t in Tier}
SCORE_COLUMNS = ["bidder_id", "lot", "criterion", "evaluator", "score"]
MODERATION_COLUMNS = ["bidder_id", "lot", "criterion", "agreed_score"]
WEIGHT_TOLERANCE = 0.01  # weights are percentage points: 59.999 + 40.001 is 100


class TenderFilesRefused(ValueError):
    """A tender whose files could not be read: every problem, by file, row (or line) and column."""

    def __init__(self, problems: list[Problem | cf.RowError]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the tender's files:\n" + "\n".join(f"  {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRef(_Strict):
    file: str = Field(min_length=1, max_length=200)
    sheet: Optional[str] = Field(None, min_length=1, max_length=31)  # Excel's longest sheet name


class Criterion(_Strict):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, max_length=120)
    weight: float = Field(gt=0, le=100)


class Evaluator(_Strict):
    id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    conflicts: list[str] = Field(default_factory=list, max_length=200,
                                 description="bidders the evaluator works for or has an interest in")


class LotSpec(_Strict):
    number: int = Field(ge=1, le=999)
    name: str = Field(min_length=1, max_length=200)
    service_type: ServiceType
    area: Optional[str] = Field(None, max_length=200)
    tiers: list[Tier] = Field(min_length=1, max_length=3)
    tier_mix: dict[Tier, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _mix(self) -> "LotSpec":
        if len(set(self.tiers)) != len(self.tiers):
            raise ValueError("a tier is listed twice")
        other = [t.value for t in self.tier_mix if t not in self.tiers]
        if other:
            raise ValueError(f"tier_mix names {', '.join(other)}, which the lot does not offer")
        if any(v < 0 for v in self.tier_mix.values()) or (self.tier_mix and sum(self.tier_mix.values()) <= 0):
            raise ValueError("tier_mix shares must be zero or more, and not all zero")
        return self

    def mix(self) -> dict[Tier, float]:
        """The share of the lot's weeks at each tier (equal shares when the file gives none)."""
        given = self.tier_mix or {t: 1.0 for t in self.tiers}
        total = sum(given.get(t, 0.0) for t in self.tiers)
        return {t: given.get(t, 0.0) / total for t in self.tiers}


class Award(_Strict):
    top: Optional[int] = Field(None, ge=1, le=100, description="the top N bids of each lot")
    min_score: Optional[float] = Field(None, gt=0, le=100, description="every bid scoring at least this")

    @model_validator(mode="after")
    def _one(self) -> "Award":
        if (self.top is None) == (self.min_score is None):
            raise ValueError("give the award as top: N or as min_score: S, not both or neither")
        return self


class TenderSpec(_Strict):
    name: str = Field(min_length=1, max_length=200)
    placing_authority: str = Field(pattern=r"^E0[6-9]\d{6}$")
    starts_on: dt.date
    ends_on: dt.date
    price_weight: float = Field(ge=0, le=100)
    quality_weight: float = Field(ge=0, le=100)
    price_method: Literal["lowest_price", "percentage_above_lowest"] = "lowest_price"
    quality_scale: int = Field(5, ge=1, le=100)
    moderate_spread: float = Field(2, gt=0)
    abnormally_low_percent: float = Field(20, gt=0, lt=100)
    award: Award
    explained: list[str] = Field(default_factory=list, max_length=1000)
    criteria: list[Criterion] = Field(min_length=1, max_length=30)
    evaluators: list[Evaluator] = Field(min_length=1, max_length=50)
    lots: list[LotSpec] = Field(min_length=1, max_length=100)
    bids: FileRef
    scores: FileRef
    moderation: Optional[FileRef] = None

    @field_validator("bids", "scores", "moderation", mode="before")
    @classmethod
    def _file(cls, value):
        return {"file": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _weights(self) -> "TenderSpec":
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if abs(self.price_weight + self.quality_weight - 100) > WEIGHT_TOLERANCE:
            raise ValueError(f"price_weight ({self.price_weight:g}) and quality_weight ({self.quality_weight:g}) "
                             "must add up to 100")
        criteria = sum(c.weight for c in self.criteria)
        if abs(criteria - self.quality_weight) > WEIGHT_TOLERANCE:
            raise ValueError(f"the criteria's weights add up to {criteria:g}; they must add up to quality_weight "
                             f"({self.quality_weight:g})")
        for what, ids in (("criterion", [c.id for c in self.criteria]), ("evaluator", [e.id for e in self.evaluators]),
                          ("lot number", [lot.number for lot in self.lots])):
            twice = sorted({str(i) for i in ids if ids.count(i) > 1})
            if twice:
                raise ValueError(f"{what} {', '.join(twice)} is listed twice")
        return self

    def lot(self, number: int) -> LotSpec | None:
        return next((lot for lot in self.lots if lot.number == number), None)


@dataclass(frozen=True)
class Bid:
    row: int  # in bids.csv, for the problems found later (an award leaving a lot empty names none)
    bidder_id: str
    bidder_name: str
    lot: int
    prices: dict[Tier, float]  # the weekly price for each tier the lot offers
    capacity_beds: int


@dataclass(frozen=True)
class Score:
    row: int
    bidder_id: str
    lot: int
    criterion: str
    evaluator: str
    score: float


@dataclass
class Tender:
    """A tender read whole: its definition and every bid and score, each checked."""

    spec: TenderSpec
    bids: list[Bid]
    scores: list[Score]
    agreed: dict[tuple[str, int, str], float] = field(default_factory=dict)  # (bidder, lot, criterion)
    notes: dict[tuple[str, int, str], str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # "bids" -> the name problems give


# --- tender.yaml -------------------------------------------------------------------------------


def parse_spec(text: str, name: str) -> TenderSpec:
    """The tender's definition from the text of its file (``name`` for the problems)."""
    try:
        data, node = safe_yaml.load_with_nodes(text, name)
    except safe_yaml.YamlRefused as exc:
        raise TenderFilesRefused([Problem(name, exc.line, "", exc.reason)]) from None
    if not isinstance(data, dict):
        raise TenderFilesRefused([Problem(name, 1, "", "the file must be a mapping of keys (name: ..., lots: ...)")])
    lines = safe_yaml.lines_of(node) if node is not None else {}
    try:
        return TenderSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (the keys of a tender file are listed in providers/tender_files.py)"
            problems.append(Problem(name, safe_yaml.line_of(lines, loc), safe_yaml.where(loc), message))
        raise TenderFilesRefused(list(dict.fromkeys(problems))) from None


# --- the bids and scores -----------------------------------------------------------------------


def _label(ref: FileRef) -> str:
    return f"{Path(ref.file).name} (sheet {ref.sheet})" if ref.sheet else Path(ref.file).name


def _positive(cell: str) -> float:
    value = cf.number(cell)
    if value <= 0:
        raise cf.CellError(f"{cell!r}: a weekly price must be more than £0")
    return value


def _bids(source, ref: FileRef, spec: TenderSpec, errors: cf.ErrorLog) -> list[Bid]:
    prices = list(PRICE_COLUMNS.values())
    table = read_csv_or_sheet(source, errors.file, BID_COLUMNS, prices, errors, sheet=ref.sheet)
    if table is None:
        return []
    parsers = {"bidder_id": cf.text, "bidder_name": cf.text, "lot": cf.integer, "capacity_beds": cf.integer,
               **{c: _positive for c in prices}}
    lots = ", ".join(str(lot.number) for lot in spec.lots)
    bids, seen = [], {}
    for row, cells in table.rows:
        values = cf.parse_row(row, cells, parsers, errors)
        for column in BID_COLUMNS:
            if column in table.columns and not cells.get(column) and not errors.has(row, column):
                errors.add(row, column, "a value is required")
        lot = spec.lot(values["lot"]) if "lot" in values else None
        if "lot" in values and lot is None:
            errors.add(row, "lot", f"there is no lot {values['lot']} in this tender (its lots: {lots})")
        if "capacity_beds" in values and not 1 <= values["capacity_beds"] <= 10_000:
            errors.add(row, "capacity_beds", f"{values['capacity_beds']} beds: offer between 1 and 10,000")
        if lot is not None:
            for tier, column in PRICE_COLUMNS.items():
                if tier in lot.tiers and column not in values and not errors.has(row, column):
                    errors.add(row, column, f"lot {lot.number} offers {tier.value} support: give the weekly "
                                            f"price for it")
                elif tier not in lot.tiers and column in values:
                    errors.add(row, column, f"lot {lot.number} does not offer {tier.value} support "
                                            f"(its tiers: {', '.join(t.value for t in lot.tiers)}): leave it empty")
        key = (values.get("bidder_id"), values.get("lot"))
        if None not in key and key in seen:
            errors.add(row, "bidder_id", f"{key[0]} has already bid for lot {key[1]} (row {seen[key]}): "
                                         "one bid a bidder a lot")
        elif None not in key:
            seen[key] = row
        if lot is not None and not errors.has(row, None) and all(
                not errors.has(row, c) for c in [*BID_COLUMNS, *prices]):
            bids.append(Bid(row, values["bidder_id"], values["bidder_name"], lot.number,
                            {t: values[PRICE_COLUMNS[t]] for t in lot.tiers}, values["capacity_beds"]))
    return bids


def _score_row(row: int, cells: dict, values: dict, columns: list[str], present: list[str], score_column: str,
               spec: TenderSpec, bid_keys: set | None, errors: cf.ErrorLog) -> None:
    """What a row of scores or of moderated scores must be: every cell given, the score on the
    scale, and a bid behind it (when the bids could be read)."""
    for column in columns:
        if column in present and not cells.get(column) and not errors.has(row, column):
            errors.add(row, column, "a value is required")
    if score_column in values and not 0 <= values[score_column] <= spec.quality_scale:
        errors.add(row, score_column, f"{values[score_column]:g} is outside the scale: scores run from 0 to "
                                      f"{spec.quality_scale}")
    if bid_keys is not None and "bidder_id" in values and "lot" in values and (
            values["bidder_id"], values["lot"]) not in bid_keys:
        errors.add(row, "bidder_id", f"{values['bidder_id']} made no bid for lot {values['lot']}")


def _scores(source, ref: FileRef, spec: TenderSpec, bids: list[Bid] | None, errors: cf.ErrorLog) -> list[Score]:
    table = read_csv_or_sheet(source, errors.file, SCORE_COLUMNS, [], errors, sheet=ref.sheet)
    if table is None:
        return []
    criteria = [c.id for c in spec.criteria]
    evaluators = {e.id: e for e in spec.evaluators}
    parsers = {"bidder_id": cf.text, "lot": cf.integer, "criterion": cf.code(criteria, "criterion"),
               "evaluator": cf.code(list(evaluators), "evaluator"), "score": cf.number}
    bid_keys = None if bids is None else {(b.bidder_id, b.lot) for b in bids}
    scores, seen = [], {}
    for row, cells in table.rows:
        values = cf.parse_row(row, cells, parsers, errors)
        _score_row(row, cells, values, SCORE_COLUMNS, table.columns, "score", spec, bid_keys, errors)
        evaluator = evaluators.get(values.get("evaluator"))
        if evaluator is not None and values.get("bidder_id") in evaluator.conflicts:
            errors.add(row, "evaluator", f"{evaluator.id} ({evaluator.name}) has declared an interest in "
                                         f"{values['bidder_id']}, so may not score its bid")
        key = tuple(values.get(c) for c in ("bidder_id", "lot", "criterion", "evaluator"))
        if None not in key and key in seen:
            errors.add(row, "evaluator", f"{key[3]} has already scored {key[0]}'s lot {key[1]} bid on {key[2]} "
                                         f"(row {seen[key]})")
        elif None not in key:
            seen[key] = row
        if all(not errors.has(row, c) for c in SCORE_COLUMNS) and len(values) == len(SCORE_COLUMNS):
            scores.append(Score(row, *key, values["score"]))
    return scores


def _moderation(source, ref: FileRef, spec: TenderSpec, bids: list[Bid] | None, errors: cf.ErrorLog):
    table = read_csv_or_sheet(source, errors.file, MODERATION_COLUMNS, ["note"], errors, sheet=ref.sheet)
    agreed, notes = {}, {}
    if table is None:
        return agreed, notes
    parsers = {"bidder_id": cf.text, "lot": cf.integer, "criterion": cf.code([c.id for c in spec.criteria], "criterion"),
               "agreed_score": cf.number, "note": cf.text}
    bid_keys = None if bids is None else {(b.bidder_id, b.lot) for b in bids}
    for row, cells in table.rows:
        values = cf.parse_row(row, cells, parsers, errors)
        _score_row(row, cells, values, MODERATION_COLUMNS, table.columns, "agreed_score", spec, bid_keys, errors)
        key = (values.get("bidder_id"), values.get("lot"), values.get("criterion"))
        if None not in key and key in agreed:
            errors.add(row, "criterion", f"a moderated score for {key[0]}'s lot {key[1]} bid on {key[2]} is "
                                         "already given")
        elif None not in key and all(not errors.has(row, c) for c in MODERATION_COLUMNS):
            agreed[key] = values["agreed_score"]
            if values.get("note"):
                notes[key] = values["note"]
    return agreed, notes


def _missing_scores(spec: TenderSpec, bids: list[Bid], scores: list[Score], agreed: dict,
                    errors: cf.ErrorLog) -> None:
    """Every bid needs a score on every criterion, from an evaluator or the moderation."""
    scored = {(s.bidder_id, s.lot, s.criterion) for s in scores} | set(agreed)
    for bid in bids:
        missing = [c.id for c in spec.criteria if (bid.bidder_id, bid.lot, c.id) not in scored]
        if missing:
            errors.add(bid.row, "bidder_id", f"{bid.bidder_id}'s lot {bid.lot} bid has no quality score for "
                                             f"{', '.join(missing)}")


def read_tender(path: str | Path, *, bids: cf.Source | None = None, scores: cf.Source | None = None,
                moderation: cf.Source | None = None) -> Tender:
    """A tender from its tender.yaml, reading the bids and scores it names (relative to it), or
    those given (an upload: the bytes, or another path). ``TenderFilesRefused`` lists every
    problem of every file."""
    path = Path(path)
    try:
        text = safe_yaml.read_text(path, path.name)
    except safe_yaml.YamlRefused as exc:
        raise TenderFilesRefused([Problem(path.name, exc.line, "", exc.reason)]) from None
    spec = parse_spec(text, path.name)
    folder = path.parent
    given = {"bids": bids, "scores": scores, "moderation": moderation}
    refs = {"bids": spec.bids, "scores": spec.scores, "moderation": spec.moderation}
    sources = {k: given[k] if given[k] is not None else (folder / ref.file if ref else None) for k, ref in refs.items()}
    # A file given in place of the one tender.yaml names is read as it is (its first sheet, if
    # a workbook): the sheet named for the other file is not looked for in it.
    names = {k: cf.source_name(given[k], f"{k}.csv") for k in given if given[k] is not None}
    return read_parts(spec, sources, names)


def read_parts(spec: TenderSpec, sources: dict[str, cf.Source | None], names: dict[str, str] | None = None) -> Tender:
    """The bids, scores and moderation of a tender already defined, each file judged whole.
    ``names``: the names of files given in place of those the tender names (an upload's)."""
    refs = {"bids": spec.bids, "scores": spec.scores, "moderation": spec.moderation}
    refs |= {k: FileRef(file=name) for k, name in (names or {}).items()}
    logs = {k: cf.ErrorLog(_label(refs[k]) if refs[k] else f"{k}.csv") for k in refs}
    try:
        bids = _bids(sources["bids"], refs["bids"], spec, logs["bids"])
        # While the bids cannot be read, which bids exist is unknown: the scores are checked for
        # themselves, not against bids (rather than one "no such bid" for every score).
        known = None if logs["bids"] else bids
        scores = _scores(sources["scores"], refs["scores"], spec, known, logs["scores"])
        agreed, notes = ({}, {}) if refs["moderation"] is None or sources.get("moderation") is None else _moderation(
            sources["moderation"], refs["moderation"], spec, known, logs["moderation"])
        if known is not None:
            _missing_scores(spec, bids, scores, agreed, logs["bids"])
    except cf.ImportFailed as exc:  # one file so wrong it was checked no further
        raise TenderFilesRefused(exc.errors[: cf.MAX_ERRORS_SHOWN]) from None
    problems = [e for k in ("bids", "scores", "moderation") for e in logs[k].sorted()]
    if problems:
        raise TenderFilesRefused(problems)
    return Tender(spec, bids, scores, agreed, notes, files={k: logs[k].file for k in logs})
