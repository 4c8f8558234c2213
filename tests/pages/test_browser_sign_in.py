"""Signing in and out of the pages in a real browser, each role's home page, the page that
refuses a role, and the sign-in form by keyboard alone. Every test also checks (the ``page``
fixture) that the pages asked for nothing outside the test server."""

from __future__ import annotations

import re

import httpx
import pytest
try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips these tests (under CI: fails them) and says why
    expect = None

from api.deps import SESSION_COOKIE
from api.pages.core import ROLE_NAMES
from models.enums import Role


def session_cookies(page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]


def path_of(page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_signs_in_to_its_home_page(page, role, sign_in, shot):
    sign_in(page, role)
    assert path_of(page) == "/"
    expect(page.locator("h1")).to_have_text(ROLE_NAMES[role])
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    cookie = session_cookies(page)
    assert len(cookie) == 1 and cookie[0]["httpOnly"] and cookie[0]["sameSite"] == "Strict"
    shot(page, f"home-{role.value}")


def test_a_wrong_password_shows_an_error_and_sets_no_cookie(page, sign_in, shot):
    page.goto("/sign-in")
    shot(page, "sign-in")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/sign-in")) as answer:
        sign_in(page, Role.director, password="not the password")
    assert answer.value.status == 401
    expect(page.locator("#sign-in-error")).to_be_visible()
    expect(page.locator("#sign-in-error")).to_contain_text("Wrong username or password")
    expect(page.locator("#username")).to_have_value("director")  # kept, so only the password is typed again
    expect(page.locator("#password")).to_have_value("")
    assert session_cookies(page) == []
    shot(page, "sign-in-wrong-password")


def test_signing_out_returns_to_sign_in_and_the_home_page_asks_again(page, sign_in, sign_out, shot):
    sign_in(page, Role.head_of_service)
    sign_out(page)
    assert path_of(page).startswith("/sign-in")
    expect(page.locator("h1")).to_have_text("Sign in")
    assert session_cookies(page) == []
    page.goto("/")
    assert path_of(page) == "/sign-in?next=%2F"
    expect(page.locator("#username")).to_be_visible()
    shot(page, "signed-out")


def test_sign_in_goes_back_to_the_page_asked_for_and_never_off_site(page, sign_in):
    page.goto("/")
    assert path_of(page) == "/sign-in?next=%2F"
    page.locator("#username").fill("admin")
    page.locator("#password").fill(_password())
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert path_of(page) == "/"
    page.context.clear_cookies()
    sign_in(page, Role.admin, next="//elsewhere.example/steal")
    assert path_of(page) == "/"  # an off-site next is ignored


def test_the_page_after_signing_in_already_knows_the_user(server):
    """Post/Redirect/Get: a browser asks for the next page as soon as it has the redirect, so
    the sign-in must be committed before the redirect is sent. Twenty-five tries, each signing in
    and at once following the redirect, as fast as a client can (no browser needed)."""
    late = 0
    for _ in range(25):
        with httpx.Client(base_url=server.base) as client:
            signed = client.post("/sign-in", data={"username": "director", "password": _password(), "next": "/"})
            assert signed.status_code == 303
            late += client.get("/").status_code != 200
    assert late == 0, (f"{late} of 25 times the page right after signing in did not know the user yet: "
                       "the session's transaction is committed after the answer is sent")


def test_a_panel_member_opening_the_audit_log_sees_the_refusal_page(page, sign_in, shot):
    sign_in(page, Role.panel_member)
    response = page.goto("/audit")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("This page is not for your role")
    expect(page.locator("main")).to_contain_text("Administrator")  # who may see it
    expect(page.locator("table#audit")).to_have_count(0)
    shot(page, "forbidden-audit-panel-member")


def test_the_sign_in_form_works_with_the_keyboard_alone(page):
    page.goto("/sign-in")
    for _ in range(12):  # Tab from the top of the page until the username field has focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "username":
            break
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type("commissioner")
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(_password())
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(ROLE_NAMES[Role.commissioner])


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(page):
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_page_in_the_navigation_loads_without_errors(page, role, server, sign_in, shot):
    """Each link of the role's navigation opens a page (200, with a heading) whose own files
    (stylesheet, script) all load; nothing outside the test server is asked for (the fixture)."""
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    sign_in(page, role)
    links = page.locator("nav a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert "/" in links
    for path in links:
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        expect(page.locator("h1")).to_have_count(1)
        expect(page.locator("h1")).not_to_be_empty()
        page.wait_for_load_state("load")
        stylesheet_applied = page.evaluate(
            "getComputedStyle(document.querySelector('.site-header')).backgroundColor")
        assert stylesheet_applied not in ("", "rgba(0, 0, 0, 0)"), f"{path}: placematch.css not applied"
        name = path.strip("/").replace("/", "-") or "home"
        shot(page, f"nav-{role.value}-{name}")
    assert not failed, f"responses with errors: {failed}"


def _password() -> str:
    from signin import PASSWORD

    return PASSWORD
