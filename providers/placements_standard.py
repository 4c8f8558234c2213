"""Referrals in the Placements Data Standard (v2, draft): read from its JSON, written as the
anonymised needs profile providers receive.

The standard describes a referral in entities (PlacementAvailability, PlacementRequirements,
PlacementRecommendation, Risks, and QualityAssurance for who entered it and when). Its JSON
file is a description of those entities, not a JSON Schema, so :data:`REFERRAL_SCHEMA` is our
encoding of it as one (JSON Schema 2020-12: each field's type, its options, and the fields
whose cardinality is ``1..1`` or ``1..*`` required); a test checks the encoding field by field
against the standard's own file. ``jsonschema`` validates every document before anything is
read from it.

The standard does not carry what matching needs to know about the young person themself:
their date of birth, sex, legal status, home postcode and assessed support tier. A document
gives them in one more object, ``placematch`` (with the council's referral id, education
postcode, the needs the standard has no field for, sibling group, referral date and expected
weeks), which the import requires. Everything else maps onto the referral one to one
(``models.enums.PLACEMENTS_STANDARD``): neededBy to urgency, livingCompanions to who they may
live with, the three suitability fields to foster care, children's homes and supported
accommodation, the risk fields to risk codes; ESOL, BSL and Makaton, home adaptation
(physical disability), cultural needs and "Yes - must" live with pets become needs.
``riskOther``, ``riskToOthersOther`` and ``additionalSupport`` are free text or a support
wish no hard rule reads: they are accepted and not stored (the import report says so).

An import is the referrals file's import (``providers.interchange``): the same checks
(postcodes located, codes, dates), one transaction, nothing written when anything is wrong;
a problem names the document, the referral (its position and childId) and the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy.engine import Engine

from models.enums import PLACEMENTS_STANDARD, LegalStatus, Need, Sex, Tier
from providers import limits
from providers.csvfiles import ImportFailed, RowError
from providers.interchange import (
    REFERRAL_COLUMNS,
    REFERRAL_OPTIONAL_COLUMNS,
    ImportReport,
    import_referrals,
)

STANDARD = "Placements Data Standard v2 (draft)"
RISK_OPTIONS = ["No known risk", "Risk Present"]
SUITABILITY_FIELDS = {  # the standard's field -> placematch's service type
    "fosterCareSuitability": "foster_care",
    "residentialCareSuitability": "childrens_home",
    "supportedAccommodationSuitability": "supported_accommodation",
}
PETS = ["Yes - must", "Yes - can", "No", "Not Known"]
CULTURAL = ["Required", "Not required", "Not Known", "Other"]
ADDITIONAL_SUPPORT = ["additional supervision", "therapeutic support", "a worker for respite", "taxis to school",
                      "NA", "other (please specify)"]
# Needs the standard records in its own fields; the rest come in placematch.needs.
STANDARD_NEEDS = {Need.esol.value, Need.bsl.value, Need.makaton.value, Need.physical_disability.value,
                  Need.cultural.value, Need.pets.value}


def _enum(options) -> dict:
    return {"enum": list(options)}


_TEXT = {"type": "string", "maxLength": 500}
_DATE = {"type": "string", "format": "date"}

ENTITIES: dict[str, dict] = {
    "PlacementAvailability": {
        "type": "object", "additionalProperties": False, "required": ["childId"],
        "properties": {
            "childId": {"type": "integer", "minimum": 0},
            "neededBy": _enum(PLACEMENTS_STANDARD["neededBy"]),
            "siblingCount": {"type": "integer", "minimum": 0, "maximum": 20},
            "preferredLocation": _TEXT,
        },
    },
    "PlacementRequirements": {
        "type": "object", "additionalProperties": False,
        "required": ["communicationNeeds", "specificCommunicationRequirements", "homeAdaptation", "culturalNeeds",
                     "livingCompanions", "pets"],
        "properties": {
            "communicationNeeds": _enum(["Y", "N", "Not Specified"]),
            "specificCommunicationRequirements": {
                "type": "array", "minItems": 1, "uniqueItems": True,
                "items": _enum(PLACEMENTS_STANDARD["specificCommunicationRequirements"])},
            "homeAdaptation": {"type": "boolean"},
            "culturalNeeds": _enum(CULTURAL),
            "livingCompanions": _enum(PLACEMENTS_STANDARD["livingCompanions"]),
            "pets": _enum(PETS),
            "additionalSupport": _enum(ADDITIONAL_SUPPORT),
            "deprivationOfLiberty": {"type": "boolean"},
        },
    },
    "PlacementRecommendation": {
        "type": "object", "additionalProperties": False, "required": list(SUITABILITY_FIELDS),
        "properties": {name: _enum(PLACEMENTS_STANDARD["suitability"]) for name in SUITABILITY_FIELDS},
    },
    "Risks": {
        "type": "object", "additionalProperties": False, "required": list(PLACEMENTS_STANDARD["risks"]),
        "properties": {**{name: _enum(RISK_OPTIONS) for name in PLACEMENTS_STANDARD["risks"]},
                       "riskOther": _TEXT, "riskToOthersOther": _TEXT},
    },
    # Who entered the referral and when; the placement and cost dates are for an agreed
    # placement, which a referral does not have yet.
    "QualityAssurance": {
        "type": "object", "additionalProperties": False,
        "properties": {"referralOfficerName": _TEXT, "referralDate": _DATE, "placementOfficerName": _TEXT,
                       "placementDate": _DATE, "costOfficerName": _TEXT, "costDate": _DATE},
    },
}

# What a referral needs that the standard does not carry (see the module docstring).
PLACEMATCH = {
    "type": "object", "additionalProperties": False,
    "required": ["dateOfBirth", "sex", "legalStatus", "homePostcode", "supportTier"],
    "properties": {
        "referralId": {"type": "string", "minLength": 1, "maxLength": 40},
        "dateOfBirth": _DATE,
        "sex": _enum([s.value for s in Sex if s != Sex.any]),
        "legalStatus": _enum(LegalStatus.codes()),
        "homePostcode": {"type": "string", "maxLength": 10},
        "educationPostcode": {"type": "string", "maxLength": 10},
        "supportTier": _enum(Tier.codes()),
        "needs": {"type": "array", "uniqueItems": True, "maxItems": 20,
                  "items": _enum(sorted(set(Need.codes()) - STANDARD_NEEDS))},
        "siblingGroup": {"type": "string", "minLength": 1, "maxLength": 40},
        "referredOn": _DATE,
        "expectedWeeks": {"type": "integer", "minimum": 1, "maximum": 520},
    },
}

REFERRAL = {
    "type": "object", "additionalProperties": False,
    "required": ["PlacementAvailability", "PlacementRequirements", "PlacementRecommendation", "Risks", "placematch"],
    "properties": {**ENTITIES, "placematch": PLACEMATCH},
}
REFERRAL_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": f"A referral, or a list of referrals, in the {STANDARD}",
    "oneOf": [REFERRAL, {"type": "object", "additionalProperties": False, "required": ["referrals"],
                         "properties": {"referrals": {"type": "array", "minItems": 1,
                                                      "maxItems": limits.MAX_ROWS, "items": REFERRAL}}}],
}

# The needs profile a provider receives: the standard's entities, with the young person's age,
# sex, legal status, tier and districts in ``placematchProfile``; childId is the request's
# number, never the council's reference.
PROFILE = {
    "type": "object", "additionalProperties": False,
    "required": ["PlacementAvailability", "PlacementRequirements", "PlacementRecommendation", "Risks",
                 "placematchProfile"],
    "properties": {
        **{k: v for k, v in ENTITIES.items() if k != "QualityAssurance"},
        "placematchProfile": {
            "type": "object", "additionalProperties": False,
            "required": ["age", "sex", "legalStatus", "supportTier", "homeDistrict", "neededByDate"],
            "properties": {
                "age": {"type": "integer", "minimum": 14, "maximum": 25},
                "sex": PLACEMATCH["properties"]["sex"], "legalStatus": PLACEMATCH["properties"]["legalStatus"],
                "supportTier": PLACEMATCH["properties"]["supportTier"],
                "needs": {"type": "array", "items": _enum(sorted(set(Need.codes()) - STANDARD_NEEDS))},
                "homeDistrict": {"type": "string", "maxLength": 4},
                "areaWanted": {"type": "string", "maxLength": 4},
                "neededByDate": _DATE,
                "expectedWeeks": {"type": ["integer", "null"]},
            },
        },
    },
}
PROFILE_SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "title": f"A referral's anonymised needs profile in the {STANDARD}", **PROFILE}

# The published schema is one of the two shapes; a document is checked against the shape it
# has (a "referrals" list or one referral), so that every problem is reported, not only the
# first of the nearest shape.
_ONE, _LIST = (jsonschema.Draft202012Validator({"$schema": REFERRAL_SCHEMA["$schema"], **shape},
                                               format_checker=jsonschema.FormatChecker())
               for shape in REFERRAL_SCHEMA["oneOf"])


@dataclass(frozen=True)
class DocumentError(RowError):
    """A problem in a Placements Data Standard document: the referral's position in it (1 for
    the first), its childId when known, and the field as a path (``Risks.riskSelfHarm``)."""

    child_id: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" referral {self.row}" + (f" (childId {self.child_id})" if self.child_id is not None else "")
        if self.column:
            where += f"{',' if self.row is not None else ''} field {self.column}"
        return f"{where}: {self.reason}"


def read_document(source: str | Path | bytes, name: str | None = None) -> tuple[str, list[dict]]:
    """The document's name and its referrals (validated against :data:`REFERRAL_SCHEMA`), or
    ImportFailed naming each problem."""
    file = name or (Path(source).name if not isinstance(source, bytes) else "referral.json")
    raw = limits.read_bounded(source, file) if not isinstance(source, bytes) else source
    if len(raw) > limits.MAX_FILE_BYTES:
        raise ImportFailed([DocumentError(file, None, None, f"larger than {limits.MAX_FILE_BYTES:,} bytes")])
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportFailed([DocumentError(file, None, None, "not UTF-8 text: save it as UTF-8 JSON")]) from None
    except json.JSONDecodeError as exc:
        raise ImportFailed([DocumentError(file, None, None, f"not JSON: {exc.msg} at line {exc.lineno}, "
                                                             f"column {exc.colno}")]) from None
    listed = isinstance(document, dict) and "referrals" in document
    referrals = document["referrals"] if listed and isinstance(document["referrals"], list) else [document]
    checker = _LIST if listed else _ONE
    problems = [_problem(file, e, document, referrals) for e in checker.iter_errors(document)]
    if problems:
        raise ImportFailed(sorted(set(problems), key=lambda e: (e.row or 0, e.column or "", e.reason))[:200])
    return file, referrals


def _problem(file: str, error: jsonschema.ValidationError, document, referrals: list) -> DocumentError:
    """One schema error in words, at its referral and field."""
    path = list(error.absolute_path)
    index = None
    if path and path[0] == "referrals" and len(path) > 1 and isinstance(path[1], int):
        index, path = path[1], path[2:]
    elif isinstance(document, dict) and "referrals" not in document:
        index = 0
    child = None
    if index is not None and index < len(referrals) and isinstance(referrals[index], dict):
        child = (referrals[index].get("PlacementAvailability") or {}).get("childId")
        child = child if isinstance(child, int) else None
    field = ".".join(str(p) for p in path) or None
    return DocumentError(file, None if index is None else index + 1, field, _words(error), child_id=child)


def _words(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is missing")
    if error.validator == "enum":
        return f"{error.instance!r} is not one of the standard's options: {', '.join(map(str, error.validator_value))}"
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "not a field of the standard")
    if error.validator == "format" and error.validator_value == "date":
        return f"{error.instance!r} is not a date written as YYYY-MM-DD"
    return error.message


# --- import --------------------------------------------------------------------------------------

# A referrals.csv column -> where its value is in a referral of the document.
FIELD_OF = {
    "id": "placematch.referralId", "date_of_birth": "placematch.dateOfBirth", "sex": "placematch.sex",
    "legal_status": "placematch.legalStatus", "home_postcode": "placematch.homePostcode",
    "education_postcode": "placematch.educationPostcode", "tier": "placematch.supportTier",
    "urgency": "PlacementAvailability.neededBy", "needs": "placematch.needs",
    "living_with": "PlacementRequirements.livingCompanions", "preferred_postcode": "PlacementAvailability.preferredLocation",
    "sibling_group": "placematch.siblingGroup", "deprivation_of_liberty": "PlacementRequirements.deprivationOfLiberty",
    "referred_on": "placematch.referredOn", "duration_weeks": "placematch.expectedWeeks",
    "suitable_types": "PlacementRecommendation", "unsuitable_types": "PlacementRecommendation",
    "risks_to_self": "Risks", "risks_to_others": "Risks",
}


def referral_row(doc: dict, today: dt.date) -> dict[str, Any]:
    """One referral of the document as a row of referrals.csv."""
    availability, needs_of, recommended = doc["PlacementAvailability"], doc["PlacementRequirements"], \
        doc["PlacementRecommendation"]
    mine = doc["placematch"]
    needs = set(mine.get("needs", []))
    needs |= {str(PLACEMENTS_STANDARD["specificCommunicationRequirements"][c].value)
              for c in needs_of["specificCommunicationRequirements"]
              if PLACEMENTS_STANDARD["specificCommunicationRequirements"][c] is not None}
    if needs_of["homeAdaptation"]:
        needs.add(Need.physical_disability.value)
    if needs_of["culturalNeeds"] == "Required":
        needs.add(Need.cultural.value)
    if needs_of["pets"] == "Yes - must":
        needs.add(Need.pets.value)
    suitable, unsuitable = [], []
    for field, service in SUITABILITY_FIELDS.items():
        judged = PLACEMENTS_STANDARD["suitability"][recommended[field]]
        if judged is not None and judged.value == "preferred":
            suitable.append(service)
        elif judged is not None and judged.value == "unsuitable":
            unsuitable.append(service)
    risks = doc["Risks"]
    present = [code for name, code in PLACEMENTS_STANDARD["risks"].items() if risks[name] == "Risk Present"]
    to_others = [str(c.value) for c in present if type(c).__name__ == "RiskToOthers"]
    to_self = [str(c.value) for c in present if type(c).__name__ == "RiskToSelf"]
    needed_by = availability.get("neededBy", "in more than 5 days")
    return {
        "id": mine.get("referralId") or f"PDS-{availability['childId']}",
        "date_of_birth": mine["dateOfBirth"], "sex": mine["sex"], "legal_status": mine["legalStatus"],
        "home_postcode": mine["homePostcode"], "education_postcode": mine.get("educationPostcode", ""),
        "tier": mine["supportTier"], "urgency": PLACEMENTS_STANDARD["neededBy"][needed_by].value,
        "needs": ";".join(sorted(needs)), "risks_to_self": ";".join(sorted(to_self)),
        "risks_to_others": ";".join(sorted(to_others)),
        "living_with": PLACEMENTS_STANDARD["livingCompanions"][needs_of["livingCompanions"]].value,
        "suitable_types": ";".join(suitable), "unsuitable_types": ";".join(unsuitable),
        "preferred_postcode": availability.get("preferredLocation", ""), "avoid_postcodes": "",
        "avoid_radius_miles": "", "sibling_group": mine.get("siblingGroup", ""),
        "deprivation_of_liberty": "true" if needs_of.get("deprivationOfLiberty") else "false",
        "referred_on": mine.get("referredOn") or (doc.get("QualityAssurance") or {}).get("referralDate")
        or today.isoformat(),
        "duration_weeks": mine.get("expectedWeeks", ""), "step_down_weeks": "", "wishes": "",
    }


def _siblings_named(file: str, referrals: list[dict]) -> list[DocumentError]:
    """A referral with siblings to place with must say which group they are in."""
    out = []
    for k, doc in enumerate(referrals, start=1):
        count = doc["PlacementAvailability"].get("siblingCount") or 0
        if count > 0 and not doc["placematch"].get("siblingGroup"):
            out.append(DocumentError(file, k, "placematch.siblingGroup",
                                     f"siblingCount says {count} sibling(s) to place with: give the group's "
                                     "reference here, the same on each sibling's referral",
                                     child_id=doc["PlacementAvailability"]["childId"]))
    return out


def import_document(engine: Engine, source: str | Path | bytes, *, actor="cli", name: str | None = None,
                    today: dt.date | None = None, council: str | None = None) -> ImportReport:
    """Validate a document and import its referrals as referrals.csv is imported (one
    transaction; ImportFailed writes nothing and names the referral and field of each problem)."""
    file, referrals = read_document(source, name)
    errors = _siblings_named(file, referrals)
    if errors:
        raise ImportFailed(errors)
    on = today or dt.date.today()
    rows = [referral_row(doc, on) for doc in referrals]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REFERRAL_COLUMNS + REFERRAL_OPTIONAL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    try:
        return import_referrals(engine, buffer.getvalue().encode("utf-8"), actor=actor, name=file, council=council)
    except ImportFailed as failed:
        def child(row):
            return referrals[row - 2]["PlacementAvailability"]["childId"] if row and 2 <= row < len(referrals) + 2 \
                else None
        raise ImportFailed([
            DocumentError(e.file, e.row - 1 if e.row else None, FIELD_OF.get(e.column, e.column), e.reason,
                          child_id=child(e.row)) for e in failed.errors], stopped=failed.stopped) from None


# --- export: the needs profile a provider receives ----------------------------------------------


def needs_profile(referral, on: dt.date, request_number: int) -> dict:
    """A referral's anonymised needs profile in the standard's form (validates against
    :data:`PROFILE_SCHEMA`): what a provider sent it receives. No name, date of birth, full
    postcode or council reference: childId is the request's number."""
    from providers.offers import district

    needs = set(referral.needs or [])
    to_self, to_others = set(referral.risks_to_self or []), set(referral.risks_to_others or [])
    by_living = {v: k for k, v in PLACEMENTS_STANDARD["livingCompanions"].items()}
    by_judgement = {v.value: k for k, v in PLACEMENTS_STANDARD["suitability"].items() if v is not None}
    suits = referral.type_suitability or {}
    communication = [k for k, v in PLACEMENTS_STANDARD["specificCommunicationRequirements"].items()
                     if v is not None and v.value in needs]
    siblings = 0
    if referral.sibling_group:
        from sqlalchemy import func, select
        from sqlalchemy.orm import object_session

        from models.people import Referral

        session = object_session(referral)
        siblings = (session.scalar(select(func.count()).select_from(Referral).where(
            Referral.sibling_group == referral.sibling_group, Referral.id != referral.id)) or 0) if session else 0
    return {
        "PlacementAvailability": {
            "childId": int(request_number),
            "neededBy": next(k for k, v in PLACEMENTS_STANDARD["neededBy"].items() if v == referral.urgency),
            "siblingCount": int(siblings),
            "preferredLocation": district(referral.preferred_postcode) or district(referral.home_postcode),
        },
        "PlacementRequirements": {
            "communicationNeeds": "Y" if communication else "N",
            "specificCommunicationRequirements": communication or ["None"],
            "homeAdaptation": Need.physical_disability.value in needs,
            "culturalNeeds": "Required" if Need.cultural.value in needs else "Not required",
            "livingCompanions": by_living[referral.living_with],
            "pets": "Yes - must" if Need.pets.value in needs else "Not Known",
            "deprivationOfLiberty": bool(referral.deprivation_of_liberty),
        },
        "PlacementRecommendation": {
            field: by_judgement.get(str(suits.get(service, "")), "Not specified")
            for field, service in SUITABILITY_FIELDS.items()
        },
        "Risks": {name: "Risk Present" if str(code.value) in (to_others if type(code).__name__ == "RiskToOthers"
                                                              else to_self) else "No known risk"
                  for name, code in PLACEMENTS_STANDARD["risks"].items()},
        "placematchProfile": {
            "age": referral.age_on(on), "sex": str(referral.sex), "legalStatus": str(referral.legal_status),
            "supportTier": str(referral.tier), "needs": sorted(needs - STANDARD_NEEDS),
            "homeDistrict": district(referral.home_postcode),
            "areaWanted": district(referral.preferred_postcode) or district(referral.home_postcode),
            "neededByDate": (on + dt.timedelta(days=referral.urgency.days)).isoformat(),
            "expectedWeeks": referral.duration_weeks,
        },
    }


def import_referrals_file(engine: Engine, source: str | Path | bytes, *, actor="cli", name: str | None = None,
                          sheet: str | None = None, council: str | None = None) -> ImportReport:
    """Referrals from whichever form the file is in: a Placements Data Standard document
    (``.json``), else referrals.csv or an Excel workbook (``providers.interchange``)."""
    named = name or (str(source) if not isinstance(source, bytes) else "")
    if named.lower().endswith(".json"):
        return import_document(engine, source, actor=actor, name=name, council=council)
    return import_referrals(engine, source, actor=actor, name=name, sheet=sheet, council=council)
