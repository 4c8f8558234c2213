"""The service fuzzed from its own OpenAPI schema (schemathesis), in-process over ASGI.

Every documented operation is called with requests generated from the schema: its examples,
boundary and malformed values (schemathesis's coverage phase), then at most ``MAX_EXAMPLES``
random ones, seeded and derandomized so that every run sends the same requests. Each operation
runs signed in as a role that may use it, on a fresh copy of the demo council with a succeeded
match run and a pending approval request (``fuzz_file``), so that ids in the path reach real
records too. No answer may be a server error, and every answer must be what the schema
documents: status code, content type, body and headers; without the token it must be 401.

Left out: ``POST /auth/sign-out`` (it would revoke the token the test signs in with).
``POST /match-runs`` and ``POST /match-runs/{run_id}/cancel`` start and stop worker processes:
they have a test of their own, with fewer examples, that cancels each run it submits at once
and fails if any worker is left when it ends. ``POST /scenario-results`` starts a tender
simulation in the background for each valid file (tests/api/test_tender_api.py).

Known faults and gaps, each named where it is handled: ``KNOWN_ID_OVERFLOW`` (was a 500),
``KNOWN_NAIVE_DATETIMES`` and ``KNOWN_UNDOCUMENTED_400``, all fixed now and kept as tests at the
end; ``SKIPPED_CHECKS`` and ``POSITIVE_DATA_MAY_BE_REFUSED``, which remain."""

from __future__ import annotations

import copy
import datetime as dt
import shutil

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks
from sqlalchemy import select

from api import jobs
from api.app import create_app
from conftest import DEMO_DAY
from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models.db import make_engine, migrate, transaction
from models.enums import Role
from models.panel import MatchRun
from postgres_server import fresh_postgres
from providers.demo import DEMO_AUTHORITY, build_demo
from signin import add_users, sign_in

MAX_EXAMPLES = 10  # random examples per operation (on top of the schema's examples and boundary cases)
POSTGRES_EXAMPLES = 3  # on PostgreSQL: the same operations, fewer random examples (CI time)
SEED = 2026

# Checks left out, and why:
# - negative_data_rejection: pydantic (lax mode) reads a number as a date or date-time (a Unix
#   time), so ``?until=0.5`` or ``?panel_date=0`` is accepted although the schema says
#   format: date(-time). Harmless; FastAPI's choice.
# - allow_header_conformance: Starlette's 405 names in ``Allow`` only the methods of the first
#   route matching the path (OPTIONS /users says ``Allow: GET``, not ``GET, POST``;
#   /referrals/upload first matches GET /referrals/{referral_id}). A framework limitation.
SKIPPED_CHECKS = [openapi_checks.negative_data_rejection, openapi_checks.allow_header_conformance]
# positive_data_acceptance (a request the schema allows must not get 4xx other than 401/403/404/
# 409) is left out where the schema cannot say what is valid: FastAPI reads an empty form field
# as a missing one (422) although the schema allows "" for the sign-in forms' username and
# password; an uploaded CSV is refused (422, file_refused) unless its rows are right; and a
# panel decision naming a referral or vacancy that does not exist is refused with 422 on that
# field (the run in the path exists, so not 404); a forecast scenario's adjustments are a small
# language (``entries*1.2@16-17``) whose rates and ages a pattern cannot fully say; a tender
# scenario check takes a whole YAML file in one string.
POSITIVE_DATA_MAY_BE_REFUSED = {
    "/auth/token", "/auth/session", "/referrals/upload", "/vacancies/upload",
    "/match-runs/{run_id}/override", "/match-runs/{run_id}/locks", "/match-runs/{run_id}/bans",
    "/forecast-scenarios", "/scenario-checks",
}

# KNOWN_UNDOCUMENTED_400: FastAPI answers 400 (in the service's error shape, code bad_request)
# to a body it cannot parse (not JSON, not UTF-8), but no route documents 400
# (api.errors.ERROR_RESPONSES lists 401, 403, 404, 409, 422). Documented here for the test.
KNOWN_UNDOCUMENTED_400 = False  # fixed: api.errors.ERROR_RESPONSES documents 400

# KNOWN_NAIVE_DATETIMES: on SQLite, DateTime(timezone=True) columns came back naive, so answers
# carried times without an offset ("2026-11-22T07:24:08.454304"), which is not an RFC 3339
# date-time (PostgreSQL gives "+00:00"). Fixed by models.base.UtcDateTime; kept as the test
# test_times_in_answers_carry_their_offset.
KNOWN_NAIVE_DATETIMES = False
DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"

# KNOWN_ID_OVERFLOW: an integer path or query parameter of 2**63 or more (every {..._id} that is
# an integer, ``offset``, ``placement_id``) reaches SQLite unchecked and fails with OverflowError:
# a 500. Pinned by test_an_id_beyond_64_bits_is_refused_not_a_server_error (xfail); until fixed,
# generated requests carrying such a value are not sent, so the fuzzer looks for other faults.
KNOWN_ID_OVERFLOW = False  # fixed: refused with 422 (api.errors), kept as a test below
LARGEST_SQLITE_INTEGER = 2**63 - 1


# Ids that exist in the fuzzed database (``fuzz_file``), given to the path parameters as examples
# so that every operation is also called on something real, not only on ids that are not there.
PATH_EXAMPLES = {
    "run_id": 1, "proposal_id": 3, "request_id": 1, "placement_id": 1, "framework_id": 1, "user_id": 1,
    "referral_id": "R0003", "vacancy_id": "V0049", "provider_id": "PRV12", "property_id": "P001", "result_id": 1,
}


def documented(raw: dict) -> dict:
    """The service's schema for this test: examples for the path parameters, and the known gaps
    above filled in."""
    raw = copy.deepcopy(raw)
    for operations in raw["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in PATH_EXAMPLES:
                    parameter["example"] = PATH_EXAMPLES[parameter["name"]]
            if KNOWN_UNDOCUMENTED_400:
                operation["responses"].setdefault("400", {
                    "description": "bad request (a body that cannot be parsed)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                })
    if KNOWN_NAIVE_DATETIMES:  # components with a date-time are all response schemas
        _relax_date_times(raw["components"]["schemas"])
    return raw


def _relax_date_times(node) -> None:
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            del node["format"]
            node["pattern"] = DATE_TIME
        for value in node.values():
            _relax_date_times(value)
    elif isinstance(node, list):
        for value in node:
            _relax_date_times(value)


def overflows(case) -> bool:
    """Whether a path or query parameter is an integer SQLite cannot hold (KNOWN_ID_OVERFLOW)."""
    values = [*(case.path_parameters or {}).values(), *(case.query or {}).values()]
    for value in values:
        for one in value if isinstance(value, list) else [value]:
            if isinstance(one, str) and one.strip().lstrip("+-").isdigit():
                one = int(one)
            if isinstance(one, int) and not isinstance(one, bool) and abs(one) > LARGEST_SQLITE_INTEGER:
                return True
    return False


class ThisTestsApp:
    """The ASGI app schemathesis calls: it hands each request (and the lifespan, which
    schemathesis starts at the first request and ends with the test) to the app of the test
    running, so that every operation is fuzzed on a fresh copy of the demo council."""

    app = None

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


target = ThisTestsApp()
# The schema does not depend on the database: read it from an app on an empty one.
schema = schemathesis.openapi.from_dict(documented(create_app(make_engine("sqlite://")).openapi()))
schema.app = target  # requests go to the app in this process: no server, no network
schema.config.seed = SEED

WORKER_OPERATIONS = [("POST", "/match-runs"), ("POST", "/match-runs/{run_id}/cancel")]
# Starts a tender simulation in a background thread for each valid file (a quarter of a minute
# each): tested in tests/api/test_tender_api.py instead.
BACKGROUND_OPERATIONS = [("POST", "/scenario-results")]
fuzzed = schema.exclude(method="POST", path="/auth/sign-out")
for _method, _path in WORKER_OPERATIONS + BACKGROUND_OPERATIONS:
    fuzzed = fuzzed.exclude(method=_method, path=_path)
with_workers = schema.include(method="POST", path_regex=r"^/match-runs(/\{run_id\}/cancel)?$")

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def role_for(path: str) -> Role:
    """A role that may use the route: the head of service may use every route but /users."""
    return Role.admin if path.startswith("/users") else Role.head_of_service


def set_up_fuzzed_council(engine) -> None:
    """On the demo council: a succeeded match run (run 1, as ``placematch match`` records it)
    and one proposal accepted, which raised approval requests (request 1 is pending)."""
    outcome = run_panel(engine=engine, files=None, placing_authority=DEMO_AUTHORITY, panel_date=DEMO_DAY,
                        policy=Policy(), approvals=ApprovalPolicy())
    client = TestClient(create_app(engine))
    headers = sign_in(client, Role.head_of_service)
    run = client.get(f"/match-runs/{outcome.run_id}", headers=headers).json()
    needing = next(p for p in run["proposals"] if p["approvals_required"])
    accepted = client.post(f"/match-runs/{outcome.run_id}/proposals/{needing['id']}/accept",
                           json={"reason": "Set up for the fuzz test"}, headers=headers)
    assert accepted.status_code == 201 and accepted.json()["approval_requests"], accepted.text


@pytest.fixture(scope="module")
def fuzz_file(demo_file, tmp_path_factory):
    """The demo council set up for fuzzing (``set_up_fuzzed_council``), on SQLite."""
    path = tmp_path_factory.mktemp("fuzz") / "placematch.db"
    shutil.copy(demo_file, path)
    engine = make_engine(f"sqlite:///{path}")
    set_up_fuzzed_council(engine)
    engine.dispose()
    return path


@pytest.fixture
def fuzz_engine(fuzz_file, tmp_path):
    path = tmp_path / "placematch.db"
    shutil.copy(fuzz_file, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def service(fuzz_engine):
    """The app on a fresh copy of ``fuzz_file`` (routed to by ``target``), and sign-in headers
    for a role (signed in once per role)."""
    yield from serve(fuzz_engine)


def serve(engine):
    """Route ``target`` to the app on ``engine`` and yield sign-in headers by role."""
    app = target.app = create_app(engine)
    signed_in: dict[Role, dict[str, str]] = {}

    def headers(role: Role) -> dict[str, str]:
        if role not in signed_in:
            signed_in[role] = sign_in(TestClient(app), role)  # no lifespan: schemathesis runs it
        return signed_in[role]

    yield headers
    target.app = None


def call_and_validate(case, headers):
    if KNOWN_ID_OVERFLOW and overflows(case):
        return None
    skipped = SKIPPED_CHECKS + (
        [openapi_checks.positive_data_acceptance] if case.path in POSITIVE_DATA_MAY_BE_REFUSED else [])
    return case.call_and_validate(headers=headers(role_for(case.path)), excluded_checks=skipped)


@fuzzed.parametrize()
@FUZZ_SETTINGS
def test_answers_are_never_server_errors_and_match_the_schema(case, service):
    call_and_validate(case, service)


@pytest.fixture(scope="module")
def postgres_fuzz_engine():
    """The demo council set up for fuzzing on PostgreSQL, built once for the module (a fresh
    copy per operation, as on SQLite, would mean rebuilding the council each time): operations
    run one after another on the same data, which may change under them, as in production."""
    engine = fresh_postgres()
    migrate(engine)
    with transaction(engine) as session:
        build_demo(session, seed=2026, as_of=DEMO_DAY)
    add_users(engine)
    set_up_fuzzed_council(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_service(postgres_fuzz_engine):
    yield from serve(postgres_fuzz_engine)


@fuzzed.parametrize()
@settings(FUZZ_SETTINGS, max_examples=POSTGRES_EXAMPLES)
def test_on_postgresql_answers_are_never_server_errors_and_match_the_schema(case, postgres_service):
    call_and_validate(case, postgres_service)


# --- the routes that start or stop match workers ------------------------------------------------


@pytest.fixture
def service_with_a_queued_run(service, fuzz_engine):
    """As ``service``, with one run submitted (so cancel has a run to find). Afterwards, when the
    service's lifespan has ended (stopping the workers it started), no worker may be left."""
    submitted = TestClient(target.app).post("/match-runs", json={"panel_date": "2026-11-23"},
                                            headers=service(Role.head_of_service))
    assert submitted.status_code == 202, submitted.text
    yield service
    jobs.shutdown(fuzz_engine)  # as the lifespan's end does (a no-op when it has run)
    with transaction(fuzz_engine) as session:
        runs = session.execute(select(MatchRun.id, MatchRun.worker_pid)).all()
    left = [(run_id, pid) for run_id, pid in runs if pid is not None and jobs.is_worker(pid, run_id)]
    for run_id, pid in left:  # never leave one behind, even when the assertion fails
        jobs.stop_worker(fuzz_engine, run_id, pid, grace=1.0)
    assert not left, f"match workers left running (run, pid): {left}"


@with_workers.parametrize()
@settings(FUZZ_SETTINGS, max_examples=3)
def test_submitting_and_cancelling_runs_are_never_server_errors(case, service_with_a_queued_run):
    headers = service_with_a_queued_run
    response = call_and_validate(case, headers)
    if case.path == "/match-runs" and response is not None and response.status_code == 202:
        # One worker at a time: cancel each run at once (the schema's boundary cases alone
        # submit over a dozen valid runs, some allowed to solve for 600 s).
        cancelled = TestClient(target.app).post(f"/match-runs/{response.json()['id']}/cancel",
                                                headers=headers(Role.head_of_service))
        assert cancelled.status_code in (200, 409), cancelled.text  # 409: it had already finished


# --- known faults -------------------------------------------------------------------------------

BEYOND_64_BITS = 2**63
OVERFLOWING = [
    ("GET", f"/placements/{BEYOND_64_BITS}"),
    ("GET", f"/approvals/{BEYOND_64_BITS}"),
    ("GET", f"/match-runs/{BEYOND_64_BITS}"),
    ("GET", f"/frameworks/{BEYOND_64_BITS}"),
    ("GET", f"/referrals?offset={BEYOND_64_BITS}"),
    ("GET", f"/approvals?placement_id={BEYOND_64_BITS}"),
]


@pytest.mark.parametrize(("method", "url"), OVERFLOWING)
def test_an_id_beyond_64_bits_is_refused_not_a_server_error(method, url, client, as_role):
    client_500s = TestClient(client.app, raise_server_exceptions=False)
    response = client_500s.request(method, url, headers=as_role(Role.head_of_service))
    assert response.status_code == 422, response.text  # an impossible id is invalid input


def test_times_in_answers_carry_their_offset(client, as_role):
    events = client.get("/audit-events", headers=as_role(Role.head_of_service)).json()["items"]
    assert events
    for event in events:
        assert dt.datetime.fromisoformat(event["at"]).utcoffset() is not None, event["at"]
