"""Referrals in the Placements Data Standard: our JSON Schema encodes the standard's own file
field by field; a document imports as a referral (or a list), refused whole with the referral
and field named when anything is wrong; a referral's needs profile comes out in the same form,
anonymised, valid against the profile schema."""

from __future__ import annotations

import copy
import datetime as dt
import json

import jsonschema
import pytest
from sqlalchemy import func, select

from models.db import transaction
from models.people import Referral
from providers import placements_standard as pds
from providers.csvfiles import ImportFailed

TYPES = {"Integer": "integer", "Boolean": "boolean", "String": "string", "Date": "string"}
ON = dt.date(2026, 11, 23)


def referral_doc(child: int = 4021, **placematch) -> dict:
    return {
        "PlacementAvailability": {"childId": child, "neededBy": "in less than 5 days", "siblingCount": 0,
                                  "preferredLocation": "ME7 1AA"},
        "PlacementRequirements": {
            "communicationNeeds": "Y", "specificCommunicationRequirements": ["ESOL"], "homeAdaptation": False,
            "culturalNeeds": "Required", "livingCompanions": "Only with other older children", "pets": "No",
            "additionalSupport": "therapeutic support", "deprivationOfLiberty": False},
        "PlacementRecommendation": {"fosterCareSuitability": "Unsuitable",
                                    "residentialCareSuitability": "Suitable but not preferred",
                                    "supportedAccommodationSuitability": "Preferred"},
        "Risks": {**{name: "No known risk" for name in pds.PLACEMENTS_STANDARD["risks"]},
                  "riskSelfHarm": "Risk Present", "riskToOthersFire": "Risk Present"},
        "QualityAssurance": {"referralOfficerName": "A. Officer", "referralDate": "2026-11-20"},
        "placematch": {"referralId": f"MDW-{child}", "dateOfBirth": "2009-04-02", "sex": "female",
                       "legalStatus": "looked_after", "homePostcode": "ME4 4AA", "supportTier": "enhanced",
                       "needs": ["mental_health"], **placematch},
    }


def count(engine) -> int:
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(Referral))


def refusal(engine, document, name="referrals.json") -> ImportFailed:
    before = count(engine)
    with pytest.raises(ImportFailed) as caught:
        pds.import_document(engine, json.dumps(document).encode(), name=name, today=ON)
    assert count(engine) == before  # nothing half-written
    return caught.value


def test_the_schema_encodes_every_field_of_the_standard(shared_data):
    standard = json.loads((shared_data / "placements-standard" / "placements.json").read_text())
    assert standard["metadata"]["version"] == "v2"
    for entity in standard["entities"]:
        if entity["name"] == "ActualPlacement":
            continue  # an agreed placement, not a referral
        ours = pds.ENTITIES[entity["name"]]
        assert set(ours["properties"]) == {f["name"] for f in entity["fields"]}, entity["name"]
        required = {f["name"] for f in entity["fields"] if f["cardinality"].startswith("1")}
        if entity["name"] != "QualityAssurance":  # its placement and cost dates come with a placement
            assert set(ours.get("required", [])) == required, entity["name"]
        for f in entity["fields"]:
            mine = ours["properties"][f["name"]]
            if f["type"] == "Categorical":
                options = mine["items"]["enum"] if f["cardinality"].endswith("*") else mine["enum"]
                assert options == f["options"], f["name"]
            else:
                assert mine["type"] == TYPES[f["type"]], f["name"]


def test_a_document_imports_as_the_referral_it_describes(sqlite_engine):
    twin = referral_doc(4022, referralId="MDW-4022", siblingGroup="G7")
    twin["PlacementAvailability"]["siblingCount"] = 1
    first = referral_doc(siblingGroup="G7")
    first["PlacementAvailability"]["siblingCount"] = 1
    report = pds.import_document(sqlite_engine, json.dumps({"referrals": [first, twin]}).encode(),
                                 name="referrals.json", today=ON)
    assert (report.rows, report.created) == (2, 2)
    with transaction(sqlite_engine) as s:
        r = s.get(Referral, "MDW-4021")
        assert (str(r.sex), str(r.legal_status), str(r.tier), str(r.urgency)) == (
            "female", "looked_after", "enhanced", "within_5_days")
        assert r.date_of_birth == dt.date(2009, 4, 2) and r.home_la_code == "E06000035"
        assert sorted(r.needs) == ["cultural", "esol", "mental_health"]
        assert (r.risks_to_self, r.risks_to_others) == (["self_harm"], ["fire_setting"])
        assert str(r.living_with) == "only_older" and r.preferred_postcode == "ME7 1AA"
        assert (r.type_suitability["supported_accommodation"], r.type_suitability["foster_care"],
                r.type_suitability["childrens_home"]) == ("preferred", "unsuitable", "suitable")
        assert "floating_support" not in r.type_suitability  # only for those who ask for it
        assert r.referred_on == dt.date(2026, 11, 20)  # the standard's referral date
        assert r.sibling_group == "G7" and s.get(Referral, "MDW-4022").sibling_group == "G7"


def test_one_referral_without_a_list_imports_and_names_itself_from_the_child_id(sqlite_engine):
    doc = referral_doc()
    del doc["placematch"]["referralId"]
    pds.import_document(sqlite_engine, json.dumps(doc).encode(), name="one.json", today=ON)
    with transaction(sqlite_engine) as s:
        assert s.get(Referral, "PDS-4021") is not None


def test_bad_documents_are_refused_naming_the_referral_and_the_field(sqlite_engine):
    good = referral_doc(9)
    no_birth = referral_doc(10)
    del no_birth["placematch"]["dateOfBirth"]
    odd = referral_doc(11)
    odd["Risks"]["riskMissing"] = "Sometimes"
    failure = refusal(sqlite_engine, {"referrals": [good, no_birth, odd]})
    lines = str(failure).splitlines()
    assert "referrals.json referral 2 (childId 10), field placematch: 'dateOfBirth' is missing" in lines
    assert any(line.startswith("referrals.json referral 3 (childId 11), field Risks.riskMissing: 'Sometimes' "
                               "is not one of the standard's options: No known risk, Risk Present") for line in lines)
    unknown = referral_doc(12)
    unknown["PlacementAvailability"]["favouriteColour"] = "green"
    assert "not a field of the standard" in str(refusal(sqlite_engine, unknown))
    nowhere = referral_doc(13, homePostcode="ZZ9 9ZZ")  # passes the schema; the postcode check refuses it
    failure = refusal(sqlite_engine, {"referrals": [good, nowhere]})
    assert any(line.startswith("referrals.json referral 2 (childId 13), field placematch.homePostcode:")
               for line in str(failure).splitlines())
    siblings = referral_doc(14)
    siblings["PlacementAvailability"]["siblingCount"] = 2
    assert "give the group's reference" in str(refusal(sqlite_engine, siblings))


def test_a_file_that_is_not_json_is_refused_in_words(sqlite_engine):
    with pytest.raises(ImportFailed) as caught:
        pds.import_document(sqlite_engine, b"{\"referrals\": [", name="broken.json", today=ON)
    assert str(caught.value).startswith("broken.json: not JSON:")
    with pytest.raises(ImportFailed) as caught:
        pds.import_document(sqlite_engine, "\u00e9".encode("latin-1"), name="latin.json", today=ON)
    assert "not UTF-8" in str(caught.value)


def test_a_referral_s_needs_profile_is_the_standard_s_form_and_anonymised(sqlite_engine):
    pds.import_document(sqlite_engine, json.dumps(referral_doc()).encode(), name="r.json", today=ON)
    with transaction(sqlite_engine) as s:
        referral = s.get(Referral, "MDW-4021")
        profile = pds.needs_profile(referral, ON, request_number=77)
        jsonschema.Draft202012Validator(pds.PROFILE_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(profile)
        text = json.dumps(profile)
        for secret in ("MDW-4021", "2009-04-02", "ME4 4AA", "ME7 1AA", "A. Officer"):
            assert secret not in text
        assert profile["PlacementAvailability"]["childId"] == 77
        assert profile["PlacementAvailability"]["preferredLocation"] == "ME7"
        assert profile["placematchProfile"]["age"] == 17 and profile["placematchProfile"]["homeDistrict"] == "ME4"
        assert profile["Risks"]["riskSelfHarm"] == "Risk Present" and profile["Risks"]["riskMissing"] == "No known risk"
        assert profile["PlacementRecommendation"]["fosterCareSuitability"] == "Unsuitable"
        assert profile["PlacementRequirements"]["specificCommunicationRequirements"] == ["ESOL"]
        # What a provider receives reads back as the same needs (the round trip of the standard's part).
        again = copy.deepcopy(profile)
        again["placematch"] = {"dateOfBirth": "2009-04-02", "sex": "female", "legalStatus": "looked_after",
                               "homePostcode": "ME4 4AA", "supportTier": "enhanced", "needs": ["mental_health"]}
        del again["placematchProfile"]
        row = pds.referral_row(again, ON)
        assert row["needs"] == "cultural;esol;mental_health" and row["risks_to_self"] == "self_harm"
        assert row["risks_to_others"] == "fire_setting" and row["living_with"] == "only_older"
