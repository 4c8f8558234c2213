"""A panel run's input built from the database and from interchange files is the same."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from matching.instance import from_database, from_files
from models.db import transaction
from providers.demo import DEMO_AUTHORITY, build_demo
from providers.interchange import export_dir

AS_OF = dt.date(2026, 11, 23)


def test_database_and_exported_files_give_the_same_instance(sqlite_engine, tmp_path):
    with transaction(sqlite_engine) as s:
        build_demo(s, seed=2026, as_of=AS_OF)
    files = export_dir(sqlite_engine, tmp_path)
    with transaction(sqlite_engine) as s:
        db = from_database(s, DEMO_AUTHORITY, AS_OF)
    fs = from_files(files["referrals"], files["vacancies"], DEMO_AUTHORITY, AS_OF)

    assert len(db.referrals) == 64 and len(db.vacancies) > 0
    # Files carry the open queue and the free beds: the same rows, the same values.
    pd.testing.assert_frame_equal(
        db.referrals.astype(str), fs.referrals.astype(str), check_dtype=False
    )
    pd.testing.assert_frame_equal(
        db.vacancies.astype(str), fs.vacancies.astype(str), check_dtype=False
    )
    # Residents: the database knows each placed young person's tier; a file knows only the
    # risks living in each shared home, and those must agree.
    def risks(frame):
        return frame.groupby("property_id")["risks"].agg(lambda r: sorted({x for rs in r for x in rs}))

    db_risks, file_risks = risks(db.residents), risks(fs.residents)
    with_vacancies = set(db.vacancies["property_id"])  # a file lists only homes with free beds
    db_risks = db_risks[(db_risks.map(len) > 0) & db_risks.index.isin(with_vacancies)]
    assert db_risks.to_dict() == file_risks.to_dict()
    assert set(db.residents["tier"].dropna()) <= {"standard", "enhanced", "intensive"}
