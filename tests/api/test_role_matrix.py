"""Every route in the OpenAPI schema, called as every role: 403 exactly for the roles its
documentation ("Roles: a, b.") leaves out, never 403 (and never 5xx) for the roles it names;
and 401 on every route without a token, except signing in.

Path parameters are real demo ids (a recorded match run, one of its proposals, an approval
request raised by accepting a proposal, its placement...), so an allowed role reaches the route
itself; bodies are empty, so nothing an allowed role sends changes the demo (the role check
comes before the body is validated: 422 for an allowed role still proves it passed). The one
route whose empty body is valid and would start work, ``POST /match-runs``, gets a body that
fails validation, so no worker is started. A route added later is covered without a change
here, unless it takes a path parameter not named below (the test then fails, naming it)."""

from __future__ import annotations

import re

import pytest

from council_ids import council_ids
from models.enums import Role
from signin import sign_in, username
from test_decisions import run_id  # noqa: F401 (run_id is a fixture)

# Signing in is the only thing a caller without a token may do.
SIGN_IN = {("/auth/token", "post"), ("/auth/session", "post")}
# Routes for anyone signed in (no "Roles:" in their documentation): only these may lack one.
ANY_SIGNED_IN_PREFIX = "/auth/"
# Bodies that fail validation where an empty body would be valid and start real work.
INVALID_BODY = {("/match-runs", "post"): {"time_limit_seconds": 0}}  # {} would queue a run and start a worker
ROLES_LINE = re.compile(r"Roles:\s*([a-z_]+(?:,\s*[a-z_]+)*)\.\s*$")


def operations(client) -> list[tuple[str, str, dict]]:
    schema = client.get("/openapi.json").json()
    return [(path, method, op) for path, methods in schema["paths"].items() for method, op in methods.items()]


def documented_roles(path: str, operation: dict) -> set[Role] | None:
    """The roles the route's description names; None for a route any signed-in user may use."""
    found = ROLES_LINE.search(operation.get("description") or "")
    if found is None:
        return None
    return {Role(name.strip()) for name in found.group(1).split(",")}


def has_json_body(operation: dict) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def call(client, path: str, method: str, operation: dict, params: dict[str, str], headers: dict[str, str]):
    url = path.format(**params)
    kwargs = {"headers": headers}
    if method in ("post", "put", "patch") and has_json_body(operation):
        kwargs["json"] = INVALID_BODY.get((path, method), {})
    # A form or file upload gets no body at all: 422 for an allowed role.
    return client.request(method.upper(), url, **kwargs)


@pytest.fixture
def path_params(client, as_role, demo_engine, run_id) -> dict[str, str]:  # noqa: F811
    """One real id for every path parameter the API uses."""
    return council_ids(client, as_role(Role.panel_member), demo_engine, run_id, username(Role.panel_member))


def test_every_route_refuses_exactly_the_roles_it_does_not_document(client, as_role, demo_engine, path_params):
    wrong: list[str] = []
    ops = operations(client)
    assert {("/match-runs", "post"), ("/approvals/{request_id}/approve", "post")} <= {(p, m) for p, m, _ in ops}
    for path, method, operation in ops:
        missing = set(re.findall(r"{(\w+)}", path)) - set(path_params)
        assert not missing, f"{method.upper()} {path}: no demo id for path parameter(s) {sorted(missing)}"
        allowed = documented_roles(path, operation)
        if allowed is None:
            assert path.startswith(ANY_SIGNED_IN_PREFIX), f"{method.upper()} {path} documents no roles"
            allowed = set(Role)
        for role in Role:
            headers = as_role(role)
            if (path, method) == ("/auth/sign-out", "post"):
                headers = sign_in(client, role)  # signing out revokes the token: not the one the matrix uses
            response = call(client, path, method, operation, path_params, headers)
            status = response.status_code
            if role in allowed:
                if status == 403 or status >= 500:
                    wrong.append(f"{method.upper()} {path} as {role.value}: {status} (documented as allowed) "
                                 f"{response.text[:200]}")
                elif (path, method) in INVALID_BODY and status != 422:
                    wrong.append(f"{method.upper()} {path} as {role.value}: {status}, expected 422 (invalid body)")
            elif status != 403 or response.json()["error"]["code"] != "forbidden":
                wrong.append(f"{method.upper()} {path} as {role.value}: {status}, expected 403 (not documented)")
    assert wrong == [], "\n".join(wrong)

    # Nothing the matrix sent started a match run: the only one is the recorded run.
    runs = client.get("/match-runs", headers=as_role(Role.panel_member)).json()
    assert [r["id"] for r in runs["items"]] == [int(path_params["run_id"])]


def test_every_route_but_signing_in_needs_a_token(client, path_params):
    client.cookies.clear()  # no session cookie either
    wrong = []
    for path, method, operation in operations(client):
        response = call(client, path, method, operation, path_params, headers={})
        expected = 422 if (path, method) in SIGN_IN else 401  # signing in without a username and password
        if response.status_code != expected:
            wrong.append(f"{method.upper()} {path}: {response.status_code}, expected {expected}")
        elif expected == 401:
            assert response.json()["error"]["code"] == "not_signed_in"
    assert wrong == [], "\n".join(wrong)


def test_a_forged_or_revoked_token_is_refused_everywhere_too(client, path_params):
    token = sign_in(client, Role.head_of_service)
    assert client.post("/auth/sign-out", headers=token).status_code == 204
    for headers in (token, {"Authorization": "Bearer not-a-token"}):
        for path, method, operation in operations(client):
            if (path, method) not in SIGN_IN:
                response = call(client, path, method, operation, path_params, headers)
                assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
