"""The forecast over the service: read by commissioners and managers, scenarios saved by
commissioners (audited) and applied by name; bad scenarios refused whole."""

from __future__ import annotations

from sqlalchemy import select

from models.accounts import AuditEvent
from models.db import transaction
from models.enums import Role


def test_a_commissioner_reads_the_forecast_with_intervals_and_its_chart(client, as_role):
    headers = as_role(Role.commissioner)
    forecast = client.get("/forecast", params={"horizon": 3}, headers=headers)
    assert forecast.status_code == 200, forecast.text
    body = forecast.json()
    assert body["horizon"] == 3 and any("placematch database" in n for n in body["notes"])
    last = [p for p in body["people"] if p["date"] == max(p["date"] for p in body["people"])]
    assert all(p["lo95"] <= p["lo80"] <= p["hi80"] <= p["hi95"] for p in last)
    tiers = {b["tier"] for b in body["beds"] if b["service_type"] == "supported_accommodation"}
    assert tiers == {"standard", "enhanced", "intensive"}
    chart = client.get("/forecast/fan-chart.png", params={"horizon": 3}, headers=headers)
    assert chart.status_code == 200 and chart.content[:4] == b"\x89PNG"


def test_a_panel_member_may_not_read_the_forecast(client, as_role):
    assert client.get("/forecast", headers=as_role(Role.panel_member)).status_code == 403


def test_a_saved_scenario_changes_the_forecast_and_is_audited(client, as_role, demo_engine):
    headers = as_role(Role.commissioner)
    saved = client.put("/forecast-scenarios", headers=headers, json={
        "name": "UASC doubled", "adjustments": ["uasc_entries*2"], "rules": {"continue_to_25_share": 0.5}})
    assert saved.status_code == 200, saved.text
    base = client.get("/forecast", params={"horizon": 5}, headers=headers).json()
    more = client.get("/forecast", params={"horizon": 5, "scenario": "UASC doubled"}, headers=headers).json()

    def leavers(forecast):
        return sum(p["mean"] for p in forecast["people"] if p["date"] == max(q["date"] for q in forecast["people"])
                   and p["band"] == "21-25" and p["state"] == "care_leaver")

    assert leavers(more) > leavers(base)  # half, not 30%, continue to 25
    with transaction(demo_engine) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "forecast_scenario_saved")).one()
        assert event.actor == "commissioner" and event.after["adjustments"][0]["rate"] == "uasc_entries"


def test_a_scenario_that_cannot_be_read_is_refused_and_nothing_is_saved(client, as_role):
    headers = as_role(Role.commissioner)
    refused = client.put("/forecast-scenarios", headers=headers,
                         json={"name": "bad", "adjustments": ["entries*2", "nonsense"]})
    assert refused.status_code == 422 and "nonsense" in refused.json()["error"]["message"]
    assert client.get("/forecast-scenarios", headers=headers).json() == []
    assert client.put("/forecast-scenarios", headers=as_role(Role.service_manager),
                      json={"name": "x", "adjustments": []}).status_code == 403
