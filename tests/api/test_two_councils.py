"""Two councils on one service (issue 17): Medway (the demo council) and Kent, each with its own
queue, match run, placement, approval request, referral sent, trial stay, tender result and
staff, on a market half shared by the region. Every route of the API, called as every role of
each council with the other council's ids, answers exactly as it does for ids that do not exist
(so an id is never confirmed); no list shows the other council's records; a care co-operative's
staff are refused every young person's record (403)."""

from __future__ import annotations

import re
import shutil

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.routes.users import create_user
from council_ids import COUNCIL_OWNED, council_ids
from demo_council import DEMO_DAY
from matching.approvals import ApprovalPolicy
from matching.panel import run_panel
from matching.policy import Policy
from models.db import make_engine, transaction
from models.enums import DecisionKind, ReferralStatus, Role
from models.people import Referral
from models.supply import Vacancy
from models.tenancy import CrossCouncilWrite, ensure_council
from signin import PASSWORD, username
from test_role_matrix import call, documented_roles, operations

KENT = "E10000016"
MEDWAY = "E06000035"
KENT_PREFIX = "KENT-"  # Kent's referral and vacancy ids: never in a page Medway's staff see
COUNCIL_ROLES = [r for r in Role if r not in (Role.provider, Role.rcc_commissioner, Role.rcc_analyst)]
# Ids no council has, for the same routes: what "not there" looks like.
NOBODYS = {"run_id": "999001", "proposal_id": "999002", "referral_id": "NO-SUCH-REFERRAL", "request_id": "999003",
           "placement_id": "999004", "user_id": "999005", "result_id": "999006", "referral_request_id": "999007",
           "trial_id": "999008"}


def kent_username(role: Role) -> str:
    return "kent." + username(role)


@pytest.fixture(scope="session")
def two_councils_file(demo_run_file, tmp_path_factory):
    """The demo council with its run, plus Kent: 15 young people of its own (copies of Medway's
    first open referrals), its own staff, one vacancy only it may use, half the market made the
    region's, and a run of its own queue."""
    path = tmp_path_factory.mktemp("two-councils") / "placematch.db"
    shutil.copy(demo_run_file[0], path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with transaction(engine) as s:
            ensure_council(s, KENT)
            vacancies = s.scalars(select(Vacancy).order_by(Vacancy.id)).all()
            for i, vacancy in enumerate(vacancies):
                if i % 2 == 0:
                    vacancy.council_code = None
            own = vacancies[1]
            s.add(Vacancy(id=KENT_PREFIX + own.id, property_id=own.property_id, beds=1,
                          available_from=own.available_from, council_code=KENT))
            queue = s.scalars(select(Referral).where(Referral.status == ReferralStatus.open)
                              .order_by(Referral.id).limit(15)).all()
            for r in queue:
                copy = {c.key: getattr(r, c.key) for c in Referral.__table__.columns if c.key != "created_at"}
                copy |= {"id": KENT_PREFIX + r.id, "council_code": KENT,
                         "sibling_group": KENT_PREFIX + r.sibling_group if r.sibling_group else None}
                s.add(Referral(**copy))
            for role in COUNCIL_ROLES:
                create_user(s, kent_username(role), "Kent " + role.value, role, PASSWORD, council_code=KENT)
        kent_run = run_panel(engine=engine, files=None, placing_authority=KENT, panel_date=DEMO_DAY,
                             policy=Policy(), approvals=ApprovalPolicy()).run_id
    finally:
        engine.dispose()
    return path, demo_run_file[1], kent_run


@pytest.fixture
def two(two_councils_file, tmp_path):
    """A fresh copy of the two councils, the app on it, and each council's real ids."""
    source, medway_run, kent_run = two_councils_file
    path = tmp_path / "placematch.db"
    shutil.copy(source, path)
    engine = make_engine(f"sqlite:///{path}")
    with TestClient(create_app(engine)) as client:
        tokens: dict[str, dict] = {}

        def headers(name: str) -> dict[str, str]:
            if name not in tokens:
                answer = client.post("/auth/token", data={"username": name, "password": PASSWORD})
                assert answer.status_code == 200, answer.text
                tokens[name] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            return tokens[name]

        ids = {
            MEDWAY: council_ids(client, headers(username(Role.panel_member)), engine, medway_run,
                                username(Role.panel_member)),
            KENT: council_ids(client, headers(kent_username(Role.panel_member)), engine, kent_run,
                              kent_username(Role.panel_member)),
        }
        yield client, headers, ids, engine
    engine.dispose()


def staff_of(council: str, role: Role) -> str:
    return kent_username(role) if council == KENT else username(role)


def test_kent_has_a_queue_and_a_run_of_its_own(two):
    client, headers, ids, engine = two
    assert ids[KENT]["referral_id"].startswith(KENT_PREFIX)
    assert not ids[MEDWAY]["referral_id"].startswith(KENT_PREFIX)
    kent_runs = client.get("/match-runs", headers=headers(kent_username(Role.panel_member))).json()["items"]
    assert [r["id"] for r in kent_runs] == [int(ids[KENT]["run_id"])]
    proposals = client.get(f"/match-runs/{ids[KENT]['run_id']}",
                           headers=headers(kent_username(Role.panel_member))).json()["proposals"]
    assert proposals and all(p["referral_id"].startswith(KENT_PREFIX) for p in proposals)
    # Kent's run used Kent's own vacancy or the region's, never one only Medway may use.
    with transaction(engine) as s:
        medway_only = set(s.scalars(select(Vacancy.id).where(Vacancy.council_code == MEDWAY)))
    assert not {p["vacancy_id"] for p in proposals} & medway_only


@pytest.mark.parametrize("council,other", [(MEDWAY, KENT), (KENT, MEDWAY)])
def test_the_other_councils_ids_are_answered_as_ids_that_do_not_exist(two, council, other):
    client, headers, ids, _ = two
    wrong = []
    for path, method, operation in operations(client):
        named = set(re.findall(r"{(\w+)}", path))
        if not named & set(COUNCIL_OWNED):
            continue
        theirs = ids[other] | {k: v for k, v in ids[council].items() if k not in COUNCIL_OWNED}
        nobodys = theirs | NOBODYS
        for role in COUNCIL_ROLES:
            h = headers(staff_of(council, role))
            got = call(client, path, method, operation, theirs, h)
            expected = call(client, path, method, operation, nobodys, h)
            same = (got.status_code, _code(got)) == (expected.status_code, _code(expected))
            if not same or got.status_code < 400:
                wrong.append(f"{method.upper()} {path} as {council} {role.value}: {got.status_code} {_code(got)} "
                             f"for the other council's ids, {expected.status_code} {_code(expected)} for none")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("council,other", [(MEDWAY, KENT), (KENT, MEDWAY)])
def test_no_list_or_page_of_the_api_shows_the_other_councils_records(two, council, other):
    client, headers, ids, _ = two
    # Their young person's id as a whole word (Kent's copies carry Medway's ids after "KENT-").
    theirs = [re.compile(rf"(?<![\w-]){re.escape(ids[other]['referral_id'])}\b")]
    if other == KENT:
        theirs.append(re.compile(re.escape(KENT_PREFIX)))
    leaks = []
    for path, method, operation in operations(client):
        if method != "get" or "{" in path:
            continue
        for role in COUNCIL_ROLES:
            answer = call(client, path, method, operation, {}, headers(staff_of(council, role)))
            if answer.status_code == 200:
                leaks += [f"GET {path} as {council} {role.value} shows {t.pattern}" for t in theirs
                          if t.search(answer.text)]
    assert leaks == [], "\n".join(leaks)


def test_a_care_co_operatives_staff_are_refused_every_young_persons_record(two):
    client, headers, ids, engine = two
    refused = []
    for name in (username(Role.rcc_analyst), username(Role.rcc_commissioner)):
        for council in (MEDWAY, KENT):
            for path, method, operation in operations(client):
                named = set(re.findall(r"{(\w+)}", path))
                if not named & {"referral_id", "placement_id", "run_id", "proposal_id", "request_id", "trial_id"}:
                    continue
                answer = call(client, path, method, operation, ids[council], headers(name))
                if answer.status_code != 403:
                    refused.append(f"{method.upper()} {path} as {name}: {answer.status_code}")
    assert refused == [], "\n".join(refused)
    # They do see the shared market.
    vacancies = client.get("/vacancies", headers=headers(username(Role.rcc_analyst)))
    assert vacancies.status_code == 200 and vacancies.json()["items"]


def test_a_council_cannot_write_a_record_for_another(two):
    client, headers, ids, engine = two
    from models import tenancy
    from models.panel import Decision

    with pytest.raises(CrossCouncilWrite):
        with transaction(engine) as s:
            tenancy.enter(s, tenancy.Scope(council=MEDWAY))
            # A Medway session naming Kent's young person: refused before anything is written.
            s.add(Decision(referral_id=ids[KENT]["referral_id"], kind=DecisionKind.reject, reason="x",
                           decided_by_id=1))
            s.flush()
    # Asked for a run of the other council, the panel is told it places for its own only.
    refused = client.post("/match-runs", json={"placing_authority": KENT},
                          headers=headers(username(Role.panel_member)))
    assert refused.status_code == 422 and "own council" in refused.text


def _code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def test_documented_roles_hold_for_kents_staff_too(two):
    """Kent's staff reach what their role documents, on Kent's ids (not only Medway's)."""
    client, headers, ids, _ = two
    wrong = []
    for path, method, operation in operations(client):
        allowed = documented_roles(path, operation)
        if allowed is None or method != "get":
            continue
        for role in COUNCIL_ROLES:
            status = call(client, path, method, operation, ids[KENT], headers(kent_username(role))).status_code
            if (role in allowed) != (status != 403) or status >= 500:
                wrong.append(f"GET {path} as Kent {role.value}: {status}")
    assert wrong == [], "\n".join(wrong)


def test_the_co_operative_sees_each_councils_figures_and_the_shared_market(two):
    client, headers, ids, engine = two
    answer = client.get("/region/figures", headers=headers(username(Role.rcc_analyst)))
    assert answer.status_code == 200, answer.text
    figures = {c["code"]: c for c in answer.json()["councils"]}
    with transaction(engine) as s:
        for council in (MEDWAY, KENT):
            open_ = s.scalar(select(func.count()).select_from(Referral).where(
                Referral.council_code == council, Referral.status == ReferralStatus.open))
            assert sum(figures[council]["waiting"].values()) == open_
        shared = s.scalar(select(func.sum(Vacancy.beds)).where(Vacancy.council_code.is_(None), Vacancy.beds > 0))
    assert figures[KENT]["own_beds"] == 1 and answer.json()["shared_beds"] == shared
    # Counts only: no young person's id anywhere in it.
    assert not re.search(r"\bR\d{4}\b", answer.text) and KENT_PREFIX not in answer.text
    # A council's own staff are not given the other councils' figures.
    assert client.get("/region/figures", headers=headers(username(Role.head_of_service))).status_code == 403


def _page_routes() -> list[tuple[str, str]]:
    import importlib
    import pkgutil

    from fastapi.routing import APIRoute

    import api.pages

    modules = [importlib.import_module(f"api.pages.{m.name}") for m in pkgutil.iter_modules(api.pages.__path__)
               if m.name.endswith("_pages")]
    return sorted({(method, r.path) for m in modules for r in m.router.routes if isinstance(r, APIRoute)
                   for method in r.methods & {"GET", "POST"} if "{" in r.path
                   and not r.path.startswith("/provider-portal")})


@pytest.mark.parametrize("council,other", [(MEDWAY, KENT), (KENT, MEDWAY)])
def test_every_page_answers_the_other_councils_ids_as_ids_that_do_not_exist(two, council, other):
    """The pages, as the head of service (who may use nearly all of them), with the other council's
    ids and with ids nobody has: the same answer, never the record."""
    client, _, ids, _ = two
    client.cookies.clear()
    client.headers["origin"] = str(client.base_url)
    signed_in = client.post("/sign-in", data={"username": staff_of(council, Role.head_of_service),
                                              "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert signed_in.status_code == 303
    browser = {"accept": "text/html"}
    wrong = []
    for method, path in _page_routes():
        named = set(re.findall(r"{(\w+)}", path))
        if not named & set(COUNCIL_OWNED):
            continue
        answers = []
        for given in (ids[other], NOBODYS):
            values = {"action": "accept", **ids[council], **{k: v for k, v in given.items() if k in COUNCIL_OWNED}}
            url = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)
            got = client.request(method, url, headers=browser, follow_redirects=False)
            where = got.headers.get("location", "")
            for value in given.values():
                where = where.replace(value, "ID")
            answers.append((got.status_code, where.split("?")[0]))
            if got.status_code == 200 and any(v in got.text for k, v in ids[other].items()
                                               if k in ("referral_id",) and given is ids[other]):
                wrong.append(f"{method} {path} as {council}: shows the other council's young person")
        if answers[0] != answers[1] or answers[0][0] == 200:
            wrong.append(f"{method} {path} as {council}: {answers[0]} for the other council's ids, "
                         f"{answers[1]} for none")
    assert wrong == [], "\n".join(wrong)


def test_each_council_decides_under_its_own_approvals_policy(two, tmp_path, monkeypatch):
    """PLACEMATCH_APPROVALS as a folder: Kent's file sets a ceiling of £1 a week for every tier,
    so each Kent acceptance needs the head of service for its cost; Medway, with no file of its
    own, keeps the shipped policy."""
    from api.panel_decisions import _approval_policy_in, council_approval_policy
    from matching.approvals import DEFAULT_APPROVALS_FILE
    from test_decisions import REASON, accept, proposals

    text = DEFAULT_APPROVALS_FILE.read_text(encoding="utf-8")
    kent = re.sub(r"cost_ceilings: \{[^}]*\}", "cost_ceilings: {standard: 1, enhanced: 1, intensive: 1}", text)
    (tmp_path / f"{KENT}.yaml").write_text(kent, encoding="utf-8")
    monkeypatch.setenv("PLACEMATCH_APPROVALS", str(tmp_path))
    _approval_policy_in.cache_clear()
    assert council_approval_policy(KENT).cost_ceilings != council_approval_policy(MEDWAY).cost_ceilings
    client, headers, ids, engine = two
    from models.panel import Decision

    with transaction(engine) as s:
        decided = set(s.scalars(select(Decision.referral_id)))
    kent_run = int(ids[KENT]["run_id"])
    choice = next(p for p in proposals(engine, kent_run) if p["referral_id"] not in decided
                  and p["referral_id"] != ids[KENT]["referral_id"])
    placed = accept(client, headers(kent_username(Role.panel_member)), kent_run, choice["id"], REASON)
    assert placed.status_code == 201, placed.text
    assert "cost_ceiling" in {r["rule"] for r in placed.json()["approval_requests"]}
    medway_run = int(ids[MEDWAY]["run_id"])
    cheap = [p for p in proposals(engine, medway_run) if not p["approvals_required"]
             and p["referral_id"] not in decided and p["referral_id"] != ids[MEDWAY]["referral_id"]]
    if cheap:
        kept = accept(client, headers(username(Role.panel_member)), medway_run, cheap[0]["id"], REASON)
        assert kept.status_code == 201 and kept.json()["approval_requests"] == []
    _approval_policy_in.cache_clear()


def test_an_upload_keeps_to_the_councils_own_young_people(two, tmp_path):
    """Kent's panel uploads referrals.csv: its own young person is updated; a row with Medway's
    id is refused for the whole file, naming no record of Medway's, and nothing changes."""
    import csv

    from providers.interchange import export_dir

    client, headers, ids, engine = two
    written = export_dir(engine, tmp_path / "kent", council=KENT)["referrals"]
    with open(written, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["id"].startswith(KENT_PREFIX) for r in rows)
    header = list(rows[0])

    def upload(chosen):
        path = tmp_path / "upload.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(chosen)
        return client.post("/referrals/upload", files={"file": ("referrals.csv", path.read_bytes(), "text/csv")},
                           headers=headers(kent_username(Role.panel_member)))

    kept = upload(rows[:1])
    assert kept.status_code == 200, kept.text
    assert (kept.json()["created"], kept.json()["updated"]) == (0, 1)
    with transaction(engine) as s:
        medway = s.get(Referral, ids[MEDWAY]["referral_id"])
        before = (medway.council_code, medway.tier, medway.home_postcode)
    theirs = rows[0] | {"id": ids[MEDWAY]["referral_id"]}
    refused = upload([rows[1], theirs])
    assert refused.status_code == 422 and "already used by another council" in refused.text
    with transaction(engine) as s:
        medway = s.get(Referral, ids[MEDWAY]["referral_id"])
        assert (medway.council_code, medway.tier, medway.home_postcode) == before


def test_a_regional_run_gives_each_councils_panel_its_own_part_to_decide(two):
    """Both councils matched at once: each council's part is a run of its own, which only its
    own staff see, holding only its own young people; its panel accepts from it as from any run,
    and neither council places fewer than it did alone."""
    from api.panel_decisions import council_approval_policy
    from matching.panel import run_region
    from test_decisions import REASON, accept, proposals

    client, headers, ids, engine = two
    outcome = run_region(engine=engine, panel_date=DEMO_DAY, policy=Policy(), approvals_of=council_approval_policy)
    region = outcome.region
    assert set(outcome.run_ids) == {MEDWAY, KENT}
    assert all(region.placed[c] >= region.floors[c] for c in (MEDWAY, KENT))
    for council, run in outcome.run_ids.items():
        mine = client.get(f"/match-runs/{run}", headers=headers(staff_of(council, Role.panel_member)))
        assert mine.status_code == 200
        young = {p["referral_id"] for p in mine.json()["proposals"]}
        assert young and all(r.startswith(KENT_PREFIX) == (council == KENT) for r in young)
        other = KENT if council == MEDWAY else MEDWAY
        assert client.get(f"/match-runs/{run}", headers=headers(staff_of(other, Role.panel_member))).status_code == 404
    kent_run = outcome.run_ids[KENT]
    choice = proposals(engine, kent_run)[0]
    decided = accept(client, headers(kent_username(Role.panel_member)), kent_run, choice["id"], REASON)
    assert decided.status_code == 201, decided.text
