"""placematch's codes cover the Placements Data Standard (../shared/data/placements-standard):
every option a council may record there has a placematch meaning."""

from __future__ import annotations

import json

import pytest

from models.enums import PLACEMENTS_STANDARD


@pytest.fixture(scope="module")
def fields(shared_data):
    standard = json.loads((shared_data / "placements-standard" / "placements.json").read_text())
    return {f["name"]: f for e in standard["entities"] for f in e["fields"]}


@pytest.mark.parametrize("field", ["neededBy", "livingCompanions", "specificCommunicationRequirements"])
def test_every_option_of_the_standard_is_mapped(fields, field):
    assert set(fields[field]["options"]) == set(PLACEMENTS_STANDARD[field])


def test_every_suitability_field_uses_the_mapped_options(fields):
    suitability = [f for name, f in fields.items() if name.endswith("Suitability")]
    assert len(suitability) == 3
    for f in suitability:
        assert set(f["options"]) == set(PLACEMENTS_STANDARD["suitability"])


def test_every_categorical_risk_of_the_standard_has_a_code(fields):
    risks = {name for name, f in fields.items() if name.startswith("risk") and f.get("options")}
    assert risks == set(PLACEMENTS_STANDARD["risks"])
