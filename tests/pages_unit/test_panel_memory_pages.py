"""The run page's memory of the panel: what a re-run will keep, with who set each item and why,
a lift form per item for the panel (none for managers), and on a re-run's page what it was
given. The real app on a copy of the demo council (no browser)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from models.db import transaction
from models.enums import DecisionKind, Role
from models.panel import ProposedMatch
from test_panel_pages import decisions, done_of, first_proposal, problem_of, run_id  # noqa: F401 (fixture)

REJECTED = "The provider could not meet her mental health needs"


def section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}"')
    return html[start:html.index("</section>", start)]


def row_of(html: str, referral_id: str, vacancy_id: str) -> str:
    found = re.search(rf'<tr data-referral="{referral_id}" data-vacancy="{vacancy_id}" data-kind="\w+">.*?</tr>',
                      html, re.S)
    assert found, f"no row for {referral_id} -> {vacancy_id}"
    return found.group(0)


def reject_first(panel, engine, run: int) -> ProposedMatch:
    first = first_proposal(engine, run)
    rejected = panel.post(f"/panel/runs/{run}/proposals/{first.id}/reject", data={"reason": REJECTED},
                          follow_redirects=False)
    assert "will not propose" in done_of(rejected)
    return first


def test_the_run_page_shows_a_rejection_kept_for_the_rerun_with_who_and_why(
        client, sign_in_as, run_id, demo_engine):  # noqa: F811
    panel = sign_in_as(Role.panel_member)
    first = reject_first(panel, demo_engine, run_id)
    kept = section(panel.get(f"/panel/runs/{run_id}").text, "kept")
    row = row_of(kept, first.referral_id, first.vacancy_id)
    assert "Rejected: kept out" in row and "Panel Member (Panel member)" in row and REJECTED in row
    assert f"match run {run_id}" in row
    assert f'action="/panel/runs/{run_id}/lifts"' in row  # the panel may lift it

    manager = sign_in_as(Role.service_manager)
    seen = section(manager.get(f"/panel/runs/{run_id}").text, "kept")
    assert REJECTED in row_of(seen, first.referral_id, first.vacancy_id)
    assert "/lifts" not in seen  # a manager reads the panel's memory, but does not change it
    refused = manager.post(f"/panel/runs/{run_id}/lifts", follow_redirects=False, data={
        "referral_id": first.referral_id, "vacancy_id": first.vacancy_id, "reason": "A manager's view"})
    assert refused.status_code == 403
    assert not decisions(demo_engine, match_run_id=run_id, kind=DecisionKind.lift)


def test_lifting_on_the_page_needs_a_reason_and_takes_the_item_off_the_rerun(
        client, sign_in_as, run_id, demo_engine):  # noqa: F811
    panel = sign_in_as(Role.panel_member)
    first = reject_first(panel, demo_engine, run_id)
    form = {"referral_id": first.referral_id, "vacancy_id": first.vacancy_id}
    no_reason = panel.post(f"/panel/runs/{run_id}/lifts", data={**form, "reason": " "}, follow_redirects=False)
    assert "reason" in problem_of(no_reason).lower()
    assert not decisions(demo_engine, match_run_id=run_id, kind=DecisionKind.lift)

    lifted = panel.post(f"/panel/runs/{run_id}/lifts", data={**form, "reason": "New advice from her psychiatrist"},
                        follow_redirects=False)
    assert done_of(lifted).startswith("Lifted:")
    [lift] = decisions(demo_engine, match_run_id=run_id, kind=DecisionKind.lift)
    assert lift.reason == "New advice from her psychiatrist"
    page = panel.get(f"/panel/runs/{run_id}").text
    assert "Nothing: a re-run starts afresh." in section(page, "kept")
    assert "Lifted for re-run" in page  # in the run's list of decisions


def test_a_reruns_page_shows_what_it_was_given_and_by_whom(client, sign_in_as, run_id, demo_engine):  # noqa: F811
    panel = sign_in_as(Role.panel_member)
    first = reject_first(panel, demo_engine, run_id)
    with transaction(demo_engine) as s:  # a ban too, so the page shows two kinds
        other = s.scalars(select(ProposedMatch).where(
            ProposedMatch.match_run_id == run_id, ProposedMatch.rank == 0,
            ProposedMatch.referral_id != first.referral_id).order_by(ProposedMatch.referral_id)).first()
        other_id, other_pair = other.id, (other.referral_id, other.vacancy_id)
    assert done_of(panel.post(f"/panel/runs/{run_id}/proposals/{other_id}/ban",
                              data={"reason": "Risk from a resident there"}, follow_redirects=False))

    started = panel.post(f"/panel/runs/{run_id}/rerun", data={}, follow_redirects=False)
    new = int(re.fullmatch(r"/panel/runs/(\d+)", urlsplit(started.headers["location"]).path).group(1))
    given = section(panel.get(f"/panel/runs/{new}").text, "given")  # shown while it runs, too
    assert f'href="/panel/runs/{run_id}"' in panel.get(f"/panel/runs/{new}").text
    rejection = row_of(given, first.referral_id, first.vacancy_id)
    assert "Rejected: kept out" in rejection and "Panel Member" in rejection and REJECTED in rejection
    ban = row_of(given, *other_pair)
    assert "Banned" in ban and "Risk from a resident there" in ban
    panel.post(f"/panel/runs/{new}/cancel", follow_redirects=False)  # its result is not needed here
