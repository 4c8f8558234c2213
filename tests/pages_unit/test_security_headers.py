"""Security headers on every page and answer (issue 13, item 5): no caching of case data, no
framing, no type sniffing, no Referer to other sites, and scripts only from placematch. Driven by
the route table, so a new page route is covered without being listed here."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from fastapi.routing import APIRoute

import api.pages
from models.enums import Role


def _page_paths() -> list[str]:
    modules = [importlib.import_module(f"api.pages.{m.name}") for m in pkgutil.iter_modules(api.pages.__path__)
               if m.name.endswith("_pages")]
    paths = {r.path for m in modules for r in m.router.routes if isinstance(r, APIRoute) and "GET" in r.methods}
    return sorted(re.sub(r"\{[a-z_]+\}", "1", p) for p in paths)


def assert_guarded(response, *, cached: bool = False) -> None:
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"  # no Referer to other sites (api.headers)
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]  # no inline script
    assert ("no-store" in headers.get("cache-control", "")) is not cached


@pytest.mark.parametrize("path", _page_paths())
def test_every_page_is_guarded_and_never_cached(sign_in_as, path):
    client = sign_in_as(Role.head_of_service)
    response = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
    assert response.status_code < 500, (path, response.status_code)
    assert_guarded(response)


def test_api_answers_errors_and_the_sign_in_page_are_guarded_too(sign_in_as, client):
    assert_guarded(client.get("/sign-in", headers={"accept": "text/html"}))  # not signed in
    assert_guarded(client.get("/referrals", headers={"accept": "application/json"}))  # 401
    signed_in = sign_in_as(Role.panel_member)
    assert_guarded(signed_in.get("/referrals", headers={"accept": "application/json"}))
    assert_guarded(signed_in.get("/no-such-thing", headers={"accept": "application/json"}))


def test_the_static_files_carry_no_case_data_and_may_be_cached(client):
    response = client.get("/static/placematch.css")
    assert response.status_code == 200
    assert_guarded(response, cached=True)


def test_a_councils_own_map_tile_server_is_the_one_other_image_source(monkeypatch):
    from api.headers import POLICY, content_security_policy

    monkeypatch.delenv("PLACEMATCH_MAP_TILES", raising=False)
    assert content_security_policy() == POLICY
    monkeypatch.setenv("PLACEMATCH_MAP_TILES", "https://tiles.example.gov.uk/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://tiles.example.gov.uk;" in content_security_policy()
    monkeypatch.setenv("PLACEMATCH_MAP_TILES", "http://elsewhere.example/{z}/{x}/{y}.png")  # not https: refused
    assert content_security_policy() == POLICY
