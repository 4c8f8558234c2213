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
    # (The database also names each home, for the proposals' reasons; vacancies.csv has no names.)
    assert db.vacancies["property_name"].notna().all() and "property_name" not in fs.vacancies
    pd.testing.assert_frame_equal(
        db.vacancies.drop(columns="property_name").astype(str), fs.vacancies.astype(str), check_dtype=False
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


def test_one_choice_checked_on_its_own_vacancy_gets_the_whole_markets_verdict(sqlite_engine):
    """A panel decision loads only the chosen vacancy and its home's residents: every rule's
    verdict and every fact must be what the whole market's instance gives."""
    from matching.analyze import analyze
    from matching.policy import Policy
    from models.people import Referral
    from models.supply import Vacancy
    from sqlalchemy import select

    day = dt.date(2026, 11, 23)
    with transaction(sqlite_engine) as session:
        build_demo(session, seed=2026, as_of=day)
    policy = Policy()
    with transaction(sqlite_engine) as session:
        people = session.scalars(select(Referral.id).order_by(Referral.id).limit(4)).all()
        vacancies = session.scalars(select(Vacancy.id).where(Vacancy.beds > 0).order_by(Vacancy.id)).all()
        whole = from_database(session, DEMO_AUTHORITY, day, referral_ids=people)
        compared = broken = 0
        for r in people:
            for v in vacancies[::3]:
                own = from_database(session, DEMO_AUTHORITY, day, referral_ids=[r], vacancy_ids=[v])
                mine, theirs = analyze([(r, v)], own, policy), analyze([(r, v)], whole, policy)
                assert sorted(map(str, mine.violations)) == sorted(map(str, theirs.violations)), (r, v)
                columns = [c for c in theirs.placements.columns if c != "broken"]
                pd.testing.assert_frame_equal(_plain(mine.placements[columns]), _plain(theirs.placements[columns]),
                                              check_dtype=False)
                compared += 1
                broken += bool(theirs.violations)
    assert compared > 40 and 0 < broken < compared  # both kinds of verdict were compared


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with categories as their values (one instance's categories are its own ids)."""
    return frame.apply(lambda c: c.astype(object) if isinstance(c.dtype, pd.CategoricalDtype) else c).reset_index(drop=True)
