"""The demo council every service and page test starts from: migrated, built from seed 2026
for panel day 2026-11-23, with one user per role (signin.py). Built once per session into a
file; tests work on copies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from models.db import make_engine, migrate, transaction
from providers.demo import build_demo
from signin import add_users

DEMO_DAY = dt.date(2026, 11, 23)


def demo_database(path: Path) -> Path:
    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        with transaction(engine) as session:
            build_demo(session, seed=2026, as_of=DEMO_DAY)
        add_users(engine)
    finally:
        engine.dispose()
    return path
