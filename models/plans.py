"""Planning records: named forecast scenarios (what-if changes to the forecast's rates), kept so
that a commissioner's assumptions can be named, reused and audited."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped, UtcDateTime
from models.tenancy import CouncilOrRegion


class ForecastScenario(CouncilOrRegion, Timestamped, Base):
    """A named what-if for forecasts: each council names its own (two may both keep "Baseline"),
    and the region's names are unique among the region's (migration 0016)."""

    __tablename__ = "forecast_scenario"
    __table_args__ = (
        UniqueConstraint("council_code", "name"),
        Index("uq_forecast_scenario_region_name", "name", unique=True, sqlite_where=text("council_code IS NULL"),
              postgresql_where=text("council_code IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[Optional[str]] = mapped_column(Text)
    # [{"rate": "entries", "multiply": 1.2, "add": 0.0, "ages": [16, 17]}, ...] (scenarios.cohort.Adjustment)
    adjustments: Mapped[list] = mapped_column(JSON, default=list)
    # Overrides of scenarios.cohort.Rules, e.g. {"continue_to_25_share": 0.4}
    rules: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))


class ScenarioResult(CouncilOrRegion, Timestamped, Base):
    """One tender scenario's simulation, kept so it can be reproduced: the file as it was, its
    seed and replications, and the code version that ran it, with the KPIs it gave."""

    __tablename__ = "scenario_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    file_name: Mapped[str] = mapped_column(String(200))
    file_text: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int]
    replications: Mapped[int]
    months: Mapped[int]
    code_version: Mapped[str] = mapped_column(String(80))
    # running (started from the service, in the background), succeeded, failed or cancelled
    status: Mapped[str] = mapped_column(String(16), default="succeeded")
    # A run in the background keeps its progress here, written by its own process about once a
    # second (api.scenario_runs), so that every process of the service shows the same progress
    # and a run whose process died (not heard from for a minute) is failed, not left running.
    replications_done: Mapped[int] = mapped_column(default=0, server_default="0")
    simulating_since: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())
    first_replication_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())
    heard_at: Mapped[Optional[dt.datetime]] = mapped_column(UtcDateTime())
    error: Mapped[Optional[str]] = mapped_column(Text)
    kpis: Mapped[list] = mapped_column(JSON, default=list)  # [{"year", "kpi", "median", "p10", "p90"}, ...]
    seconds: Mapped[float] = mapped_column(Float)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("app_user.id"))
