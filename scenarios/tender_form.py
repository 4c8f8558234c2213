"""The tender scenario builder and the words for a scenario file's problems.

A commissioner who does not write YAML fills in a form (a block contract, providers or lots to
remove, a price change by tier, the step-down speed, the forecast's what-ifs); ``from_form``
turns it into the scenario file's keys and ``yaml_text`` into the file itself, which is then
read and checked exactly as a file written by hand is (``check``: ``scenarios.tender``'s
``parse_scenario`` and ``apply``), so the form and the file are refused for the same reasons.

``in_words`` says each problem in plain English, for the form (beside its field, with no line
numbers) or for the file (with its line): never a key path, a pydantic message or a code.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Collection, Mapping

import pandas as pd
import yaml
from pydantic import BaseModel

from models.glossary import SERVICE_TYPES
from providers import safe_yaml
from providers.geography import NO_GRID_REFERENCE, NOT_A_POSTCODE, NOT_FOUND
from scenarios.tender import (
    Problem,
    TenderFileError,
    TenderScenario,
    _lines,
    apply,
    parse_scenario,
)

TIERS = ("standard", "enhanced", "intensive")

# The builder's fields: the form's name for each, and the id of its input on the page (the
# error summary links to it). In the order the form shows them (the summary lists them so).
FIELDS = {
    "name": "scenario-name", "description": "scenario-description",
    "block_name": "block-name", "block_beds": "block-beds", "block_tier": "block-tier",
    "block_service_type": "block-service-type", "block_postcode": "block-postcode",
    "block_weekly_price": "block-weekly-price", "block_void_weekly_cost": "block-void-cost",
    "remove_providers": "remove-providers", "remove_lots": "remove-lots",
    "price_standard": "price-standard", "price_enhanced": "price-enhanced", "price_intensive": "price-intensive",
    "step_down_speed": "step-down-speed",
    "forecast_scenario": "forecast-scenario", "adjustments": "demand-adjustments",
    "horizon_years": "horizon-years", "replications": "replications", "seed": "seed",
}
LISTS = ("remove_providers", "remove_lots")  # the form's fields that hold several values
SELECTS = {"block-tier", "block-service-type", "forecast-scenario", "remove-providers", "remove-lots"}
BLOCK_KEYS = {"block_name": "name", "block_beds": "beds", "block_tier": "tier", "block_service_type": "service_type",
              "block_postcode": "postcode", "block_weekly_price": "weekly_price",
              "block_void_weekly_cost": "void_weekly_cost"}
# The form's defaults (as the scenario file's; the builder writes them out so the file shows them)
DEFAULTS = {"horizon_years": "5", "replications": "100", "seed": "2026", "step_down_speed": "1",
            "block_service_type": "supported_accommodation"}
YAML_FIELD = "scenario-yaml"  # the expert's text box: every problem of a file is the box's


# --- the form -> the file -------------------------------------------------------------------------


def blank_form() -> dict:
    return {name: ([] if name in LISTS else DEFAULTS.get(name, "")) for name in FIELDS}


def _number(text: str):
    """A number as typed ("3,200", "£3200", "6%", "-3"), or the text itself when it is not one,
    for the check to refuse in words."""
    cleaned = text.replace(",", "").replace("£", "").replace("%", "").replace(" ", "").replace("\u2212", "-")
    if re.fullmatch(r"[+-]?\d+", cleaned):
        return int(cleaned)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+)", cleaned):
        return float(cleaned)
    return text


def from_form(form: Mapping[str, object]) -> dict:
    """The scenario file's keys from the builder's fields (blank fields are left out, so the
    file's defaults apply; a block contract is added when any of its fields is filled in)."""

    def text(name: str) -> str:
        value = form.get(name)
        return (value if isinstance(value, str) else "").strip()

    data: dict = {"name": text("name")}
    if text("description"):
        data["description"] = text("description")
    for key in ("horizon_years", "replications", "seed"):
        if text(key):
            data[key] = _number(text(key))
    demand: dict = {}
    if text("forecast_scenario"):
        demand["forecast_scenario"] = text("forecast_scenario")
    changes = [line.strip() for line in str(form.get("adjustments") or "").splitlines() if line.strip()]
    if changes:
        demand["adjustments"] = changes
    if demand:
        data["demand"] = demand
    supply: dict = {}
    for key in LISTS:
        chosen = [v.strip() for v in (form.get(key) or []) if isinstance(v, str) and v.strip()]
        if chosen:
            supply[key] = list(dict.fromkeys(chosen))
    prices = [{"tier": tier, "percent": _number(text(f"price_{tier}"))} for tier in TIERS if text(f"price_{tier}")]
    if prices:
        supply["price_changes"] = prices
    filled = [k for k in BLOCK_KEYS if k != "block_service_type" and text(k)]
    if filled:
        postcode = text("block_postcode")
        block = {"name": text("block_name") or f"Block contract{' in ' + postcode if postcode else ''}"}
        for field, key in BLOCK_KEYS.items():
            if text(field) and key != "name":
                block[key] = text(field) if key in ("tier", "service_type", "postcode") else _number(text(field))
        supply["block_contracts"] = [block]
    if supply:
        data["supply"] = supply
    if text("step_down_speed"):
        data["step_down_speed"] = _number(text("step_down_speed"))
    return data


class _Dumper(yaml.SafeDumper):
    """Plain YAML the bounded reader takes (providers.safe_yaml): no anchors or aliases, ever."""

    def ignore_aliases(self, data) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)  # list items indented under their key


def yaml_text(data: dict) -> str:
    """The scenario file for ``data``, as a commissioner would write it."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return "# Made with the scenario builder on the tender scenarios page\n" + body


# --- checking --------------------------------------------------------------------------------------


def check(text: str, file: str, market: pd.DataFrame, forecast_scenarios: Collection[str], tenders=None):
    """(the scenario, the market it leaves), or TenderFileError listing every problem: the
    checks of ``scenarios.tender`` (the same as the API's and the command line's), and that a
    saved forecast scenario it names exists (a run would otherwise fail when it starts)."""
    try:
        scenario = parse_scenario(text, file)
    except TenderFileError as exc:
        raise TenderFileError(exc.problems + _also(text, file, market, exc.problems)) from None
    problems = []
    wanted = scenario.demand.forecast_scenario
    if wanted and wanted not in forecast_scenarios:
        path = ("demand", "forecast_scenario")
        problems.append(Problem(file, scenario._lines.get(path), "demand > forecast_scenario",
                                f"no forecast scenario named '{wanted}'"))
    try:
        supply = apply(scenario, market, file=file, tenders=tenders)
    except TenderFileError as exc:
        problems = exc.problems + problems
        supply = None
    if problems:
        raise TenderFileError(problems)
    return scenario, supply


def _also(text: str, file: str, market: pd.DataFrame, found: list[Problem]) -> list[Problem]:
    """When the file's keys cannot all be read, the checks that run only once they can (the
    demand what-ifs, the market's names, the block contracts' postcodes), on the values that
    can be read, so every problem is listed at once rather than one round at a time. Each is
    said as scenarios.tender says it."""
    from providers.geography import PostcodeError, locate_one
    from scenarios.what_if import WhatIfError, parse_adjustment

    try:
        data, node = safe_yaml.load_with_nodes(text, file)
    except safe_yaml.YamlRefused:
        return []
    if not isinstance(data, dict) or node is None:
        return []
    lines, seen, more = _lines(node), {p.where for p in found} | {p.reason.split(":")[0] for p in found}, []

    def add(path: tuple, where: str, reason: str) -> None:
        if where not in seen:
            more.append(Problem(file, lines.get(path), "" if where.startswith("demand > adjustments") else where,
                                f"{where}: {reason}" if where.startswith("demand > adjustments") else reason))

    demand = data.get("demand") if isinstance(data.get("demand"), dict) else {}
    for k, change in enumerate(demand.get("adjustments") or [] if isinstance(demand.get("adjustments"), list) else []):
        if isinstance(change, str):
            try:
                parse_adjustment(change)
            except WhatIfError as exc:
                add(("demand", "adjustments", k), f"demand > adjustments > {k + 1}", str(exc))
    supply = data.get("supply") if isinstance(data.get("supply"), dict) else {}
    providers = set(market["provider_id"])
    for k, provider in enumerate(supply.get("remove_providers") or [] if isinstance(supply.get("remove_providers"), list) else []):
        if isinstance(provider, str) and provider not in providers:
            add(("supply", "remove_providers", k), f"supply > remove_providers > {k + 1}", f"no provider '{provider}'")
    lots = {x for x in market["lot"] if x}
    for k, lot in enumerate(supply.get("remove_lots") or [] if isinstance(supply.get("remove_lots"), list) else []):
        if isinstance(lot, str) and lot not in lots:
            add(("supply", "remove_lots", k), f"supply > remove_lots > {k + 1}",
                f"no lot '{lot}'; the lots are: {'; '.join(sorted(lots))}")
    blocks = supply.get("block_contracts") if isinstance(supply.get("block_contracts"), list) else []
    for k, block in enumerate(blocks):
        postcode = block.get("postcode") if isinstance(block, dict) else None
        if isinstance(postcode, str) and 5 <= len(postcode) <= 8:
            try:
                locate_one(postcode)
            except PostcodeError as exc:
                add(("supply", "block_contracts", k, "postcode"), f"supply > block_contracts > {k + 1} > postcode", str(exc))
    return more


# --- problems in words -----------------------------------------------------------------------------

N = object()  # any list position, in LABELS' paths

LABELS = {
    ("name",): "the scenario's name",
    ("description",): "the description",
    ("horizon_years",): "the number of years to simulate",
    ("replications",): "the number of replications",
    ("seed",): "the seed",
    ("step_down_speed",): "the step-down speed",
    ("demand",): "the demand part of the file",
    ("demand", "forecast_scenario"): "the saved forecast scenario",
    ("demand", "adjustments"): "the changes to demand",
    ("demand", "adjustments", N): "change {n} to demand",
    ("supply",): "the supply part of the file",
    ("supply", "remove_providers"): "the providers to remove",
    ("supply", "remove_providers", N): "provider {n} to remove",
    ("supply", "remove_lots"): "the lots to remove",
    ("supply", "remove_lots", N): "lot {n} to remove",
    ("supply", "price_changes"): "the price changes",
    ("supply", "price_changes", N): "price change {n}",
    ("supply", "price_changes", N, "percent"): "the percentage of price change {n}",
    ("supply", "price_changes", N, "tier"): "the tier of price change {n}",
    ("supply", "price_changes", N, "lot"): "the lot of price change {n}",
    ("supply", "stop_offering"): "the tiers no longer offered",
    ("supply", "stop_offering", N): "entry {n} of the tiers no longer offered",
    ("supply", "stop_offering", N, "tiers"): "the tiers in entry {n} of the tiers no longer offered",
    ("supply", "stop_offering", N, "lot"): "the lot in entry {n} of the tiers no longer offered",
    ("supply", "block_contracts"): "the block contracts",
    ("supply", "block_contracts", N): "block contract {n}",
    ("supply", "block_contracts", N, "name"): "the name of block contract {n}",
    ("supply", "block_contracts", N, "beds"): "the number of beds in block contract {n}",
    ("supply", "block_contracts", N, "tier"): "the support tier of block contract {n}",
    ("supply", "block_contracts", N, "service_type"): "the service type of block contract {n}",
    ("supply", "block_contracts", N, "postcode"): "the postcode of block contract {n}",
    ("supply", "block_contracts", N, "weekly_price"): "the weekly price of block contract {n}",
    ("supply", "block_contracts", N, "void_weekly_cost"): "the weekly cost of an empty bed in block contract {n}",
    ("fallback",): "the fallbacks",
    ("fallback", "spot"): "the spot purchase fallback",
    ("fallback", "spot", "price_multiplier"): "the spot price multiplier",
    ("fallback", "spot", "typical_miles"): "the typical distance of a spot purchase",
    ("fallback", "spot", "available"): "whether spot purchases can be made",
    ("fallback", "emergency"): "the emergency accommodation fallback",
    ("fallback", "emergency", "weekly_price"): "the weekly price of emergency accommodation",
}
# The form has one block contract and one price change a tier: its own words for them.
FORM_LABELS = {
    "block-name": "the block contract's name", "block-beds": "the number of beds",
    "block-tier": "the support tier the beds are bought at", "block-service-type": "the service type of the beds",
    "block-postcode": "the postcode where the beds are", "block-weekly-price": "the weekly price of a bed",
    "block-void-cost": "the weekly cost of an empty bed",
    **{f"price-{t}": f"the price change for {t} support" for t in TIERS},
    "demand-adjustments": "the changes to demand",
}


@dataclasses.dataclass(frozen=True)
class Said:
    """A problem in words: the page field it belongs to, and the message."""

    field: str
    message: str


def _path(where: str) -> tuple:
    if not where:
        return ()
    return tuple(int(p) - 1 if p.isdigit() else p for p in where.split(" > "))


def _label(path: tuple) -> str:
    for size in range(len(path), 0, -1):
        head = path[:size]
        for pattern, label in LABELS.items():
            if len(pattern) == size and all(p is N and isinstance(h, int) or p == h for p, h in zip(pattern, head)):
                positions = [h + 1 for p, h in zip(pattern, head) if p is N]
                return label.format(n=positions[0] if positions else "")
    return "this key"


def _field_info(path: tuple):
    """The scenario model's field for a key path (its type and limits), or None."""
    model, info = TenderScenario, None
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = _inner(info.annotation)
    return info, model


def _inner(annotation):
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def _plain(value: float) -> str:
    return f"{value:,.0f}" if float(value) == int(value) else f"{value:,}"


def _number_rule(path: tuple) -> str | None:
    """'a whole number from 1 to 500', from the model's own limits."""
    found = _field_info(path)
    if found is None or found[0] is None:
        return None
    info, kind = found
    bounds = {}
    for meta in info.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(meta, name, None) is not None:
                bounds[name] = getattr(meta, name)
    what = "a whole number" if kind is int else "a number"
    if "ge" in bounds and "le" in bounds:
        return f"{what} from {_plain(bounds['ge'])} to {_plain(bounds['le'])}"
    if "gt" in bounds and "le" in bounds:
        return f"{what} more than {_plain(bounds['gt'])}, up to {_plain(bounds['le'])}"
    if "ge" in bounds:
        return f"{what}, {_plain(bounds['ge'])} or more"
    if "gt" in bounds:
        return f"{what} more than {_plain(bounds['gt'])}"
    return what


def _choices(reason: str) -> list[str]:
    return re.findall(r"'([^']*)'", reason)


def _choice_words(value: str) -> str:
    return SERVICE_TYPES.get(value, value.replace("_", " "))


def what_if_in_words(label: str, reason: str) -> str:
    """A forecast what-if that cannot be read (scenarios.what_if's reasons), in words."""
    if "unknown rate" in reason:
        return f"{label} names a rate the forecast does not have: use one of the rates listed with the box"
    if "ages must be within" in reason:
        ages = re.search(r"within (\d+)-(\d+)", reason)
        lo, hi = (ages.groups() if ages else ("14", "25"))
        return f"{label} must be for ages from {lo} to {hi}, the lowest first, for example @16-17"
    return (f"{label} cannot be read: write what changes, then * and a factor or + and an amount, and "
            "optionally @ and the ages, for example entries*1.2@16-17")


def _sentence(path: tuple, reason: str, label: str, field: str | None, for_form: bool) -> str:
    """The problem with ``label`` (lower case, e.g. "the number of beds") as one sentence."""
    choose = "Choose" if field in SELECTS else "Enter"
    if reason == "Field required":
        return f"{choose} {label}" if for_form else f"{label} is missing"
    if reason.startswith("unknown key"):
        return "this is not a key a scenario file can have (the keys are listed below the box)"
    if reason.startswith(("Input should be greater", "Input should be less", "Input should be a valid integer",
                          "Input should be a valid number", "Input should be a finite number")):
        rule = _number_rule(path)
        return f"{label} must be {rule}" if rule else f"{label} must be a number"
    if reason.startswith("Input should be a valid boolean"):
        return f"{label} must be true or false"
    if reason.startswith("Input should be a valid string"):
        return f"{label} must be text"
    if reason.startswith("Input should be a valid list"):
        return f"{label} must be a list, one item a line, each starting with a dash"
    if reason.startswith(("Input should be a valid dictionary", "Input should be an object")):
        return f"{label} must be a set of keys, each on its own line"
    if reason.startswith("Input should be '"):
        codes = _choices(reason)
        values = [_choice_words(v) for v in codes]
        if any("_" in c for c in codes):  # long names: a list, and the file's own spelling is below the box
            listed = "; ".join(values)
            return f"{choose} {label}" if for_form else \
                f"{label} must be one of: {listed} (written as in the list of keys below the box)"
        listed = ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else "".join(values)
        return f"{choose} {label}: {listed}" if for_form else f"{label} must be {listed}"
    if reason.startswith("String should have at least"):
        return f"{choose} {label}" if for_form else f"{label} is empty"
    if (m := re.match(r"String should have at most (\d+) character", reason)):
        return f"{label} must be {int(m[1]):,} characters or fewer"
    if reason.startswith("List should have at least"):
        return f"{label} must list at least one"
    if (m := re.match(r"no provider '(.*)'$", reason)):
        return f"there is no provider {m[1]} in the market"
    if (m := re.match(r"no lot '(.*)'; the lots are: (.*)$", reason)):
        return f"there is no lot called {m[1]}; the lots are: {m[2]}"
    if (m := re.match(r"no forecast scenario named '(.*)'$", reason)):
        return f"there is no saved forecast scenario called {m[1]}"
    if (m := re.match(r"postcode '(.*)': (.*)$", reason)):
        postcode, why = m.groups()
        if why == NOT_A_POSTCODE:
            return f"{choose} {label} as a UK postcode, like ME4 4TR" if for_form else \
                f"{label} is not a UK postcode (write one like ME4 4TR)"
        if why == NOT_FOUND:
            return f"{label}, {postcode}, is not in the ONS postcode directory: check it"
        if why == NO_GRID_REFERENCE:
            return f"{label}, {postcode}, is no longer in use: choose a current postcode"
        return f"{label}, {postcode}, cannot be found on the map"
    if reason.startswith("not YAML: "):
        return f"the file cannot be read as YAML ({reason[len('not YAML: '):]})"
    if reason.startswith("the file must be a mapping"):
        return "the file must be a set of keys, one a line, starting with name: and the scenario's name"
    if reason.startswith(("is ", "has ", "uses ", "contains ")):
        return f"the file {reason}"
    return f"{label}: {reason}" if path else reason


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _form_field(path: tuple, built: dict | None) -> str:
    """The builder's field a problem belongs to, from its key path in the file the form made."""
    top = {"name": "scenario-name", "description": "scenario-description", "horizon_years": "horizon-years",
           "replications": "replications", "seed": "seed", "step_down_speed": "step-down-speed"}
    if not path:
        return "scenario-name"
    if path[0] in top:
        return top[path[0]]
    if path[:2] == ("demand", "forecast_scenario"):
        return "forecast-scenario"
    if path[:2] == ("demand", "adjustments"):
        return "demand-adjustments"
    if path[:2] == ("supply", "remove_providers"):
        return "remove-providers"
    if path[:2] == ("supply", "remove_lots"):
        return "remove-lots"
    if path[:2] == ("supply", "price_changes") and len(path) > 2 and built is not None:
        try:
            return f"price-{built['supply']['price_changes'][path[2]]['tier']}"
        except (KeyError, IndexError, TypeError):
            pass
    if path[:2] == ("supply", "block_contracts") and len(path) > 3:
        key = {v: k for k, v in BLOCK_KEYS.items()}.get(path[3])
        if key:
            return FIELDS[key]
    if path[:2] == ("supply", "block_contracts"):
        return "block-beds"
    return "scenario-name"


def in_words(problems: list[Problem], *, text: str | None = None, built: dict | None = None) -> list[Said]:
    """Each problem of a scenario file in plain English. For the builder (``built``: the keys the
    form made), each belongs to its field and is said without line numbers; for a file typed or
    pasted (``text``), each belongs to the text box and starts with its line."""
    for_form = built is not None
    lines = {}
    if text is not None:
        try:
            _, node = safe_yaml.load_with_nodes(text, "scenario")
            lines = _lines(node) if node is not None else {}
        except safe_yaml.YamlRefused:
            pass
    said = []
    for problem in problems:
        path, reason, line = _path(problem.where), problem.reason, problem.line
        what_if = re.match(r"demand > adjustments > (\d+): (.*)$", reason, re.DOTALL)
        if what_if:  # the file's check of the demand what-ifs names them in its own reason
            path = ("demand", "adjustments", int(what_if[1]) - 1)
            reason = what_if[2]
            line = lines.get(path, line)
        field = _form_field(path, built) if for_form else YAML_FIELD
        label = FORM_LABELS.get(field, _label(path)) if for_form else _label(path)
        if for_form and field == "demand-adjustments" and len(path) > 2:
            label = f"change {path[2] + 1} to demand (line {path[2] + 1} of the box)"
        message = what_if_in_words(label, reason) if what_if else _sentence(path, reason, label, field, for_form)
        message = _cap(message)
        if not for_form and line:
            message = f"Line {line}: {message}"
        said.append((0 if for_form else (line or 0), Said(field, message)))
    order = list(FIELDS.values()) + [YAML_FIELD]
    said.sort(key=lambda x: (order.index(x[1].field) if x[1].field in order else len(order), x[0]))
    return list(dict.fromkeys(s for _, s in said))  # a file's problems by line, the form's in its order


# --- a scenario in words ---------------------------------------------------------------------------

RATE_WORDS = {"entries": "arrivals into care",
              "uasc_entries": "arrivals of unaccompanied asylum-seeking children"}


def what_if_words(text: str) -> str:
    """A forecast what-if (``uasc_entries*1.5``) as words: "arrivals of unaccompanied
    asylum-seeking children times 1.5, at every age"."""
    from models.glossary import FORECAST_STATES
    from scenarios.cohort import FIRST_AGE, LAST_AGE
    from scenarios.what_if import WhatIfError, parse_adjustment

    try:
        change = parse_adjustment(text)
    except WhatIfError:
        return "a change that cannot be read"
    if change.rate in RATE_WORDS:
        what = RATE_WORDS[change.rate]
    else:
        source, _, dest = change.rate.partition("->")
        what = (f"moves from {FORECAST_STATES.get(source, source).lower()} to "
                f"{FORECAST_STATES.get(dest, dest).lower()}")
    how = []
    if change.multiply != 1.0:
        how.append(f"times {change.multiply:g}")
    if change.add:
        how.append(f"{'plus' if change.add > 0 else 'minus'} {abs(change.add):g}"
                   + (f" ({abs(change.add) * 100:g} in 100)" if "->" in change.rate else ""))
    lo, hi = change.ages
    ages = "at every age" if (lo, hi) == (FIRST_AGE, LAST_AGE) else (f"at {lo}" if lo == hi else f"at {lo} to {hi}")
    return f"{what} {' '.join(how)}, {ages}"


def describe(scenario: TenderScenario, provider_names: Mapping[str, str] | None = None) -> list[str]:
    """What a checked scenario changes, one sentence a change, for people who do not read YAML."""
    names = provider_names or {}
    supply, said = scenario.supply, []
    if supply.award is not None:
        said.append(f"{supply.award.words()}: the framework's providers of that service are then those awarded, "
                    "at the prices they bid; the others are reached only as spot purchases.")
    for block in supply.block_contracts:
        void = block.weekly_price if block.void_weekly_cost is None else block.void_weekly_cost
        said.append(f"Adds the block contract '{block.name}': {block.beds} {block.tier.value} support "
                    f"bed{'s' if block.beds != 1 else ''} of {SERVICE_TYPES.get(block.service_type.value, '').lower()} "
                    f"at {block.postcode.upper()}, £{block.weekly_price:,.0f} a week each; an empty bed costs "
                    f"£{void:,.0f} a week.")
    if supply.remove_providers:
        listed = ", ".join(f"{names.get(p, p)} ({p})" for p in supply.remove_providers)
        said.append(f"Removes {'the provider' if len(supply.remove_providers) == 1 else 'the providers'} {listed}.")
    if supply.remove_lots:
        said.append("Removes the lot" + ("s " if len(supply.remove_lots) > 1 else " ")
                    + "; ".join(str(lot) for lot in supply.remove_lots) + ".")
    for change in supply.price_changes:
        where = f"{change.tier.value} support" if change.tier else "every tier"
        if change.lot is not None:
            where += f" in the lot {change.lot}"
        sign = "+" if change.percent >= 0 else "\u2212"
        said.append(f"Changes the price of {where} by {sign}{abs(change.percent):g}%.")
    for stop in supply.stop_offering:
        tiers = " and ".join(t.value for t in stop.tiers)
        said.append(f"Stops {tiers} support " + (f"in the lot {stop.lot}." if stop.lot is not None else "everywhere."))
    if scenario.step_down_speed != 1:
        speed = scenario.step_down_speed
        said.append(f"Young people step down to less support {speed:g} times as fast as now." if speed > 1 else
                    f"Young people step down to less support more slowly: {speed:g} times as fast as now.")
    if scenario.demand.forecast_scenario:
        said.append(f"Demand follows the forecast what-if '{scenario.demand.forecast_scenario}'.")
    for text in scenario.demand.adjustments:
        said.append(f"Demand changes: {what_if_words(text)}.")
    spot, emergency = scenario.fallback.spot, scenario.fallback.emergency
    if scenario.fallback != type(scenario.fallback)():
        said.append(("Spot purchases cost " f"{spot.price_multiplier:g} times a tier's usual price, about "
                     f"{spot.typical_miles:g} miles away" if spot.available else "No spot purchases can be made")
                    + f"; emergency accommodation costs £{emergency.weekly_price:,.0f} a week.")
    if not said:
        said.append("Changes nothing: the market as it is today (a baseline).")
    return said
