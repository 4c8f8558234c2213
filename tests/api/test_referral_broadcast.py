"""Referral broadcast (issue 15, parts 3-4), over the service on the demo council: the panel
sends a young person to the framework providers whose homes could meet the hard rules; each
provider's staff see only what was sent to them, as an anonymised profile, and answer with an
offer or a decline; the next match run proposes an offer at its price and rules a decline out,
counting it in the unplaced funnel; commissioners read the providers' figures.

The market's clock (providers.offers.today) is held on the demo's panel day, so the demo's
beds and ages read the same whatever day the tests run.
"""

from __future__ import annotations

import datetime as dt

import jsonschema
import pytest
from demo_council import DEMO_DAY
from signin import PASSWORD
from sqlalchemy import select, update
from test_decisions import proposals, run_id  # noqa: F401 (run_id is a fixture)

from api.routes.users import create_user
from matching.approvals import ApprovalPolicy
from matching.checker import check
from matching.instance import from_database
from matching.panel import run_panel
from matching.policy import Policy
from models.accounts import User
from models.db import transaction
from models.enums import Role, Tier
from models.market import ReferralRequest
from models.people import Referral
from models.supply import Property, Vacancy
from providers import offers
from providers.demo import DEMO_AUTHORITY
from providers.placements_standard import PROFILE_SCHEMA


@pytest.fixture(autouse=True)
def demo_day(monkeypatch):
    monkeypatch.setattr(offers, "today", lambda: DEMO_DAY)


def staff_of(client, engine, provider_id: str) -> dict[str, str]:
    """Headers for a staff member of this provider (created on first use)."""
    name = f"staff.{provider_id.lower()}"
    with transaction(engine) as s:
        if s.scalar(select(User.id).where(User.username == name)) is None:
            create_user(s, name, f"Staff of {provider_id}", Role.provider, PASSWORD, provider_id=provider_id)
    token = client.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def provider_of(engine, vacancy_id: str) -> str:
    with transaction(engine) as s:
        return s.get(Property, s.get(Vacancy, vacancy_id).property_id).provider_id


def send(client, as_role, referral_id: str):
    return client.post(f"/referrals/{referral_id}/broadcast", headers=as_role(Role.panel_member))


def request_id(engine, referral_id: str, provider_id: str) -> int:
    with transaction(engine) as s:
        return s.scalar(select(ReferralRequest.id).where(ReferralRequest.referral_id == referral_id,
                                                         ReferralRequest.provider_id == provider_id))


def rerun(engine):
    """The next match run of the queue, as the panel's CLI records one; with the instance it read."""
    outcome = run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                        policy=Policy(), approvals=ApprovalPolicy())
    with transaction(engine) as s:
        instance = from_database(s, DEMO_AUTHORITY, DEMO_DAY)
    return outcome, instance


# --- sending ----------------------------------------------------------------------------------------


def test_a_referral_goes_to_every_eligible_framework_provider_once_with_a_deadline_by_urgency(
        client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    sent = send(client, as_role, chosen["referral_id"])
    assert sent.status_code == 201, sent.text
    body = sent.json()
    providers = {r["provider_id"] for r in body["sent_now"]}
    assert provider_of(demo_engine, chosen["vacancy_id"]) in providers  # its proposed home's provider is asked
    with transaction(demo_engine) as s:
        urgency = s.get(Referral, chosen["referral_id"]).urgency
    for r in body["sent_now"]:
        deadline = dt.datetime.fromisoformat(r["deadline_at"]) - dt.datetime.fromisoformat(r["sent_at"])
        assert deadline == offers.ANSWER_WITHIN[str(urgency)]
        assert r["status"] == "sent" and r["status_words"]
    assert body["summary"].startswith(f"Sent to {len(providers)} provider")

    again = send(client, as_role, chosen["referral_id"])
    assert again.status_code == 201 and again.json()["sent_now"] == []  # never asked twice
    assert len(again.json()["all_sent"]) == len(providers)

    with transaction(demo_engine) as s:
        s.execute(update(Referral).where(Referral.id == chosen["referral_id"]).values(status="withdrawn"))
    refused = send(client, as_role, proposals(demo_engine, run_id)[0]["referral_id"])
    assert refused.status_code == 409 and "waiting" in refused.json()["error"]["message"]


# --- what a provider sees ---------------------------------------------------------------------------


def test_a_provider_sees_only_what_was_sent_to_it_and_nothing_that_names_the_young_person(
        client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    mine = provider_of(demo_engine, chosen["vacancy_id"])
    send(client, as_role, chosen["referral_id"])
    headers = staff_of(client, demo_engine, mine)
    listed = client.get("/provider/requests", headers=headers)
    assert listed.status_code == 200
    assert [r["request_id"] for r in listed.json()] == [request_id(demo_engine, chosen["referral_id"], mine)]
    text = listed.text
    with transaction(demo_engine) as s:
        r = s.get(Referral, chosen["referral_id"])
        secrets = [r.id, r.date_of_birth.isoformat(), r.home_postcode, r.preferred_postcode, r.education_postcode,
                   r.wishes]
        district = offers.district(r.home_postcode)
    assert not [x for x in secrets if x and x in text], "the profile gives the young person away"
    profile = listed.json()[0]["profile"]
    assert profile["home_district"] == district and " " not in district
    assert profile["age"] == r.age_on(DEMO_DAY) and profile["tier"] == str(r.tier)
    # The same profile in the Placements Data Standard's form (issue 16): valid, and as anonymous.
    rid = request_id(demo_engine, chosen["referral_id"], mine)
    standard = client.get(f"/provider/requests/{rid}/placements-standard", headers=headers)
    assert standard.status_code == 200 and not [x for x in secrets if x and x in standard.text]
    jsonschema.Draft202012Validator(PROFILE_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(standard.json())
    assert standard.json()["PlacementAvailability"]["childId"] == rid
    assert standard.json()["placematchProfile"]["homeDistrict"] == district

    # A provider not sent this young person sees nothing of them.
    other = next(p for p in _framework_providers(demo_engine) if p != mine and
                 request_id(demo_engine, chosen["referral_id"], p) is None)
    assert client.get("/provider/requests", headers=staff_of(client, demo_engine, other)).json() == []


def _framework_providers(engine) -> list[str]:
    from matching.broadcast import framework_providers

    with transaction(engine) as s:
        return sorted(framework_providers(s))


def test_another_providers_request_or_vacancy_is_not_found_exactly_as_one_that_does_not_exist(
        client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    mine = provider_of(demo_engine, chosen["vacancy_id"])
    send(client, as_role, chosen["referral_id"])
    theirs = request_id(demo_engine, chosen["referral_id"], mine)
    other = next(p for p in _framework_providers(demo_engine) if p != mine)
    guessing = staff_of(client, demo_engine, other)
    for path in (f"/provider/requests/{theirs}", f"/provider/requests/{2**31 - 1}",
                 f"/provider/requests/{theirs}/placements-standard"):
        got = client.get(path, headers=guessing)
        assert got.status_code == 404 and got.json()["error"]["code"] == "not_found"
    offer = {"vacancy_id": chosen["vacancy_id"], "tier": chosen["tier"], "weekly_price": 1000, "start": str(DEMO_DAY)}
    assert client.post(f"/provider/requests/{theirs}/offer", json=offer, headers=guessing).status_code == 404
    assert client.post(f"/provider/requests/{theirs}/decline", json={"reason": "price"},
                       headers=guessing).status_code == 404
    change = {"beds": 0, "available_from": str(DEMO_DAY)}
    assert client.put(f"/provider/vacancies/{chosen['vacancy_id']}", json=change, headers=guessing).status_code == 404
    assert client.put("/provider/vacancies/NO-SUCH", json=change, headers=guessing).status_code == 404
    with transaction(demo_engine) as s:
        assert s.get(ReferralRequest, theirs).status == "sent"
        assert s.get(Vacancy, chosen["vacancy_id"]).beds > 0
    # And a provider's staff reach none of the council's own records.
    for path in ("/referrals", f"/referrals/{chosen['referral_id']}", f"/referrals/{chosen['referral_id']}/broadcast",
                 "/market-engagement", "/vacancies"):
        assert client.get(path, headers=guessing).status_code == 403, path


def test_a_provider_keeps_its_own_vacancies_and_only_within_the_homes_beds(client, as_role, demo_engine):
    with transaction(demo_engine) as s:
        vacancy = s.scalars(select(Vacancy).where(Vacancy.reserved_for_referral_id.is_(None)).order_by(Vacancy.id)).first()
        home = s.get(Property, vacancy.property_id)
        provider, total = home.provider_id, home.total_beds
    headers = staff_of(client, demo_engine, provider)
    mine = client.get("/provider/vacancies", headers=headers).json()
    assert vacancy.id in {v["vacancy_id"] for v in mine}
    assert all(provider_of(demo_engine, v["vacancy_id"]) == provider for v in mine)
    later = str(DEMO_DAY + dt.timedelta(days=9))
    ok = client.put(f"/provider/vacancies/{vacancy.id}", json={"beds": 1, "available_from": later}, headers=headers)
    assert ok.status_code == 200 and (ok.json()["beds"], ok.json()["available_from"]) == (1, later)
    too_many = client.put(f"/provider/vacancies/{vacancy.id}", json={"beds": total + 1, "available_from": later},
                          headers=headers)
    assert too_many.status_code == 422 and str(total) in too_many.json()["error"]["message"]
    with transaction(demo_engine) as s:
        assert s.get(Vacancy, vacancy.id).beds == 1


def test_a_floating_support_package_keeps_its_hours_and_a_bed_has_none(client, demo_engine):
    with transaction(demo_engine) as s:
        rows = s.scalars(select(Vacancy).where(Vacancy.reserved_for_referral_id.is_(None)).order_by(Vacancy.id)).all()
        package, bed = rows[0], next(v for v in rows[1:] if s.get(Property, v.property_id).provider_id
                                     == s.get(Property, rows[0].property_id).provider_id)
        package.support_hours = 40  # the provider's outreach team, sized in hours
        provider = s.get(Property, package.property_id).provider_id
    headers = staff_of(client, demo_engine, provider)
    later = str(DEMO_DAY + dt.timedelta(days=3))
    listed = {v["vacancy_id"]: v for v in client.get("/provider/vacancies", headers=headers).json()}
    assert listed[package.id]["support_hours"] == 40 and listed[bed.id]["support_hours"] is None
    ok = client.put(f"/provider/vacancies/{package.id}", json={"beds": 1, "available_from": later, "support_hours": 25},
                    headers=headers)
    assert ok.status_code == 200 and ok.json()["support_hours"] == 25
    refused = client.put(f"/provider/vacancies/{bed.id}", json={"beds": 1, "available_from": later, "support_hours": 25},
                         headers=headers)
    assert refused.status_code == 422 and "counted in beds" in refused.json()["error"]["message"]
    with transaction(demo_engine) as s:
        assert s.get(Vacancy, package.id).support_hours == 25 and s.get(Vacancy, bed.id).support_hours is None
        instance = from_database(s, DEMO_AUTHORITY, DEMO_DAY, vacancy_ids=[package.id])
        assert list(instance.vacancies["support_hours"]) == [25]  # what the next match run counts


# --- answering ------------------------------------------------------------------------------------


def test_an_offer_flows_into_the_next_run_and_is_proposed_at_its_price(client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    provider = provider_of(demo_engine, chosen["vacancy_id"])
    send(client, as_role, chosen["referral_id"])
    rid = request_id(demo_engine, chosen["referral_id"], provider)
    price = round(chosen["weekly_cost"] - 75, 2)  # keener than the framework price
    start = DEMO_DAY + dt.timedelta(days=1)
    made = client.post(f"/provider/requests/{rid}/offer", headers=staff_of(client, demo_engine, provider),
                       json={"vacancy_id": chosen["vacancy_id"], "tier": chosen["tier"], "weekly_price": price,
                             "start": str(start)})
    assert made.status_code == 200, made.text
    assert made.json()["status"] == "offered" and made.json()["offered_weekly_price"] == price

    outcome, instance = rerun(demo_engine)
    ours = [p for p in proposals(demo_engine, outcome.run_id) if p["referral_id"] == chosen["referral_id"]]
    assert [(p["vacancy_id"], p["weekly_cost"]) for p in ours] == [(chosen["vacancy_id"], price)]
    matches = outcome.explanation.matches.set_index("referral_id")
    assert "Its provider offered this bed for them" in matches.at[chosen["referral_id"], "why"]
    assert check(outcome.explanation.matches, instance, Policy()) == []  # the independent checker agrees


def test_a_decline_rules_the_providers_homes_out_and_is_counted_in_the_unplaced_funnel(
        client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    sent = send(client, as_role, chosen["referral_id"]).json()["sent_now"]
    for r in sent:  # every provider asked says no
        said = client.post(f"/provider/requests/{r['request_id']}/decline", json={"reason": "resident_mix"},
                           headers=staff_of(client, demo_engine, r["provider_id"]))
        assert said.status_code == 200, said.text
    outcome, instance = rerun(demo_engine)
    asked = {r["provider_id"] for r in sent}
    for p in proposals(demo_engine, outcome.run_id, rank=None):
        if p["referral_id"] == chosen["referral_id"]:
            assert provider_of(demo_engine, p["vacancy_id"]) not in asked
    unplaced = outcome.explanation.unplaced.set_index("referral_id")
    assert chosen["referral_id"] in unplaced.index  # every framework home it could have had said no
    row = unplaced.loc[chosen["referral_id"]]
    assert f"declined:resident_mix={len(sent)}" in row["excluded_by"]
    assert row["providers_asked"] == (f"Sent to {len(sent)} provider{'s' if len(sent) != 1 else ''}: {len(sent)} "
                                      "declined (would not suit the young people living there "f"{len(sent)}).")
    funnel = outcome.result.eligibility.funnel.loc[chosen["referral_id"]]
    assert funnel["declined_by_provider"] > 0


def test_answers_the_exchange_refuses_and_the_ones_it_takes(client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    provider = provider_of(demo_engine, chosen["vacancy_id"])
    send(client, as_role, chosen["referral_id"])
    rid = request_id(demo_engine, chosen["referral_id"], provider)
    headers = staff_of(client, demo_engine, provider)
    good = {"vacancy_id": chosen["vacancy_id"], "tier": chosen["tier"], "weekly_price": 1500.0, "start": str(DEMO_DAY)}

    def offer(**change):
        return client.post(f"/provider/requests/{rid}/offer", json=good | change, headers=headers)

    with transaction(demo_engine) as s:
        others = s.scalars(select(Vacancy.id).join(Property).where(Property.provider_id != provider)).first()
        referral = s.get(Referral, chosen["referral_id"])
        below = [t.value for t in Tier if not t.covers(referral.tier)]
    refusals = [
        (offer(vacancy_id=others), "vacancy_id", "your own homes"),
        (offer(start=str(DEMO_DAY - dt.timedelta(days=1))), "start", "start date"),
        (offer(start=str(DEMO_DAY + dt.timedelta(days=400))), "start", "start date"),
    ]
    if below:
        refusals.append((offer(tier=below[0]), "tier", "at that tier or above"))
    for response, field, words in refusals:
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert words in error["message"], error
        assert [f["path"] for f in error.get("fields", [])] in ([f"body.{field}"], []), error
    # A bed no longer free is refused, and taken once it is free again.
    with transaction(demo_engine) as s:
        beds = s.get(Vacancy, chosen["vacancy_id"]).beds
        s.get(Vacancy, chosen["vacancy_id"]).beds = 0
    assert "no free bed" in offer().json()["error"]["message"]
    with transaction(demo_engine) as s:
        s.get(Vacancy, chosen["vacancy_id"]).beds = beds
        assert s.get(ReferralRequest, rid).status == "sent"  # nothing half-written by the refusals
    assert offer().status_code == 200
    again = offer()
    assert again.status_code == 409 and "already been answered" in again.json()["error"]["message"]
    late = client.post(f"/provider/requests/{rid}/decline", json={"reason": "price"}, headers=headers)
    assert late.status_code == 409
    assert client.post(f"/provider/requests/{rid}/decline", json={"reason": "expensive"},
                       headers=headers).status_code == 422  # not a reason on the list


def test_the_deadline_closes_the_request(client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    provider = provider_of(demo_engine, chosen["vacancy_id"])
    send(client, as_role, chosen["referral_id"])
    rid = request_id(demo_engine, chosen["referral_id"], provider)
    with transaction(demo_engine) as s:
        row = s.get(ReferralRequest, rid)
        row.deadline_at = row.sent_at - dt.timedelta(minutes=1)
    said = client.post(f"/provider/requests/{rid}/decline", json={"reason": "no_vacancy"},
                       headers=staff_of(client, demo_engine, provider))
    assert said.status_code == 409 and "deadline" in said.json()["error"]["message"]
    got = offers_answers(demo_engine, chosen["referral_id"])
    assert got["unanswered"] == 1 and got["declined"] == {}


def offers_answers(engine, referral_id: str) -> dict:
    with transaction(engine) as s:
        return offers.answers_by_referral(s, [referral_id])[referral_id]


def test_an_offer_the_panel_could_never_accept_is_refused_with_the_rule(client, as_role, demo_engine, run_id):  # noqa: F811
    """A home of the same provider that breaks a hard rule for this young person: refused naming
    the rule, rather than offered and then never proposed."""
    from matching.broadcast import offer_breaks

    for chosen in proposals(demo_engine, run_id):
        provider = provider_of(demo_engine, chosen["vacancy_id"])
        with transaction(demo_engine) as s:
            referral = s.get(Referral, chosen["referral_id"])
            for v, home in s.execute(select(Vacancy, Property).join(Property).where(
                    Property.provider_id == provider, Vacancy.beds > 0, Vacancy.reserved_for_referral_id.is_(None))):
                tier = next((tp for tp in sorted(home.prices, key=lambda tp: tp.tier.rank)
                             if tp.tier.covers(referral.tier)), None)
                if tier and offer_breaks(s, referral, v.id, tier.tier.value, tier.weekly_price, DEMO_DAY, DEMO_DAY,
                                         DEMO_AUTHORITY):
                    bad = (v.id, tier.tier.value)
                    break
            else:
                continue
        break
    else:
        pytest.fail("no proposal's provider has a home breaking a rule for its young person")
    send(client, as_role, chosen["referral_id"])
    rid = request_id(demo_engine, chosen["referral_id"], provider)
    refused = client.post(f"/provider/requests/{rid}/offer", headers=staff_of(client, demo_engine, provider),
                          json={"vacancy_id": bad[0], "tier": bad[1], "weekly_price": 1500, "start": str(DEMO_DAY)})
    assert refused.status_code == 409 and "could not take this young person" in refused.json()["error"]["message"]


def test_commissioners_read_offer_rates_response_times_and_decline_reasons(client, as_role, demo_engine, run_id):  # noqa: F811
    chosen = proposals(demo_engine, run_id)[0]
    sent = send(client, as_role, chosen["referral_id"]).json()["sent_now"]
    first, rest = sent[0], sent[1:]
    offered = client.post(f"/provider/requests/{first['request_id']}/offer",
                          headers=staff_of(client, demo_engine, first["provider_id"]), json=_an_offer(demo_engine,
                                                                                                     first, chosen))
    for r in rest:
        client.post(f"/provider/requests/{r['request_id']}/decline", json={"reason": "price"},
                    headers=staff_of(client, demo_engine, r["provider_id"]))
    rows = {r["key"]: r for r in client.get("/market-engagement", headers=as_role(Role.commissioner)).json()}
    assert set(rows) == {r["provider_id"] for r in sent}
    if offered.status_code == 200:
        assert rows[first["provider_id"]]["offered"] == 1 and rows[first["provider_id"]]["offer_rate"] == 1.0
    for r in rest:
        row = rows[r["provider_id"]]
        assert (row["sent"], row["declined"], row["decline_reasons"], row["offer_rate"]) == (1, 1, {"price": 1}, 0.0)
        assert row["median_hours_to_answer"] is not None and row["median_hours_to_answer"] >= 0
    by_tier = client.get("/market-engagement?by=tier", headers=as_role(Role.commissioner)).json()
    assert [r["key"] for r in by_tier] == [chosen["tier"]] or len(by_tier) == 1
    assert by_tier[0]["sent"] == len(sent) and by_tier[0]["declined"] == len(rest)
    assert client.get("/market-engagement", headers=as_role(Role.panel_member)).status_code == 403


def _an_offer(engine, request: dict, chosen: dict) -> dict:
    """The provider's proposed bed if it is theirs, otherwise their first free bed at a listed tier."""
    with transaction(engine) as s:
        for v, home in s.execute(select(Vacancy, Property).join(Property).where(
                Property.provider_id == request["provider_id"], Vacancy.beds > 0).order_by(Vacancy.id)):
            for tp in sorted(home.prices, key=lambda tp: tp.tier.rank):
                return {"vacancy_id": v.id, "tier": tp.tier.value, "weekly_price": tp.weekly_price,
                        "start": str(max(DEMO_DAY, v.available_from))}
    return {"vacancy_id": "none", "tier": "standard", "weekly_price": 1, "start": str(DEMO_DAY)}


def test_a_provider_sees_its_own_homes_and_says_what_they_can_meet(client, as_role, demo_engine):
    with transaction(demo_engine) as s:
        home = s.scalars(select(Property).order_by(Property.id)).first()
        other = s.scalars(select(Property).where(Property.provider_id != home.provider_id)).first()
        count = len(s.scalars(select(Property).where(Property.provider_id == home.provider_id)).all())
    headers = staff_of(client, demo_engine, home.provider_id)
    mine = client.get("/provider/properties", headers=headers).json()
    assert len(mine) == count and all(provider_of_home(demo_engine, h["property_id"]) == home.provider_id
                                      for h in mine)
    change = {"accepts_needs": ["mental_health", "bsl"], "excludes_risks": ["to_others:fire_setting"]}
    ok = client.put(f"/provider/properties/{home.id}", json=change, headers=headers)
    assert ok.status_code == 200 and ok.json()["accepts_needs"] == ["bsl", "mental_health"]
    wrong = client.put(f"/provider/properties/{home.id}", json={**change, "accepts_needs": ["flying"]},
                       headers=headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["fields"][0]["path"].startswith("body.accepts_needs")
    assert client.put(f"/provider/properties/{other.id}", json=change, headers=headers).status_code == 404
    with transaction(demo_engine) as s:
        assert s.get(Property, home.id).excludes_risks == ["to_others:fire_setting"]


def provider_of_home(engine, property_id: str) -> str:
    with transaction(engine) as s:
        return s.get(Property, property_id).provider_id
