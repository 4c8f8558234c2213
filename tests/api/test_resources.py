"""The read-only resources (referrals, supply, placements) and the CSV uploads, against the demo
council: pages, filters checked against the database itself, the error shape, who may read
what, and files accepted or refused whole."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import pytest
from sqlalchemy import Select, func, select, update

from models.accounts import AuditEvent
from models.db import transaction
from models.enums import (
    OfstedGrade,
    PlacementStatus,
    ReferralStatus,
    Role,
    Setting,
    Tier,
    Urgency,
)
from models.people import Placement, Referral, SupportPlanStep
from models.supply import Lot, Property, Provider, TierPrice, Vacancy
from providers.interchange import export_dir

ALL = 500  # the largest page: more than the demo holds of anything


def _scalars(engine, query: Select) -> list:
    with transaction(engine) as session:
        return list(session.scalars(query))


def _get_all(client, path: str, headers: dict, **params) -> dict:
    response = client.get(path, params={"limit": ALL, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- pages ----------------------------------------------------------------------------------


def test_referrals_page_through_in_urgency_order(client, as_role, demo_engine):
    headers = as_role(Role.panel_member)
    everything = _get_all(client, "/referrals", headers)
    assert everything["total"] == len(_scalars(demo_engine, select(Referral.id))) == len(everything["items"])

    pages, offset = [], 0
    while offset < everything["total"]:
        got = client.get("/referrals", params={"limit": 7, "offset": offset}, headers=headers).json()
        assert (got["total"], got["limit"], got["offset"]) == (everything["total"], 7, offset)
        assert len(got["items"]) == min(7, everything["total"] - offset)
        pages += got["items"]
        offset += 7
    assert pages == everything["items"]

    rank = {u.value: u.rank for u in Urgency}
    keys = [(rank[r["urgency"]], r["referred_on"], r["id"]) for r in everything["items"]]
    assert keys == sorted(keys)
    assert keys[0][0] < keys[-1][0]  # the demo's queue has more than one urgency


def test_a_page_past_the_end_is_empty_and_limits_are_checked(client, as_role):
    headers = as_role(Role.director)
    past = client.get("/vacancies", params={"offset": 10_000}, headers=headers).json()
    assert past["items"] == [] and past["total"] > 0
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        response = client.get("/vacancies", params=bad, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"]["fields"][0]["path"].startswith("query.")


# --- filters --------------------------------------------------------------------------------


def _codes(enum_cls) -> list[str]:
    return enum_cls.codes()


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


# (path, parameter, candidate values (a list, or a query for them), the ids the filter must give)
FILTERS: list[tuple[str, str, list[str] | Select, Callable[[str], Select]]] = [
    ("/referrals", "status", _codes(ReferralStatus), lambda v: select(Referral.id).where(Referral.status == v)),
    ("/referrals", "urgency", _codes(Urgency), lambda v: select(Referral.id).where(Referral.urgency == v)),
    ("/referrals", "tier", _codes(Tier), lambda v: select(Referral.id).where(Referral.tier == v)),
    ("/referrals", "authority", select(Referral.home_la_code),
     lambda v: select(Referral.id).where(Referral.home_la_code == v)),
    ("/providers", "ofsted_grade", _codes(OfstedGrade),
     lambda v: select(Provider.id).where(Provider.ofsted_grade == v)),
    ("/providers", "in_house", ["false", "true"],
     lambda v: select(Provider.id).where(Provider.in_house == (v == "true"))),
    ("/properties", "provider_id", select(Property.provider_id),
     lambda v: select(Property.id).where(Property.provider_id == v)),
    ("/properties", "authority", select(Property.la_code), lambda v: select(Property.id).where(Property.la_code == v)),
    ("/properties", "setting", _codes(Setting), lambda v: select(Property.id).where(Property.setting == v)),
    ("/vacancies", "tier", _codes(Tier),
     lambda v: select(Vacancy.id).join(TierPrice, TierPrice.property_id == Vacancy.property_id)
     .where(TierPrice.tier == v)),
    ("/vacancies", "authority", select(Property.la_code).join(Vacancy),
     lambda v: select(Vacancy.id).join(Property).where(Property.la_code == v)),
    ("/vacancies", "provider_id", select(Property.provider_id).join(Vacancy),
     lambda v: select(Vacancy.id).join(Property).where(Property.provider_id == v)),
    ("/vacancies", "available_by", select(Vacancy.available_from),
     lambda v: select(Vacancy.id).where(Vacancy.available_from <= _day(v))),
    ("/placements", "status", _codes(PlacementStatus),
     lambda v: select(Placement.id).where(Placement.status == v)),
    ("/placements", "tier", _codes(Tier), lambda v: select(Placement.id).where(Placement.tier == v)),
    ("/placements", "authority", select(Property.la_code),
     lambda v: select(Placement.id).join(Property).where(Property.la_code == v)),
    ("/placements", "referral_id", select(Placement.referral_id),
     lambda v: select(Placement.id).where(Placement.referral_id == v)),
]


def _narrowing_value(engine, candidates, expected, total: int) -> tuple[str, set]:
    """A value of the filter that keeps some rows but not all (or, when the demo has no such
    value, e.g. every placement is active, one that keeps fewer than all)."""
    if isinstance(candidates, Select):
        candidates = sorted({str(v) for v in _scalars(engine, candidates.distinct()) if v is not None})
    results = [(v, set(_scalars(engine, expected(v)))) for v in candidates]
    for v, ids in results:
        if 0 < len(ids) < total:
            return v, ids
    return next((v, ids) for v, ids in results if len(ids) < total)


@pytest.mark.parametrize("path, parameter, candidates, expected", FILTERS,
                         ids=[f"{p}?{q}" for p, q, _, _ in FILTERS])
def test_each_filter_gives_what_the_database_gives(client, as_role, demo_engine, path, parameter, candidates,
                                                    expected):
    headers = as_role(Role.head_of_service)  # reads every resource
    total = _get_all(client, path, headers)["total"]
    value, ids = _narrowing_value(demo_engine, candidates, expected, total)
    got = _get_all(client, path, headers, **{parameter: value})
    assert got["total"] == len(ids) < total
    assert {item["id"] for item in got["items"]} == ids


def test_filters_combine(client, as_role, demo_engine):
    query = select(Referral.id).where(Referral.status == ReferralStatus.open, Referral.tier == Tier.enhanced,
                                      Referral.home_la_code == "E06000035")
    got = _get_all(client, "/referrals", as_role(Role.service_manager), status="open", tier="enhanced",
                   authority="E06000035")
    assert {r["id"] for r in got["items"]} == set(_scalars(demo_engine, query))


def test_an_unknown_code_in_a_filter_is_refused_naming_it(client, as_role):
    response = client.get("/referrals", params={"tier": "enhnced"}, headers=as_role(Role.panel_member))
    assert response.status_code == 422
    assert [f["path"] for f in response.json()["error"]["fields"]] == ["query.tier"]


# --- one record -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/referrals/R9999", "/providers/NOPE", "/properties/NOPE", "/vacancies/NOPE",
                                  "/frameworks/999999", "/placements/999999"])
def test_a_missing_record_is_404_in_the_error_shape(client, as_role, path):
    response = client.get(path, headers=as_role(Role.head_of_service))
    assert response.status_code == 404
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert (error["status"], error["code"]) == (404, "not_found")
    assert path.rsplit("/", 1)[1] in error["message"]


def test_one_record_is_the_same_as_in_its_list(client, as_role):
    headers = as_role(Role.head_of_service)
    for path in ("/referrals", "/providers", "/properties", "/vacancies", "/frameworks", "/placements"):
        first = client.get(path, params={"limit": 1}, headers=headers).json()["items"][0]
        assert client.get(f"{path}/{first['id']}", headers=headers).json() == first, path


def test_a_placement_shows_its_support_plan_and_any_review_due(client, as_role, demo_engine):
    with transaction(demo_engine) as session:
        # A placement whose plan steps support down, so there is more than one step to show.
        placement_id = session.scalar(select(SupportPlanStep.placement_id).group_by(SupportPlanStep.placement_id)
                                      .having(func.count() > 1).order_by(SupportPlanStep.placement_id))
        steps = session.execute(select(SupportPlanStep.starts_on, SupportPlanStep.tier)
                                .where(SupportPlanStep.placement_id == placement_id)
                                .order_by(SupportPlanStep.starts_on)).all()
        session.execute(update(Placement).where(Placement.id == placement_id)
                        .values(review_due_on=dt.date(2026, 12, 7), review_reason="provider regraded inadequate"))
    got = client.get(f"/placements/{placement_id}", headers=as_role(Role.service_manager)).json()
    assert [(s["starts_on"], s["tier"]) for s in got["support_plan"]] == [(d.isoformat(), t.value) for d, t in steps]
    assert (got["review_due_on"], got["review_reason"]) == ("2026-12-07", "provider regraded inadequate")


def test_frameworks_show_their_lots_and_the_prices_bought_under_each(client, as_role, demo_engine):
    got = _get_all(client, "/frameworks", as_role(Role.commissioner))
    with transaction(demo_engine) as session:
        lots = {lot.id: lot.framework_id for lot in session.scalars(select(Lot))}
        prices = {(p.lot_id, p.property_id, p.tier.value, p.weekly_price)
                  for p in session.scalars(select(TierPrice).where(TierPrice.lot_id.is_not(None)))}
    shown_lots = {lot["id"]: f["id"] for f in got["items"] for lot in f["lots"]}
    shown_prices = {(lot["id"], p["property_id"], p["tier"], p["weekly_price"])
                    for f in got["items"] for lot in f["lots"] for p in lot["prices"]}
    assert shown_lots == lots
    assert shown_prices == prices and prices


# --- roles ----------------------------------------------------------------------------------


CASE_PATHS = ["/referrals", "/placements"]
SUPPLY_PATHS = ["/providers", "/properties", "/vacancies", "/frameworks"]


@pytest.mark.parametrize("role", [Role.commissioner, Role.admin])
def test_case_data_is_refused_to_commissioners_and_admins(client, as_role, role):
    for path in CASE_PATHS + ["/referrals/R0001", "/placements/1"]:
        response = client.get(path, headers=as_role(role))
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", [Role.panel_member, Role.service_manager, Role.head_of_service, Role.director])
def test_case_readers_read_case_data(client, as_role, role):
    for path in CASE_PATHS:
        assert client.get(path, headers=as_role(role)).status_code == 200, path


@pytest.mark.parametrize("role", list(Role))
def test_the_councils_staff_read_supply_and_a_providers_staff_do_not(client, as_role, role):
    """The council's market (every provider's homes and prices) is the council's: a provider's
    staff see their own homes on the provider routes (api.routes.market), not this."""
    for path in SUPPLY_PATHS:
        assert client.get(path, headers=as_role(role)).status_code == (403 if role == Role.provider else 200), path


def test_nothing_is_read_without_signing_in(client):
    for path in CASE_PATHS + SUPPLY_PATHS:
        assert client.get(path).status_code == 401, path


def test_uploads_need_their_role(client, as_role):
    file = {"file": ("x.csv", b"id\n", "text/csv")}
    assert client.post("/referrals/upload", files=file, headers=as_role(Role.commissioner)).status_code == 403
    assert client.post("/referrals/upload", files=file, headers=as_role(Role.service_manager)).status_code == 403
    assert client.post("/vacancies/upload", files=file, headers=as_role(Role.panel_member)).status_code == 403


def test_the_openapi_document_builds(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/referrals", "/referrals/upload", "/providers/{provider_id}", "/properties", "/vacancies/upload",
                 "/frameworks/{framework_id}", "/placements/{placement_id}"):
        assert path in paths
        assert all(op.get("summary") for op in paths[path].values()), path


# --- uploads --------------------------------------------------------------------------------


def _exported(engine, tmp_path, kind: str) -> tuple[list[str], list[dict[str, str]]]:
    path = export_dir(engine, tmp_path / "export")[kind]
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def _csv(columns: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _upload(client, headers, path: str, name: str, data: bytes):
    return client.post(path, files={"file": (name, data, "text/csv")}, headers=headers)


def _snapshot(engine) -> dict:
    """Everything an upload could write: the rows of each table it touches, and the audit log."""
    with transaction(engine) as session:
        tables = {model.__name__: sorted(tuple(row) for row in session.execute(select(*model.__table__.c)))
                  for model in (Referral, Provider, Property, TierPrice, Vacancy)}
        tables["audit"] = session.scalar(select(func.count()).select_from(AuditEvent))
    return tables


def _other(code: str, enum_cls) -> str:
    return next(c for c in enum_cls.codes() if c != code)


def test_exported_referrals_uploaded_with_a_change_update_and_create(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "referrals")
    changed = rows[0]
    changed["tier"] = new_tier = _other(changed["tier"], Tier)
    newcomer = dict(rows[1], id="R9001")
    response = _upload(client, as_role(Role.panel_member), "/referrals/upload", "monday.csv",
                       _csv(columns, rows + [newcomer]))
    assert response.status_code == 200, response.text
    assert response.json() == {"file": "monday.csv", "entity": "referrals", "rows": len(rows) + 1, "created": 1,
                               "updated": len(rows), "details": {}}

    headers = as_role(Role.service_manager)
    assert client.get(f"/referrals/{changed['id']}", headers=headers).json()["tier"] == new_tier
    created = client.get("/referrals/R9001", headers=headers).json()
    assert created["status"] == "open" and created["home_postcode"] == rows[1]["home_postcode"]
    with transaction(demo_engine) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "import")
                                .order_by(AuditEvent.id.desc())).first()
        assert (event.actor, event.entity_id, event.after["created"]) == ("panel.member", "monday.csv", 1)


def test_a_refused_referrals_file_names_each_problem_and_writes_nothing(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "referrals")
    rows[0]["tier"] = _other(rows[0]["tier"], Tier)  # a good change, which must not be written either
    rows[2]["home_postcode"] = "ZZ99 9ZZ"  # spreadsheet row 4: the header is row 1
    for row in rows:
        row["favourite_colour"] = "blue"
    headers = as_role(Role.head_of_service)  # signing in is audited: before the snapshot
    before = _snapshot(demo_engine)

    response = _upload(client, headers, "/referrals/upload", "bad.csv",
                       _csv(columns + ["favourite_colour"], rows))
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (422, "file_refused")
    problems = {f["path"]: f["message"] for f in error["fields"]}
    assert set(problems) == {"bad.csv row 1 column favourite_colour", "bad.csv row 4 column home_postcode"}
    assert "unknown column" in problems["bad.csv row 1 column favourite_colour"]
    assert "ZZ99 9ZZ" in problems["bad.csv row 4 column home_postcode"]
    assert _snapshot(demo_engine) == before


def test_exported_vacancies_uploaded_with_a_change_update(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "vacancies")
    rows[0]["beds"] = str(int(rows[0]["beds"]) + 2)
    response = _upload(client, as_role(Role.commissioner), "/vacancies/upload", "vacancies.csv", _csv(columns, rows))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["entity"], body["rows"], body["created"], body["updated"]) == ("vacancies", len(rows), 0, len(rows))
    assert body["details"]["properties_created"] == body["details"]["providers_created"] == 0
    got = client.get(f"/vacancies/{rows[0]['id']}", headers=as_role(Role.panel_member)).json()
    assert got["beds"] == int(rows[0]["beds"])


def test_a_refused_vacancies_file_writes_nothing(client, as_role, demo_engine, tmp_path):
    columns, rows = _exported(demo_engine, tmp_path, "vacancies")
    rows[0]["beds"] = str(int(rows[0]["beds"]) + 2)
    rows[1]["postcode"] = "not a postcode"
    headers = as_role(Role.commissioner)  # signing in is audited: before the snapshot
    before = _snapshot(demo_engine)
    response = _upload(client, headers, "/vacancies/upload", "vacancies.csv", _csv(columns, rows))
    assert response.status_code == 422
    paths = [f["path"] for f in response.json()["error"]["fields"]]
    assert "vacancies.csv row 3 column postcode" in paths
    assert _snapshot(demo_engine) == before


def test_an_empty_upload_is_refused_in_the_error_shape(client, as_role):
    response = _upload(client, as_role(Role.panel_member), "/referrals/upload", "empty.csv", b"")
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"] == "empty.csv"


def test_an_excel_workbook_uploads_as_its_csv_would(client, as_role, demo_engine, tmp_path):
    """Commissioners live in Excel: the exported vacancies saved as a workbook upload the same."""
    from openpyxl import Workbook

    columns, rows = _exported(demo_engine, tmp_path, "vacancies")
    book = Workbook()
    sheet = book.active
    sheet.append(columns)
    for row in rows:
        sheet.append([row[c] for c in columns])
    out = io.BytesIO()
    book.save(out)
    response = client.post("/vacancies/upload", headers=as_role(Role.commissioner),
                           files={"file": ("vacancies.xlsx", out.getvalue(),
                                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert response.status_code == 200, response.text
    assert (response.json()["file"], response.json()["rows"], response.json()["created"]) == (
        "vacancies.xlsx", len(rows), 0)
