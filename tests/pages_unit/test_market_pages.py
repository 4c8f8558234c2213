"""The referral broadcast's pages: the panel sends a young person to the providers whose homes
could meet the rules and reads their answers; a provider's staff answer in the provider portal
(a mistyped offer is shown back with its error, nothing kept; another provider's referral is
"not found"); commissioners read the market-engagement table and its CSV. The market's clock
is held on the demo's day (providers.offers.today)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from demo_council import DEMO_DAY
from flash import done_of, problem_of
from sqlalchemy import select

from matching.broadcast import eligible_providers
from models.accounts import User
from models.db import transaction
from models.enums import ReferralStatus, Role
from models.market import ReferralRequest
from models.people import Referral
from models.supply import Property, Provider, Vacancy
from providers import offers
from providers.demo import DEMO_AUTHORITY


@pytest.fixture(autouse=True)
def demo_day(monkeypatch):
    monkeypatch.setattr(offers, "today", lambda: DEMO_DAY)


def staff_provider(engine) -> str:
    """The provider the demo's provider user works for (tests/api/signin.py)."""
    from providers.demo import DEMO_PROVIDER_STAFF_OF

    return DEMO_PROVIDER_STAFF_OF


def a_referral_for(engine, provider_id: str) -> str:
    """A young person waiting whose hard rules one of this provider's homes could meet."""
    with transaction(engine) as s:
        for referral in s.scalars(select(Referral).where(Referral.status == ReferralStatus.open).order_by(Referral.id)):
            if provider_id in {e.provider_id for e in eligible_providers(s, referral, DEMO_DAY, DEMO_AUTHORITY)}:
                return referral.id
    pytest.fail(f"no young person waiting could go to {provider_id}")


def sent_request(engine, referral_id: str, provider_id: str) -> int:
    with transaction(engine) as s:
        return s.scalar(select(ReferralRequest.id).where(ReferralRequest.referral_id == referral_id,
                                                         ReferralRequest.provider_id == provider_id))


def test_the_panel_sends_a_young_person_and_a_provider_answers_in_the_portal(client, sign_in_as, demo_engine):
    provider = staff_provider(demo_engine)
    referral_id = a_referral_for(demo_engine, provider)
    panel = sign_in_as(Role.panel_member)
    page = panel.get(f"/panel/referrals/{referral_id}/providers").text
    assert f'data-provider="{provider}"' in page and 'id="send"' in page
    sent = panel.post(f"/panel/referrals/{referral_id}/providers", follow_redirects=False)
    assert sent.status_code == 303 and done_of(sent).startswith("Sent to ")
    again = panel.post(f"/panel/referrals/{referral_id}/providers", follow_redirects=False)
    assert "Not sent" in problem_of(again)  # every eligible provider has it already
    request_id = sent_request(demo_engine, referral_id, provider)

    staff = sign_in_as(Role.provider)
    portal = staff.get("/provider-portal").text
    assert re.search(r"<title>([^<]*)</title>", portal).group(1).strip().startswith("Referrals for ")
    assert portal.count('id="homes"') == 1
    assert f'href="/provider-portal/requests/{request_id}"' in portal
    assert referral_id not in portal  # the council's reference is never shown to a provider
    form = staff.get(f"/provider-portal/requests/{request_id}").text
    assert 'id="offer"' in form and 'id="decline"' in form
    with transaction(demo_engine) as s:
        bed = s.scalars(select(Vacancy).join(Property).where(Property.provider_id == provider, Vacancy.beds > 0,
                                                             Vacancy.reserved_for_referral_id.is_(None))
                        .order_by(Vacancy.id)).first()
        tier = min((tp.tier for tp in s.get(Property, bed.property_id).prices
                    if tp.tier.covers(s.get(Referral, referral_id).tier)), key=lambda t: t.rank)

    # A price typed wrongly comes back with its error and what was typed; nothing is answered.
    wrong = staff.post(f"/provider-portal/requests/{request_id}/offer",
                       data={"vacancy_id": bed.id, "tier": tier.value, "weekly_price": "a lot", "start": str(DEMO_DAY)})
    assert wrong.status_code == 422
    assert "Enter the weekly price in pounds" in wrong.text and 'value="a lot"' in wrong.text
    with transaction(demo_engine) as s:
        assert s.get(ReferralRequest, request_id).status == "sent"

    declined = staff.post(f"/provider-portal/requests/{request_id}/decline", data={"reason": "price"},
                          follow_redirects=False)
    assert declined.status_code == 303 and "Declined" in done_of(declined)
    shown = panel_view(sign_in_as, referral_id)
    assert "declined" in shown.lower() and "price" in shown.lower()


def panel_view(sign_in_as, referral_id: str) -> str:
    return sign_in_as(Role.panel_member).get(f"/panel/referrals/{referral_id}/providers").text


def test_a_provider_reaches_only_its_own_portal(client, sign_in_as, demo_engine):
    provider = staff_provider(demo_engine)
    with transaction(demo_engine) as s:
        other = s.scalars(select(Provider.id).where(Provider.id != provider).order_by(Provider.id)).first()
        theirs = s.scalars(select(Vacancy.id).join(Property).where(Property.provider_id == other)).first()
        referral = s.scalars(select(Referral).where(Referral.status == ReferralStatus.open)).first()
        sender = s.scalars(select(User).where(User.role == Role.panel_member)).first()
        request_id = offers.send(s, referral, [other], sender)[0].id
    staff = sign_in_as(Role.provider)
    for path in (f"/provider-portal/requests/{request_id}", "/provider-portal/requests/999999"):
        got = staff.get(path)
        assert got.status_code == 404 and "not found" in got.text.lower(), path
    assert staff.post(f"/provider-portal/requests/{request_id}/decline", data={"reason": "price"}).status_code == 404
    assert staff.post(f"/provider-portal/vacancies/{theirs}",
                      data={"beds": "0", "available_from": str(DEMO_DAY)}).status_code == 404
    for path in ("/panel", "/providers", "/market-page", f"/panel/referrals/{referral.id}/providers"):
        assert staff.get(path, headers={"accept": "text/html"}).status_code == 403, path
    with transaction(demo_engine) as s:
        assert s.get(ReferralRequest, request_id).status == "sent"


def test_commissioners_read_the_market_engagement_page_and_csv(client, sign_in_as, demo_engine):
    provider = staff_provider(demo_engine)
    referral_id = a_referral_for(demo_engine, provider)
    sign_in_as(Role.panel_member).post(f"/panel/referrals/{referral_id}/providers")
    staff = sign_in_as(Role.provider)
    staff.post(f"/provider-portal/requests/{sent_request(demo_engine, referral_id, provider)}/decline",
               data={"reason": "resident_mix"})
    commissioner = sign_in_as(Role.commissioner)
    page = commissioner.get("/market-page")
    assert page.status_code == 200 and "would not suit the young people living there 1" in page.text.lower()
    sheet = commissioner.get("/market-page/engagement.csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    mine = next(r for r in rows if r["Reference"] == provider)
    assert (mine["Referrals sent"], mine["Declines"], mine["Offer rate"]) == ("1", "1", "0%")
    assert any(r["Grouped by"] == "Tier needed" for r in rows)
    assert sign_in_as(Role.panel_member).get("/market-page").status_code == 403


def test_a_provider_says_what_its_home_can_meet_from_the_portal(client, sign_in_as, demo_engine):
    provider = staff_provider(demo_engine)
    with transaction(demo_engine) as s:
        home = s.scalars(select(Property).where(Property.provider_id == provider).order_by(Property.id)).first()
        theirs = s.scalars(select(Property).where(Property.provider_id != provider).order_by(Property.id)).first()
        before = list(theirs.accepts_needs)
    staff = sign_in_as(Role.provider)
    assert f'id="home-{home.id}"' in staff.get("/provider-portal").text
    saved = staff.post(f"/provider-portal/homes/{home.id}", follow_redirects=False,
                       data={"accepts_needs": ["bsl", "mental_health"], "excludes_risks": ["to_others:fire_setting"]})
    assert saved.status_code == 303 and done_of(saved).startswith("Saved what")
    refused = staff.post(f"/provider-portal/homes/{home.id}", follow_redirects=False,
                         data={"accepts_needs": ["flying"]})
    assert "Not saved" in problem_of(refused) and "flying" in problem_of(refused)
    assert staff.post(f"/provider-portal/homes/{theirs.id}", data={"accepts_needs": ["bsl"]}).status_code == 404
    with transaction(demo_engine) as s:
        assert (s.get(Property, home.id).accepts_needs, s.get(Property, home.id).excludes_risks) == (
            ["bsl", "mental_health"], ["to_others:fire_setting"])
        assert s.get(Property, theirs.id).accepts_needs == before


def test_a_provider_keeps_a_floating_support_packages_hours_from_the_portal(client, sign_in_as, demo_engine):
    provider = staff_provider(demo_engine)
    with transaction(demo_engine) as s:
        vacancy = s.scalars(select(Vacancy).join(Property).where(Property.provider_id == provider)
                            .order_by(Vacancy.id)).first()
        s.get(Property, vacancy.property_id).service_type = "floating_support"
        vacancy.support_hours, vacancy_id = 30, vacancy.id
    staff = sign_in_as(Role.provider)
    page = staff.get("/provider-portal").text
    assert f'id="hours-{vacancy_id}"' in page and "Support hours a week free" in page
    saved = staff.post(f"/provider-portal/vacancies/{vacancy_id}",
                       data={"beds": "2", "available_from": str(DEMO_DAY), "support_hours": "24"},
                       follow_redirects=False)
    assert saved.status_code == 303 and ", 24 support hours a week free from" in done_of(saved)
    refused = staff.post(f"/provider-portal/vacancies/{vacancy_id}",
                         data={"beds": "2", "available_from": str(DEMO_DAY), "support_hours": ""})
    assert refused.status_code == 422
    assert "Enter the support hours a week free as a whole number, like 40" in refused.text
    with transaction(demo_engine) as s:
        assert s.get(Vacancy, vacancy_id).support_hours == 24  # the refused form changed nothing
