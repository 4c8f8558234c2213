"""The care co-operative's page: each member council's figures, counted, and the shared market's
beds, for the co-operative's staff only; no young person's id on it."""

from __future__ import annotations

import re

from models.enums import Role


def test_the_co_operatives_staff_see_the_councils_figures_and_no_young_person(sign_in_as):
    client = sign_in_as(Role.rcc_analyst)
    page = client.get("/region", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert 'data-council="E06000035"' in page.text and "Medway" in page.text
    assert "Free beds every member council may use" in page.text
    assert not re.search(r"\bR\d{4}\b", page.text)  # no referral id
    home = client.get("/", headers={"accept": "text/html"})
    assert 'href="/region"' in home.text and 'href="/panel"' not in home.text


def test_a_councils_own_staff_are_not_shown_the_regions_page(sign_in_as):
    client = sign_in_as(Role.head_of_service)
    assert client.get("/region", headers={"accept": "text/html"}).status_code == 403
