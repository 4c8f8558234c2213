"""The managers' pages (approvals), the providers' pages (grades) and the audit log, through
FastAPI's TestClient: each rule in pairs, who may and who may not, and what changed (or not).

The council: the demo database, one user per role, a match run, and every first-choice
proposal that needs approval accepted by the panel, so the managers' queues are full.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.routes import grades
from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models.accounts import AuditEvent
from models.db import make_engine, transaction
from models.enums import ApprovalStatus, OfstedGrade, PlacementStatus, ReferralStatus, Role
from models.panel import ApprovalRequest
from models.people import Placement
from models.supply import Property, Provider, Vacancy
from providers.demo import DEMO_AUTHORITY

_API_TESTS = str(Path(__file__).resolve().parents[1] / "api")
if _API_TESTS not in sys.path:
    sys.path.append(_API_TESTS)
from demo_council import DEMO_DAY, demo_database  # noqa: E402
from signin import PASSWORD, sign_in, username  # noqa: E402
from flash import done_of, problem_of  # noqa: E402

# As a browser asks for a page, and posts a form from placematch's own page (api.origin_check).
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "origin": "http://testserver"}


@pytest.fixture(scope="module")
def council_file(tmp_path_factory):
    path = demo_database(tmp_path_factory.mktemp("managers") / "placematch.db")
    engine = make_engine(f"sqlite:///{path}")
    outcome = run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                        policy=Policy(), approvals=ApprovalPolicy())
    with TestClient(create_app(engine)) as api:
        headers = sign_in(api, Role.panel_member)  # not a manager: who accepts may not approve it too
        run = api.get(f"/match-runs/{outcome.run_id}", headers=headers).json()
        for proposal in run["proposals"]:
            if proposal["rank"] == 0 and proposal["approvals_required"]:
                accepted = api.post(f"/match-runs/{outcome.run_id}/proposals/{proposal['id']}/accept",
                                    json={"reason": "Closest home with the right support"}, headers=headers)
                assert accepted.status_code == 201, accepted.text
    engine.dispose()
    return path


@pytest.fixture
def app(council_file, tmp_path):
    path = tmp_path / "placematch.db"
    shutil.copy(council_file, path)
    engine = make_engine(f"sqlite:///{path}")
    application = create_app(engine)
    application.dependency_overrides[grades.today] = lambda: DEMO_DAY
    with TestClient(application):  # runs the app's start-up, as a server does
        yield application
    engine.dispose()


def browser(app, role: Role | None = None) -> TestClient:
    """A client that asks for pages as a browser does, signed in through the sign-in page."""
    client = TestClient(app, headers=BROWSER, follow_redirects=False)
    if role is not None:
        signed_in = client.post("/sign-in", data={"username": username(role), "password": PASSWORD, "next": "/"})
        assert signed_in.status_code == 303, signed_in.text
    return client


def db(app):
    return transaction(app.state.engine)


def table(html: str, table_id: str) -> str:
    match = re.search(rf'<table id="{table_id}".*?</table>', html, re.S)
    assert match, f"no table#{table_id}"
    return match.group(0)


def audit_count(app) -> int:
    with db(app) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent))


def requests_by_placement(app) -> dict[int, list[tuple[int, Role]]]:
    with db(app) as session:
        rows = session.execute(select(ApprovalRequest.placement_id, ApprovalRequest.id, ApprovalRequest.role)
                               .order_by(ApprovalRequest.id)).all()
    found: dict[int, list[tuple[int, Role]]] = {}
    for placement_id, request_id, role in rows:
        found.setdefault(placement_id, []).append((request_id, role))
    return found


def only_request(app, role: Role) -> tuple[int, int]:
    """(request, placement) of a placement whose one approval is for this role."""
    return next((reqs[0][0], p) for p, reqs in requests_by_placement(app).items()
                if len(reqs) == 1 and reqs[0][1] == role)


def two_roles(app) -> tuple[int, int, int]:
    """(service manager's request, head of service's request, placement) of one placement."""
    for placement, reqs in requests_by_placement(app).items():
        roles = {role: rid for rid, role in reqs}
        if len(reqs) == 2 and set(roles) == {Role.service_manager, Role.head_of_service}:
            return roles[Role.service_manager], roles[Role.head_of_service], placement
    raise AssertionError("the demo has no placement needing a service manager and a head of service")


def version_in(html: str, form_id: str) -> str:
    form = re.search(rf'<form id="{form_id}".*?</form>', html, re.S).group(0)
    return re.search(r'name="version" value="(\d+)"', form).group(1)


def follow(client: TestClient, response) -> str:
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


# --- signed out, and the API on the same paths ---------------------------------------------------


@pytest.mark.parametrize("path", ["/approvals", "/approvals/1", "/providers", "/providers/anything", "/audit"])
def test_signed_out_pages_send_you_to_sign_in(app, path):
    answer = browser(app).get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=")


def test_api_clients_on_the_same_paths_still_get_json_and_browsers_get_pages(app):
    api = TestClient(app)
    headers = sign_in(api, Role.service_manager)
    for path in ("/approvals", "/approvals/1", "/providers"):
        answer = api.get(path, headers=headers)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json", path
        assert api.get(path).status_code == 401  # and the API's own sign-in rule, in JSON
    page = browser(app, Role.service_manager)
    for path in ("/approvals", "/approvals/1", "/providers"):
        answer = page.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), path
    request_id, _ = only_request(app, Role.service_manager)
    refused = api.post(f"/approvals/{request_id}/approve", json={"reason": "x"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_input"  # the API's JSON rules


# --- the queue -----------------------------------------------------------------------------------


def test_a_manager_sees_the_requests_for_their_role_only(app):
    sm_request, hos_request, placement = two_roles(app)
    queue = table(browser(app, Role.service_manager).get("/approvals").text, "queue")
    assert f'data-request="{sm_request}" data-placement="{placement}"' in queue
    assert f'data-request="{hos_request}"' not in queue
    assert f'href="/approvals/{sm_request}"' in queue

    queue = table(browser(app, Role.head_of_service).get("/approvals").text, "queue")
    assert f'data-request="{hos_request}"' in queue and f'data-request="{sm_request}"' not in queue


@pytest.mark.parametrize("role", [Role.panel_member, Role.commissioner, Role.admin])
def test_the_queue_is_refused_to_anyone_who_does_not_approve(app, role):
    answer = browser(app, role).get("/approvals")
    assert answer.status_code == 403
    assert "not for your role" in answer.text and 'id="queue"' not in answer.text


# --- deciding ------------------------------------------------------------------------------------


def test_the_right_manager_approves_the_last_request_and_the_placement_becomes_active(app):
    request_id, placement_id = only_request(app, Role.service_manager)
    manager = browser(app, Role.service_manager)
    case = manager.get(f"/approvals/{request_id}").text
    assert '<dl id="case" class="summary-list">' in case and "miles" in case
    assert re.search(r'<strong id="placement-status"[^>]*>awaiting approval</strong>', case)
    assert f'<form id="approve" method="post" action="/approvals/{request_id}/approve"' in case
    assert re.search(r'id="price-standing">(<strong>)?£[\d,]+ a week is (above|within|below) the usual range', case)
    assert f'<form id="reject" method="post" action="/approvals/{request_id}/reject"' in case

    answer = manager.post(f"/approvals/{request_id}/approve",
                          data={"reason": "Near family and college; the home suits them", "version": version_in(case, "approve")})
    assert answer.headers["location"] == f"/approvals/{request_id}"
    done = done_of(answer)
    assert "now active" in done
    page = follow(manager, answer)
    assert re.search(r'<strong id="placement-status"[^>]*>active</strong>', page)
    assert 'id="approve"' not in page  # decided: nothing left to decide
    with db(app) as session:
        assert session.get(Placement, placement_id).status == PlacementStatus.active
        request = session.get(ApprovalRequest, request_id)
        assert request.status == ApprovalStatus.approved and request.reason.startswith("Near family")
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "approval_approved",
                                                       AuditEvent.entity_id == str(request_id))) is not None
    history = re.search(r'<section id="history".*?</section>', manager.get("/approvals").text, re.S).group(0)
    assert f'data-request="{request_id}"' in history and "Near family and college" in history


def test_approving_one_of_two_says_what_remains_and_the_placement_keeps_waiting(app):
    sm_request, _, placement_id = two_roles(app)
    manager = browser(app, Role.service_manager)
    version = version_in(manager.get(f"/approvals/{sm_request}").text, "approve")
    answer = manager.post(f"/approvals/{sm_request}/approve", data={"reason": "Agreed: close to home", "version": version})
    assert "1 more approval" in done_of(answer)
    with db(app) as session:
        assert session.get(Placement, placement_id).status == PlacementStatus.awaiting_approval


def test_a_manager_of_another_role_reads_the_case_without_forms_and_cannot_decide(app):
    sm_request, _, placement_id = two_roles(app)
    head, panel = browser(app, Role.head_of_service), browser(app, Role.panel_member)
    case = head.get(f"/approvals/{sm_request}")
    assert case.status_code == 200 and 'id="case"' in case.text
    assert 'id="approve"' not in case.text and 'id="reject"' not in case.text
    assert "Only the service manager (nominated officer) can approve or reject" in case.text
    events = audit_count(app)

    answer = head.post(f"/approvals/{sm_request}/approve", data={"reason": "I approve it anyway", "version": "1"})
    assert answer.status_code == 403 and "not for your role" in answer.text
    assert panel.post(  # not a manager at all: refused before the workflow
        f"/approvals/{sm_request}/reject", data={"reason": "The panel says no", "version": "1"}).status_code == 403
    with db(app) as session:
        request = session.get(ApprovalRequest, sm_request)
        assert (request.status, request.version, request.reason) == (ApprovalStatus.pending, 1, None)
        assert session.get(Placement, placement_id).status == PlacementStatus.awaiting_approval
    assert audit_count(app) == events


def test_the_panel_may_read_a_case_as_the_api_lets_it_but_never_a_queue(app):
    sm_request, _, _ = two_roles(app)
    panel = browser(app, Role.panel_member)
    case = panel.get(f"/approvals/{sm_request}")
    assert case.status_code == 200 and 'id="approve"' not in case.text
    assert browser(app, Role.commissioner).get(f"/approvals/{sm_request}").status_code == 403


def test_a_rejection_sends_the_placement_back_to_the_panel(app):
    sm_request, hos_request, placement_id = two_roles(app)
    with db(app) as session:
        vacancy_id = session.get(Placement, placement_id).vacancy_id
        beds = session.get(Vacancy, vacancy_id).beds
    head = browser(app, Role.head_of_service)
    version = version_in(head.get(f"/approvals/{hos_request}").text, "reject")
    answer = head.post(f"/approvals/{hos_request}/reject",
                       data={"reason": "Unregistered settings are not for a 17 year old", "version": version})
    assert "went back to the panel" in done_of(answer)
    page = follow(head, answer)
    assert re.search(r'<strong id="placement-status"[^>]*>returned to panel</strong>', page)
    with db(app) as session:
        placement = session.get(Placement, placement_id)
        assert placement.status == PlacementStatus.rejected
        assert placement.referral.status == ReferralStatus.open
        assert session.get(Vacancy, vacancy_id).beds == beds + 1
        assert session.get(ApprovalRequest, sm_request).status == ApprovalStatus.rejected  # closed with it
    # The service manager's request was closed: its page now has nothing to decide.
    closed = browser(app, Role.service_manager).get(f"/approvals/{sm_request}").text
    assert 'id="approve"' not in closed and "Closed without a decision" in closed


def test_a_stale_form_changes_nothing_and_says_someone_else_decided_first(app):
    request_id, placement_id = only_request(app, Role.service_manager)
    manager = browser(app, Role.service_manager)
    stale_version = version_in(manager.get(f"/approvals/{request_id}").text, "reject")
    # Meanwhile another service manager approves it through the API.
    api = TestClient(app)
    approved = api.post(f"/approvals/{request_id}/approve", headers=sign_in(api, Role.service_manager),
                        json={"reason": "Approved by a colleague first", "version": int(stale_version)})
    assert approved.status_code == 200, approved.text
    events = audit_count(app)

    answer = manager.post(f"/approvals/{request_id}/reject", data={"reason": "Too far", "version": stale_version})
    problem = problem_of(answer)
    assert "Someone else decided" in problem and "nothing was changed" in problem
    assert "Someone else decided" in follow(manager, answer)
    with db(app) as session:
        request = session.get(ApprovalRequest, request_id)
        assert (request.status, request.reason) == (ApprovalStatus.approved, "Approved by a colleague first")
        assert session.get(Placement, placement_id).status == PlacementStatus.active
    assert audit_count(app) == events


def test_a_decision_needs_a_reason(app):
    request_id, _ = only_request(app, Role.service_manager)
    manager = browser(app, Role.service_manager)
    answer = manager.post(f"/approvals/{request_id}/approve", data={"reason": "ok", "version": "1"})
    # The case drawn again: the summary linking to the field, the message beside it, what was typed kept
    assert answer.status_code == 422
    assert '<a href="#approve-reason">Give your reason for approving' in answer.text
    assert '<p class="field-error" id="approve-reason-error">' in answer.text
    assert re.search(r'<textarea id="approve-reason"[^>]*aria-invalid="true"[^>]*>ok</textarea>', answer.text)
    with db(app) as session:
        assert session.get(ApprovalRequest, request_id).status == ApprovalStatus.pending


def test_an_unknown_request_is_a_not_found_page(app):
    answer = browser(app, Role.director).get("/approvals/999999")
    assert answer.status_code == 404 and "not found" in answer.text


# --- providers and grades ------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.panel_member, Role.commissioner, Role.director])
def test_supply_readers_see_frameworks_and_providers(app, role):
    page = browser(app, role).get("/providers")
    assert page.status_code == 200
    frameworks = table(page.text, "frameworks")
    assert "DPS" in frameworks and "£" in frameworks
    providers = table(page.text, "providers")
    with db(app) as session:
        some = session.scalars(select(Provider.id).order_by(Provider.id)).all()
    for provider_id in some:
        assert f'<tr data-provider="{provider_id}">' in providers and f'href="/providers/{provider_id}"' in providers


def test_the_admin_is_not_a_supply_reader(app):
    assert browser(app, Role.admin).get("/providers").status_code == 403


def _provider_with_live_placements(app) -> tuple[str, list[tuple[int, str]]]:
    """A provider with placements awaiting approval, and those (placement, young person)."""
    with db(app) as session:
        rows = session.execute(
            select(Property.provider_id, Placement.id, Placement.referral_id).join(Placement.property)
            .where(Placement.status == PlacementStatus.awaiting_approval).order_by(Placement.id)).all()
    provider_id = rows[0][0]
    return provider_id, [(pid, rid) for prov, pid, rid in rows if prov == provider_id]


def test_a_commissioner_records_a_grade_change_and_sees_who_must_be_reviewed(app):
    provider_id, waiting = _provider_with_live_placements(app)
    commissioner = browser(app, Role.commissioner)
    page = commissioner.get(f"/providers/{provider_id}").text
    assert 'id="properties"' in page and '<ul id="review">' not in page
    assert f'<form id="grade-change" method="post" action="/providers/{provider_id}/grade"' in page
    with db(app) as session:
        before = session.get(Provider, provider_id).ofsted_grade
    new = OfstedGrade.inadequate if before != OfstedGrade.inadequate else OfstedGrade.good

    answer = commissioner.post(f"/providers/{provider_id}/grade",
                               data={"grade": new.value, "reason": "Inspection report published 20 November 2026"})
    assert answer.headers["location"] == f"/providers/{provider_id}" and done_of(answer)
    page = follow(commissioner, answer)
    review = re.search(r'<ul id="review">.*?</ul>', page, re.S).group(0)
    for placement_id, referral_id in waiting:
        assert f'data-placement="{placement_id}"' in review and referral_id in review
    assert (DEMO_DAY + dt.timedelta(days=7)).strftime("%d %B %Y") in review
    with db(app) as session:
        assert session.get(Provider, provider_id).ofsted_grade == new
        for placement_id, _ in waiting:
            assert session.get(Placement, placement_id).review_due_on == DEMO_DAY + dt.timedelta(days=7)
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "ofsted_grade_changed",
                                                       AuditEvent.entity_id == provider_id)) is not None
    # The reviews show where the panel looks: its board (with the due date) and the home page
    # of the panel and the head of service; a commissioner's home does not list them.
    due = DEMO_DAY + dt.timedelta(days=7)
    board = browser(app, Role.panel_member).get("/panel").text
    reviews = re.search(r'<section id="reviews".*?</section>', board, re.S).group(0)
    for placement_id, referral_id in waiting:
        assert f'<tr data-placement="{placement_id}">' in reviews and referral_id in reviews
    assert f"{due.day} {due:%B %Y}" in reviews
    for role in (Role.panel_member, Role.head_of_service):
        home = browser(app, role).get("/").text
        assert 'href="/panel#reviews">Placements to review</a>' in home and f"{due.day} {due:%B %Y}" in home
    assert "Placements to review" not in browser(app, Role.commissioner).get("/").text


def test_the_same_grade_again_is_refused_with_a_problem(app):
    provider_id, _ = _provider_with_live_placements(app)
    with db(app) as session:
        grade = session.get(Provider, provider_id).ofsted_grade
    answer = browser(app, Role.head_of_service).post(
        f"/providers/{provider_id}/grade", data={"grade": grade.value if grade else "none", "reason": "Again"})
    assert "already graded" in problem_of(answer)


def test_a_panel_member_gets_no_grade_form_and_cannot_post_one(app):
    provider_id, waiting = _provider_with_live_placements(app)
    panel = browser(app, Role.panel_member)
    page = panel.get(f"/providers/{provider_id}")
    assert page.status_code == 200 and 'id="grade-change"' not in page.text
    with db(app) as session:
        before = session.get(Provider, provider_id).ofsted_grade
    events = audit_count(app)
    answer = panel.post(f"/providers/{provider_id}/grade", data={"grade": "inadequate", "reason": "Heard on the grapevine"})
    assert answer.status_code == 403
    with db(app) as session:
        assert session.get(Provider, provider_id).ofsted_grade == before
        assert session.get(Placement, waiting[0][0]).review_due_on is None
    assert audit_count(app) == events


# --- the audit log -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.head_of_service, Role.admin])
def test_auditors_read_the_log_newest_first_in_pages_of_50(app, role):
    client = browser(app, role)
    page = client.get("/audit").text
    ids = [int(i) for i in re.findall(r'data-event="(\d+)"', table(page, "audit"))]
    with db(app) as session:
        newest = session.scalar(select(func.max(AuditEvent.id)))
    assert len(ids) == 50 and ids[0] == newest and ids == sorted(ids, reverse=True)
    assert 'href="/audit/export.csv"' in page
    following = re.search(r'id="next-page" rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    second = [int(i) for i in re.findall(r'data-event="(\d+)"', table(client.get(following).text, "audit"))]
    assert second[0] == ids[-1] - 1


def test_the_audit_filters_and_the_export_use_the_same_query(app):
    client = browser(app, Role.admin)
    page = client.get("/audit", params={"action": "approval_approved"}).text
    assert 'id="audit-empty"' in page  # nothing approved yet
    page = client.get("/audit", params={"action": "placement_created", "since": "2000-01-01"}).text
    rows = table(page, "audit")
    assert rows.count("<tr data-event=") > 0 and "sign in" not in rows
    export = re.search(r'id="export" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "action=placement_created" in export and "since=2000-01-01" in export
    csv = client.get(export, headers={"accept": "text/csv"})  # the API's export, through the page's route
    assert csv.status_code == 200
    lines = csv.text.strip().splitlines()[1:]
    assert len(lines) == rows.count("<tr data-event=") and all(",placement_created," in line for line in lines)


@pytest.mark.parametrize("day", ["9999-12-31", "1949-12-31", "2026-02-30"])
def test_an_implausible_audit_date_is_ignored_and_said_while_a_sensible_one_filters(app, day):
    client = browser(app, Role.admin)
    page = client.get("/audit", params={"until": day})
    assert page.status_code == 200
    assert "To is not a date between 01/01/1950 and 31/12/2099" in page.text
    assert table(page.text, "audit").count("<tr data-event=") == 50  # the filter was left out
    before = client.get("/audit", params={"until": "2000-01-01"})
    assert before.status_code == 200 and 'id="audit-empty"' in before.text and "is not a date" not in before.text


def test_audit_dates_are_days_in_england_as_the_times_shown(app):
    # Half past midnight on 1 July in London is 23:30 on 30 June in UTC: searched by the day
    # the page shows it on, it is found; by the UTC day, it is not.
    with db(app) as session:
        session.add(AuditEvent(at=dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC), actor="system",
                               action="summer_midnight", entity_type="test", entity_id="1"))
    client = browser(app, Role.admin)

    def found(since: str, until: str) -> bool:
        page = client.get("/audit", params={"action": "summer_midnight", "since": since, "until": until}).text
        return 'id="audit-empty"' not in page and "<tr data-event=" in table(page, "audit")

    assert found("2026-07-01", "2026-07-01") and "1 July 2026, 12:30am" in client.get(
        "/audit", params={"action": "summer_midnight"}).text
    assert not found("2026-06-30", "2026-06-30")


def test_a_control_character_in_a_filter_gets_a_page_naming_it(app):
    page = browser(app, Role.admin).get("/audit", params={"action": "sign\nin"})
    assert page.status_code == 422 and 'id="refused-fields"' in page.text and "Action" in page.text


@pytest.mark.parametrize("role", [Role.panel_member, Role.service_manager, Role.commissioner])
def test_the_audit_log_is_refused_to_others(app, role):
    answer = browser(app, role).get("/audit")
    assert answer.status_code == 403 and 'id="audit"' not in answer.text


def test_the_queue_puts_broken_rules_then_overdue_then_under_18s_at_a_distance_first():
    """The order a manager works in, each reason said in words: a request for a placement that
    breaks a hard rule, then one overdue (due to start before today), then an under-18 placed
    at a distance, then the longest waiting."""
    from types import SimpleNamespace

    from api.pages.approvals_pages import Row, _flags
    from models.enums import ApprovalRule

    today = dt.date(2026, 12, 2)
    made = dt.datetime(2026, 11, 20, 9, 0)

    def row(name, rules, starts_on, age, created):
        referral = SimpleNamespace(age_on=lambda day, age=age: age)
        placement = SimpleNamespace(starts_on=starts_on)
        request = SimpleNamespace(created_at=created, id=len(name))
        flags = _flags(request, placement, referral, rules, today)
        return name, flags, Row(request=request, placement=placement, prop=None, authority="", rule="", role="",
                                miles_from_home=0.0, status=("pending", "yellow"), decided_by=None, flags=flags)

    later = dt.date(2026, 12, 20)
    rows = [
        row("waiting longest", [ApprovalRule.out_of_area], later, 19, made),
        row("under 18 at a distance", [ApprovalRule.at_a_distance], later, 17, made + dt.timedelta(days=5)),
        row("overdue", [ApprovalRule.cost_ceiling], dt.date(2026, 12, 1), 20, made + dt.timedelta(days=6)),
        row("breaks a rule", [ApprovalRule.rules_broken, ApprovalRule.out_of_area], later, 20,
            made + dt.timedelta(days=7)),
        row("waiting less", [ApprovalRule.out_of_area], later, 19, made + dt.timedelta(days=1)),
    ]
    ordered = [name for name, _, r in sorted(rows, key=lambda x: x[2].priority)]
    assert ordered == ["breaks a rule", "overdue", "under 18 at a distance", "waiting longest", "waiting less"]
    said = {name: [text for text, _ in flags] for name, flags, _ in rows}
    assert said["breaks a rule"] == ["Breaks a hard rule"]
    assert said["overdue"] == ["Overdue: due to start 1 December 2026"]
    assert said["under 18 at a distance"] == ["Under 18, at a distance"]
    assert said["waiting longest"] == [] and said["waiting less"] == []
    # an 18-year-old at a distance is not flagged as an under-18; a placement starting today is due today
    assert _flags(SimpleNamespace(), SimpleNamespace(starts_on=today), SimpleNamespace(age_on=lambda d: 18),
                  [ApprovalRule.at_a_distance], today) == [("Due today: the placement starts today", "red")]
