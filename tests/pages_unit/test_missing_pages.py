"""Missing resources on the pages: an unknown id, an id no record can have and an address no
page serves give the 404 page (HTML, with the signed-in user's navigation), never JSON or a 500;
a form posted for a record that does not exist says so, never a 500. Driven by the route table,
so a new page route with an id in its path is covered without being listed here."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from fastapi.routing import APIRoute
from signin import sign_in

import api.pages
from models.enums import Role

UNKNOWN_IDS = ["999999", "abc", "99999999999999999999", "0"]


def _page_routes(method: str) -> list[str]:
    """The paths with an id of every page module's router (as api.pages.install includes them)."""
    modules = [importlib.import_module(f"api.pages.{m.name}") for m in pkgutil.iter_modules(api.pages.__path__)
               if m.name.endswith("_pages")]
    return sorted({r.path for m in modules for r in m.router.routes
                   if isinstance(r, APIRoute) and method in r.methods and "{" in r.path})


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{action\}", "accept", re.sub(r"\{(?!action)[a-z_]+\}", value, path))


def _role_for(path: str) -> Role:
    """Who may use the page: a provider's staff their portal, the head of service the rest."""
    return Role.provider if path.startswith("/provider-portal") else Role.head_of_service


@pytest.mark.parametrize("path", _page_routes("GET"))
@pytest.mark.parametrize("value", UNKNOWN_IDS)
def test_an_unknown_id_on_a_page_gives_the_404_page(sign_in_as, path, value):
    client = sign_in_as(_role_for(path))
    response = client.get(_fill(path, value), headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 404, (path, value, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert "not found" in response.text.lower() and "Sign out" in response.text  # the page, still signed in


@pytest.mark.parametrize("path", _page_routes("POST"))
def test_a_form_for_an_unknown_record_is_never_a_server_error(sign_in_as, path):
    client = sign_in_as(_role_for(path))
    for value in UNKNOWN_IDS:
        response = client.post(_fill(path, value), follow_redirects=False,
                               data={"reason": "The panel agreed this after discussion.", "version": "1",
                                     "referral_id": "R404", "vacancy_id": "V404", "grade": "good"})
        assert response.status_code in (303, 404), (path, value, response.status_code, response.text[:300])


def test_an_address_no_page_serves_gives_the_404_page_to_a_browser_and_json_to_the_api(sign_in_as):
    client = sign_in_as(Role.panel_member)
    page = client.get("/panel/runs/1/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = client.get("/no-such-thing", headers={"accept": "application/json"})
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    bearer = sign_in(client, Role.panel_member)  # tests/api/signin.py: the API takes a bearer token only
    assert client.get("/match-runs/abc", headers={"accept": "application/json", **bearer}).status_code == 422
