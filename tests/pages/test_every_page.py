"""Every page, for every role and in every error state, checked as people meet it:

* axe-core (shipped inside the ``axe-playwright-python`` package, injected from disk: nothing is
  fetched) finds no accessibility violation, at 1280 px and at 390 px;
* at 390 px (a phone) nothing scrolls sideways: ``scrollWidth <= clientWidth``;
* the words on the page (what a person reads, not the markup) hold no engine term (penalty,
  points, reward, objective) and no internal code: every code of models.glossary's tables and
  every value of the models' enums that is not a plain word (``former_relevant``,
  ``rules_broken``, ``to_others:sexual``);
* after signing out, the browser's Back button shows no case data.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from models import enums, glossary
from models.enums import Role

try:
    import axe_playwright_python
    AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
except ImportError:  # the browser fixture skips (under CI: fails) without playwright; axe comes with it
    AXE = None

from test_browser_flows import open_referrals, succeeded_run  # noqa: E402

ENGINE_WORDS = re.compile(r"\b(penalty|penalties|points|reward|objective)\b", re.I)


def _codes() -> set[str]:
    """Every code a person must never read: the glossary's keys and the enums' values that are
    not one plain word."""
    found = set()
    for table in vars(glossary).values():
        if isinstance(table, dict):
            found |= {str(k) for k in table if isinstance(k, str)}
    for value in vars(enums).values():
        if isinstance(value, type) and issubclass(value, enum.Enum):
            found |= {str(m.value) for m in value}
    return {c for c in found if "_" in c or ":" in c}


CODES = sorted(_codes(), key=len, reverse=True)
CODE_PATTERN = re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(c) for c in CODES) + r"|to_others:\w+)(?![\w/-])")


def check(page, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_load_state("networkidle")
    assert AXE is not None, "axe-playwright-python is not installed (pip install -e '.[dev]')"
    page.evaluate(AXE)
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.map(v => v.id + " (" + v.nodes.length + "): " + v.nodes[0].target.join(" "));
    }""")
    assert found == [], f"{name} at {width} px: axe found {found}"
    if width <= 400:
        wide = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], f"{name} scrolls sideways at {width} px: {wide[0]} > {wide[1]}"
    text = page.inner_text("body")
    assert not ENGINE_WORDS.search(text), f"{name}: an engine word: {ENGINE_WORDS.search(text).group(0)!r}"
    code = CODE_PATTERN.search(text)
    assert code is None, f"{name}: an internal code on the page: {code.group(0)!r} in " \
                         f"...{text[max(0, code.start() - 80):code.end() + 40]!r}"


def visit(page, path: str, name: str, status: int | tuple = 200) -> None:
    response = page.goto(path)
    wanted = status if isinstance(status, tuple) else (status,)
    assert response.status in wanted, f"{name} ({path}): {response.status}"
    for width in (1280, 390):
        check(page, name, width)


def send_without_reason(page, form: str, button: str, name: str, typed: str = "") -> None:
    """Send a decision form with too short a reason (the browser's own check turned off, as an
    older browser would) and check the page that says so."""
    reason = page.locator(f"{form} textarea[name=reason]")
    reason.evaluate("t => { t.form.noValidate = true; }")
    reason.fill(typed)
    with page.expect_navigation():
        page.locator(form).get_by_role("button", name=button).click()
    assert page.locator(".error-summary").is_visible()
    for width in (1280, 390):
        check(page, name, width)


@pytest.fixture(scope="module")
def cases(server):
    """A finished run, one of its proposals with alternatives, a young person it left without
    one, and a request waiting for the nominated officer."""
    run = succeeded_run(server)
    waiting = open_referrals(server)
    with server.api(Role.panel_member) as api:
        detail = api.get(f"/match-runs/{run['id']}").json()
        unplaced = api.get(f"/match-runs/{run['id']}/unplaced").json()["items"]
        proposals = [p for p in detail["proposals"] if p["referral_id"] in waiting]
        with_alt = next(p for p in proposals if any(a["referral_id"] == p["referral_id"]
                                                    for a in detail.get("alternatives", [])))
        alternative = next(a for a in detail["alternatives"] if a["referral_id"] == with_alt["referral_id"])
        needing = next(p for p in proposals if p["approvals_required"] and p["id"] != with_alt["id"])
        accepted = api.post(f"/match-runs/{run['id']}/proposals/{needing['id']}/accept",
                            json={"reason": "Accepted to check the managers' pages."})
        assert accepted.status_code == 201, accepted.text
        request = accepted.json()["approval_requests"][0]
    with server.api(Role.panel_member) as api:
        provider = api.get("/providers").json()["items"][0]["id"]
    return {"run": run["id"], "proposal": with_alt["id"], "alternative": alternative,
            "unplaced": unplaced[0]["referral_id"] if unplaced else None, "request": request,
            "referral": with_alt["referral_id"], "provider": provider}


def test_the_panel_members_pages(page, cases, sign_in):
    sign_in(page, Role.panel_member)
    run, proposal = cases["run"], cases["proposal"]
    visit(page, "/", "home")
    visit(page, "/panel", "panel board")
    visit(page, f"/panel/runs/{run}", "run")
    visit(page, f"/panel/runs/{run}?show=unplaced", "run: without a proposal")
    visit(page, f"/panel/runs/{run}/proposals/{proposal}", "proposal")
    alternative = cases["alternative"]
    visit(page, f"/panel/runs/{run}/proposals/{alternative['id']}", "another home")
    visit(page, f"/panel/runs/{run}/proposals/{proposal}/what-if?vacancy_id={alternative['vacancy_id']}",
          "what choosing it would do")
    if cases["unplaced"]:
        visit(page, f"/panel/runs/{run}/young-people/{cases['unplaced']}", "young person without a proposal")
    visit(page, f"/panel/runs/{run}/override?referral_id={cases['referral']}&vacancy_id={alternative['vacancy_id']}",
          "check the panel's choice")
    visit(page, "/providers", "providers")
    visit(page, f"/providers/{cases['provider']}", "a provider")
    # error states: not found, not for this role, a form sent without its reason
    visit(page, "/panel/runs/abc", "a run that cannot exist", 404)
    visit(page, "/panel/runs/999999", "a run not found", 404)
    visit(page, "/no-such-page", "no such page", 404)
    visit(page, "/audit", "not for this role", 403)
    page.goto(f"/panel/runs/{run}/proposals/{proposal}")
    send_without_reason(page, "form#reject", "Reject", "a decision without its reason", typed="no")


def test_the_managers_pages(page, cases, sign_in):
    request = cases["request"]
    sign_in(page, Role(request["role"]))
    visit(page, "/", "manager's home")
    visit(page, "/approvals", "approvals queue")
    visit(page, f"/approvals/{request['id']}", "approval request")
    visit(page, "/approvals/999999", "a request not found", 404)
    page.goto(f"/approvals/{request['id']}")
    send_without_reason(page, "form#approve", "Approve", "an approval without its reason")


def test_the_commissioners_pages(page, sign_in, upload_tender, tmp_path):
    from providers.demo.tender import write_demo_tender

    sign_in(page, Role.commissioner)
    visit(page, "/", "commissioner's home")
    visit(page, "/forecast-page", "forecast")
    visit(page, "/forecast-page?horizon=abc", "forecast with a bad horizon", 422)
    visit(page, "/tender-page", "tender scenarios")
    visit(page, "/tenders", "tenders")
    # The demo council's tender, uploaded: first with its bids missing (the error state), then whole.
    folder = write_demo_tender(tmp_path / "tender").parent
    upload_tender(page, folder, files=[("tender-file", "tender.yaml")])
    for width in (1280, 390):
        check(page, "tenders: a tender without its bids", width)
    upload_tender(page, folder)
    visit(page, urlsplit(page.url).path, "a tender ranked")


def test_the_referral_broadcast_pages(page, server, sign_in, shot):
    """The panel's "send to providers" page, the provider portal (a referral, an offer typed
    wrongly, another's referral not found) and the commissioners' market-engagement page."""
    from providers.demo import DEMO_PROVIDER_STAFF_OF

    sent_to_staff = None
    with server.api(Role.panel_member) as api:
        for referral_id in sorted(open_referrals(server)):
            sent = api.post(f"/referrals/{referral_id}/broadcast")
            assert sent.status_code in (201, 409), sent.text
            mine = [r for r in sent.json().get("all_sent", []) if r["provider_id"] == DEMO_PROVIDER_STAFF_OF]
            if mine:
                sent_to_staff = referral_id, mine[0]["request_id"]
                break
    assert sent_to_staff, f"no young person waiting could go to {DEMO_PROVIDER_STAFF_OF}"
    referral_id, request_id = sent_to_staff
    sign_in(page, Role.panel_member)
    visit(page, f"/panel/referrals/{referral_id}/providers", "a young person sent to providers")
    shot(page, "market-referral")

    sign_in(page, Role.provider)
    visit(page, "/provider-portal", "provider portal")
    shot(page, "provider-portal")
    visit(page, f"/provider-portal/requests/{request_id}", "a referral sent to a provider")
    shot(page, "provider-request")
    price = page.locator("form#offer #offer-price")
    price.evaluate("i => { i.form.noValidate = true; }")
    price.fill("a lot")
    with page.expect_navigation():
        page.locator("form#offer").get_by_role("button", name="Make the offer").click()
    assert page.locator(".error-summary").is_visible()
    for width in (1280, 390):
        check(page, "an offer typed wrongly", width)
    visit(page, "/provider-portal/requests/999999", "a referral not sent to this provider", 404)
    visit(page, "/panel", "the panel's board, not for a provider", 403)

    sign_in(page, Role.commissioner)
    visit(page, "/market-page", "market engagement")
    shot(page, "market-engagement")


def test_the_administrators_and_head_of_services_pages(page, sign_in):
    sign_in(page, Role.admin)
    visit(page, "/", "administrator's home")
    visit(page, "/audit", "audit log")
    visit(page, "/audit?action=Signed+in", "audit log searched")


def test_the_sign_in_page_and_its_error(page):
    visit(page, "/sign-in", "sign in")
    page.locator("#username").fill("nobody")
    page.locator("#password").fill("not the password")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    for width in (1280, 390):
        check(page, "a wrong password", width)


def test_back_after_signing_out_shows_no_case_data(page, cases, sign_in, sign_out):
    sign_in(page, Role.panel_member)
    page.goto(f"/panel/runs/{cases['run']}/proposals/{cases['proposal']}")
    assert cases["referral"] in page.inner_text("main")
    sign_out(page)
    page.go_back()
    page.wait_for_load_state()
    assert "/sign-in" in page.url
    assert cases["referral"] not in page.inner_text("body")
