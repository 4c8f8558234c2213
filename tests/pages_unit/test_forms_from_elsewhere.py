"""The pages' forms, from elsewhere and as typed (issue 13, items 5 and 7):

* a change posted with the session cookie from another website's page is refused with 403 and a
  plain page ("This form came from another website, so it was not sent."), and nothing changes;
  the same form from placematch's own page goes through (api.origin_check). Where the request
  came from is read from Origin, else Sec-Fetch-Site, else Referer; with none of them it is let
  through only without the session cookie (a program, e.g. the command line);
* a control character in a form field is refused with a 422 page naming the field, while a reason
  written over several lines is saved; a panel date in 9999 is refused on the board, naming it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.datastructures import Headers

from api.origin_check import configured_origins, from_our_pages, parse_origin
from models.db import transaction
from models.enums import OfstedGrade, Role
from models.panel import MatchRun
from models.plans import ForecastScenario
from models.supply import Provider

from flash import done_of, problem_of

HERE = "http://testserver"
ELSEWHERE = "https://forms.example.org"
REFUSED = "This form came from another website, so it was not sent."
SCENARIO = {"name": "UASC doubled", "adjustments": "uasc_entries*2"}


def scenarios(engine) -> list[str]:
    with transaction(engine) as session:
        return list(session.scalars(select(ForecastScenario.name)))


def as_sent(client, headers: dict[str, str]) -> dict[str, str]:
    """Exactly these headers about where the form came from (the signed-in client sends its own
    page's Origin unless told otherwise)."""
    client.headers.pop("origin", None)
    return headers


# --- from elsewhere ----------------------------------------------------------------------------


@pytest.mark.parametrize("came_from", [
    {"origin": ELSEWHERE},
    {"origin": "http://testserver.example.org"},  # a look-alike name
    {"origin": "https://testserver"},  # placematch's name on another scheme is another origin
    {"origin": "null"},  # a sandboxed frame or a data: page
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},  # a sibling site of the same domain is not placematch
    {"referer": f"{ELSEWHERE}/council-form.html"},
    {},  # the session cookie, and nothing to say where the form came from
])
def test_a_form_posted_from_another_website_is_refused_and_nothing_saved(sign_in_as, demo_engine, came_from):
    client = sign_in_as(Role.commissioner)
    refused = client.post("/forecast-page/scenarios", data=SCENARIO, headers=as_sent(client, came_from),
                          follow_redirects=False)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("text/html") and REFUSED in refused.text
    assert refused.headers["x-frame-options"] == "DENY"  # a page like any other
    assert scenarios(demo_engine) == []


@pytest.mark.parametrize("came_from", [
    {"origin": HERE},
    {"origin": "http://testserver:80"},  # the default port written out
    {"origin": "null", "sec-fetch-site": "same-origin"},  # a page under Referrer-Policy: no-referrer
    {"sec-fetch-site": "same-origin"},
    {"referer": f"{HERE}/forecast-page"},
])
def test_the_same_form_from_placematchs_own_page_is_saved(sign_in_as, demo_engine, came_from):
    client = sign_in_as(Role.commissioner)
    saved = client.post("/forecast-page/scenarios", data=SCENARIO, headers=as_sent(client, came_from))
    assert saved.status_code == 200 and "Saved the scenario" in saved.text, saved.text
    assert scenarios(demo_engine) == ["UASC doubled"]


def test_signing_in_from_another_website_is_refused_and_a_program_may_sign_in(client):
    client.cookies.clear()
    form = {"username": "director", "password": "correct horse battery staple", "next": "/"}
    refused = client.post("/sign-in", data=form, headers={"origin": ELSEWHERE}, follow_redirects=False)
    assert refused.status_code == 403 and REFUSED in refused.text and "set-cookie" not in refused.headers
    program = client.post("/sign-in", data=form, follow_redirects=False)  # no Origin, no cookie: a program
    assert program.status_code == 303 and "placematch_session=" in program.headers["set-cookie"]


def test_signing_out_of_the_pages_from_another_website_is_refused(sign_in_as):
    client = sign_in_as(Role.director)
    refused = client.delete("/auth/session", headers={"origin": ELSEWHERE, "accept": "application/json"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_site"
    assert client.get("/", headers={"accept": "text/html"}).status_code == 200  # still signed in


def test_where_a_request_came_from_is_read_in_order_origin_then_fetch_site_then_referer():
    ours = {parse_origin(HERE)}
    assert from_our_pages(Headers({"origin": HERE, "sec-fetch-site": "cross-site"}), ours) is True
    assert from_our_pages(Headers({"origin": ELSEWHERE, "sec-fetch-site": "same-origin"}), ours) is False
    assert from_our_pages(Headers({"sec-fetch-site": "none"}), ours) is True  # the person's own doing
    assert from_our_pages(Headers({"origin": "null", "referer": f"{HERE}/"}), ours) is False
    assert from_our_pages(Headers({"referer": "not a url"}), ours) is False
    assert from_our_pages(Headers({}), ours) is None


def test_the_address_people_use_behind_a_proxy_can_be_configured():
    configured = configured_origins("https://placematch.example.gov.uk, https://placematch.example.gov.uk:8443")
    assert configured == {("https", "placematch.example.gov.uk", 443), ("https", "placematch.example.gov.uk", 8443)}
    proxied = Headers({"origin": "https://placematch.example.gov.uk", "host": "127.0.0.1:8000"})
    assert from_our_pages(proxied, configured) is True
    assert from_our_pages(proxied, {parse_origin("http://127.0.0.1:8000")}) is False


# --- as typed ----------------------------------------------------------------------------------


def test_a_nul_in_a_form_field_is_refused_with_a_page_naming_the_field(sign_in_as, demo_engine):
    client = sign_in_as(Role.commissioner)
    refused = client.post("/forecast-page/scenarios", data={**SCENARIO, "name": "UASC\x00doubled"},
                          follow_redirects=False)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html"), refused.text
    assert "The form was not sent" in refused.text and "<strong>Name</strong>" in refused.text
    assert "NUL" in refused.text and "UASC" not in refused.text  # the value is never repeated
    assert "Sign out" in refused.text  # a page like the others, still signed in
    assert scenarios(demo_engine) == []


def test_a_reason_over_several_lines_is_saved_from_the_form_and_a_control_character_refused(sign_in_as,
                                                                                           demo_engine):
    client = sign_in_as(Role.commissioner)
    with transaction(demo_engine) as session:
        provider = session.scalars(select(Provider).order_by(Provider.id)).first()
        provider_id, before = provider.id, provider.ofsted_grade
    new = OfstedGrade.inadequate if before != OfstedGrade.inadequate else OfstedGrade.good
    reason = "Inspection report published 20 November 2026.\r\nSafeguarding judged inadequate."
    refused = client.post(f"/providers/{provider_id}/grade", data={"grade": new.value, "reason": reason + "\x1b"},
                          follow_redirects=False)
    assert refused.status_code == 422 and "<strong>Reason</strong>" in refused.text and "U+001B" in refused.text
    saved = client.post(f"/providers/{provider_id}/grade", data={"grade": new.value, "reason": reason},
                        follow_redirects=False)
    assert saved.status_code == 303 and done_of(saved), saved.headers
    with transaction(demo_engine) as session:
        assert session.get(Provider, provider_id).ofsted_grade == new


def test_a_panel_date_in_9999_is_refused_on_the_board_naming_it(sign_in_as, demo_engine):
    client = sign_in_as(Role.panel_member)
    refused = client.post("/panel/runs", data={"panel_date": "9999-01-01"}, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/panel" and problem_of(refused)
    board = client.get(refused.headers["location"]).text
    assert "The run was not started" in board and "panel_date" in board and "01/01/1950 and 31/12/2099" in board
    with transaction(demo_engine) as session:
        assert session.scalar(select(func.count()).select_from(MatchRun)) == 0
