"""The panel's pages, through FastAPI's TestClient (no browser): the queue, starting a run (a
real worker process), the proposals and the map, the decision forms (accept, reject, lock,
ban, override after the engine's check) and who may see what. Also the map's geometry.

Proposals are found by what they are, never by id; decisions are checked in the database."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from flash import done_of, problem_of  # noqa: E402,F401 (used by test_panel_memory_pages too)
from sqlalchemy import func, select

from api.pages import panel_map
from models.db import transaction
from models.enums import DecisionKind, MatchRunStatus, ReferralStatus, Role, Tier
from models.panel import Decision, MatchRun, ProposedMatch
from models.people import Placement, Referral
from models.supply import Vacancy

DEMO_DAY = dt.date(2026, 11, 23)
REASON = "Closest home with the support needed; the young person agrees."


@pytest.fixture
def run_id(demo_engine, demo_run_file) -> int:
    """A succeeded run of the demo queue, recorded as the CLI records one (demo_council.demo_run_file:
    solved once a session, and demo_engine is a copy holding it)."""
    return demo_run_file[1]


def first_proposal(engine, run: int) -> ProposedMatch:
    with transaction(engine) as s:
        p = s.scalars(select(ProposedMatch).where(ProposedMatch.match_run_id == run, ProposedMatch.rank == 0)
                      .order_by(ProposedMatch.referral_id)).first()
        s.expunge(p)
        return p


def decisions(engine, **where) -> list[Decision]:
    with transaction(engine) as s:
        found = s.scalars(select(Decision).filter_by(**where)).all()
        s.expunge_all()
        return list(found)


# --- the board -----------------------------------------------------------------------------------


def test_queue_shows_open_referrals_most_urgent_first(client, sign_in_as, demo_engine):
    page = sign_in_as(Role.panel_member).get("/panel")
    assert page.status_code == 200
    with transaction(demo_engine) as s:
        open_ids = set(s.scalars(select(Referral.id).where(Referral.status == ReferralStatus.open)))
        urgency = {r.id: r.urgency.rank for r in s.scalars(select(Referral))}
    table = page.text[page.text.index('<table id="queue">'):]
    table = table[:table.index("</table>")]
    shown = re.findall(r'<tr data-referral="([^"]+)">', table)
    assert set(shown) == open_ids and len(shown) == len(open_ids)
    assert [urgency[r] for r in shown] == sorted(urgency[r] for r in shown)
    assert '<th scope="col">Urgency</th>' in table and "<caption>" in table
    assert 'id="start-run"' in page.text and 'action="/panel/runs"' in page.text
    assert '<label for="panel_date">' in page.text and '<label for="time_limit_seconds">' in page.text


def test_start_run_follow_it_and_see_proposals_map_and_unplaced(client, sign_in_as, demo_engine):
    panel = sign_in_as(Role.panel_member)
    started = panel.post("/panel/runs", data={"panel_date": DEMO_DAY.isoformat(), "time_limit_seconds": "20"},
                         follow_redirects=False)
    assert started.status_code == 303
    location = urlsplit(started.headers["location"])
    run = int(re.fullmatch(r"/panel/runs/(\d+)", location.path).group(1))

    first = panel.get(f"/panel/runs/{run}")
    assert first.status_code == 200
    assert f'data-watch-run="{run}"' in first.text or 'id="proposals"' in first.text

    deadline = time.monotonic() + 60
    while (status := panel.get(f"/panel/runs/{run}/status").json()["status"]) in ("queued", "running"):
        assert time.monotonic() < deadline, "the match run did not finish within 60 s"
        time.sleep(0.5)
    assert status == MatchRunStatus.succeeded.value

    page = panel.get(f"/panel/runs/{run}")
    assert "data-watch-run" not in page.text
    with transaction(demo_engine) as s:
        proposed = s.scalar(select(func.count()).select_from(ProposedMatch).where(
            ProposedMatch.match_run_id == run, ProposedMatch.rank == 0))
        unplaced = s.get(MatchRun, run).progress["unplaced_detail"]
    assert len(re.findall(r'<tr id="young-person-[^"]+" data-referral="[^"]+" data-proposal="\d+">',
                          worklist(panel, run))) == proposed > 0
    assert '<svg id="map"' in page.text and 'role="img"' in page.text and "20-mile ring" in page.text
    # The young people left without a proposal are in the same worklist, each with why and a
    # link to their case; the "Without a proposal" filter shows only them.
    only = worklist(panel, run, "unplaced")
    rows = re.findall(r'<tr id="young-person-([^"]+)" data-referral="[^"]+">', only)
    assert sorted(rows) == sorted(u["referral_id"] for u in unplaced) and rows
    assert "data-proposal" not in only
    case = panel.get(f"/panel/runs/{run}/young-people/{rows[0]}")
    assert case.status_code == 200 and 'id="why"' in case.text
    # A home for one of them is chosen from the free beds nearest their home: here every free
    # vacancy, as the demo has fewer than a page's CHOICES (a region's many more are bounded:
    # see test_override_choices_are_the_nearest_few_and_any_other_can_be_typed), or typed.
    section = case.text[case.text.index('<form id="override-unplaced"'):]
    suggestions = section[section.index('<select id="unplaced-vacancy"'):]
    suggestions = suggestions[:suggestions.index("</select>")]
    with transaction(demo_engine) as s:
        free = s.scalar(select(func.count()).select_from(Vacancy).where(Vacancy.beds > 0))
    assert len(re.findall(r"<option ", suggestions)) == free > 0
    assert 'id="unplaced-by-reference"' in case.text
    assert f'<form id="rerun" method="post" action="/panel/runs/{run}/rerun"' in page.text

    board = panel.get("/panel")
    assert f'href="/panel/runs/{run}"' in board.text and 'id="runs"' in board.text

    # A re-run starts a new job carrying the run's locks and bans; cancelled at once here.
    rerun = panel.post(f"/panel/runs/{run}/rerun", data={}, follow_redirects=False)
    assert rerun.status_code == 303
    new = int(re.fullmatch(r"/panel/runs/(\d+)", urlsplit(rerun.headers["location"]).path).group(1))
    assert new != run
    cancelled = panel.post(f"/panel/runs/{new}/cancel", follow_redirects=False)
    assert cancelled.status_code == 303
    assert panel.get(f"/panel/runs/{new}/status").json()["status"] in ("cancelled", "succeeded")


def test_start_run_with_a_bad_time_limit_is_refused_on_the_board(client, sign_in_as, demo_engine):
    refused = sign_in_as(Role.panel_member).post("/panel/runs", data={"time_limit_seconds": "5000"},
                                                 follow_redirects=False)
    assert refused.status_code == 303 and urlsplit(refused.headers["location"]).path == "/panel"
    assert "not started" in problem_of(refused)
    with transaction(demo_engine) as s:
        assert s.scalar(select(func.count()).select_from(MatchRun)) == 0


def worklist(client, run: int, show: str = "all") -> str:
    """Every row of a run's worklist, page after page, as the panel would read them."""
    rows, path = [], f"/panel/runs/{run}?show={show}"
    while path:
        page = client.get(path).text
        if 'id="proposals"' not in page:
            break
        rows.append(page[page.index('<table id="proposals"'):page.index("</table>", page.index('<table id="proposals"'))])
        more = re.search(r'id="next-page" rel="next" href="([^"]+)"', page)
        path = more.group(1).replace("&amp;", "&") if more else None
    return "".join(rows)


# --- a run and a proposal ------------------------------------------------------------------------


def test_run_page_lists_each_young_person_with_a_link_to_their_case(client, sign_in_as, run_id, demo_engine):
    page = sign_in_as(Role.panel_member).get(f"/panel/runs/{run_id}")
    assert page.status_code == 200
    p = first_proposal(demo_engine, run_id)
    row = page.text[page.text.index(f'<tr id="young-person-{p.referral_id}" data-referral="{p.referral_id}" '
                                    f'data-proposal="{p.id}">'):]
    row = row[:row.index("</tr>")]
    assert f'href="/panel/runs/{run_id}/proposals/{p.id}?show=all"' in row and "£" in row
    words = re.sub(r"<[^>]+>", " ", page.text)  # what a person reads (an SVG's points= is not)
    assert "Penalty" not in words and "points" not in words
    assert '<svg id="map"' in page.text
    assert "did not record who was left without a proposal" in page.text  # a CLI run keeps no list


def test_proposal_page_shows_the_case_alternatives_and_forms(client, sign_in_as, run_id, demo_engine):
    p = first_proposal(demo_engine, run_id)
    page = sign_in_as(Role.panel_member).get(f"/panel/runs/{run_id}/proposals/{p.id}")
    assert page.status_code == 200
    assert 'id="alternatives"' in page.text and 'id="approvals"' in page.text
    # Where its price stands among the same support in the same kind of home (providers.price_benchmarks)
    assert re.search(r'id="price-standing">(<strong>)?£[\d,]+ a week is (above|within|below) the usual range: the '
                     r'middle half of the \d+ prices for', page.text)
    for form in ("accept", "reject", "lock", "ban"):
        assert f'<form id="{form}" method="post" action="/panel/runs/{run_id}/proposals/{p.id}/{form}">' in page.text
        assert f'<label for="{form}-reason">' in page.text
    assert f'<form id="override" method="get" action="/panel/runs/{run_id}/override">' in page.text
    assert '<select id="override-vacancy" name="vacancy_id"' in page.text
    with transaction(demo_engine) as s:
        alternatives = s.scalars(select(ProposedMatch.vacancy_id).where(
            ProposedMatch.match_run_id == run_id, ProposedMatch.referral_id == p.referral_id,
            ProposedMatch.rank > 0).order_by(ProposedMatch.rank)).all()
    options = re.findall(r'<option value="([^"]+)"', page.text)
    assert options[:len(alternatives)] == list(alternatives)  # the engine's alternatives first


def test_accept_with_a_reason_records_the_decision(client, sign_in_as, run_id, demo_engine):
    p = first_proposal(demo_engine, run_id)
    panel = sign_in_as(Role.panel_member)
    accepted = panel.post(f"/panel/runs/{run_id}/proposals/{p.id}/accept", data={"reason": REASON},
                          follow_redirects=False)
    assert accepted.status_code == 303
    assert urlsplit(accepted.headers["location"]).path == f"/panel/runs/{run_id}"
    assert done_of(accepted).startswith("Accepted: placement ")
    [decision] = decisions(demo_engine, proposed_match_id=p.id)
    assert decision.kind == DecisionKind.accept and decision.reason == REASON
    shown = panel.get(accepted.headers["location"])
    assert done_of(accepted) in shown.text.replace("&#39;", "'")
    # Decided: the proposal page shows no forms any more.
    assert 'id="accept"' not in panel.get(f"/panel/runs/{run_id}/proposals/{p.id}").text


def test_accept_without_a_reason_is_refused_and_records_nothing(client, sign_in_as, run_id, demo_engine):
    p = first_proposal(demo_engine, run_id)
    refused = sign_in_as(Role.panel_member).post(f"/panel/runs/{run_id}/proposals/{p.id}/accept",
                                                 data={"reason": "  "}, follow_redirects=False)
    assert refused.status_code == 422 and 'id="accept-reason-error"' in refused.text
    assert decisions(demo_engine) == []


def test_reject_lock_and_ban(client, sign_in_as, run_id, demo_engine):
    panel = sign_in_as(Role.panel_member)
    with transaction(demo_engine) as s:
        first, second = s.scalars(select(ProposedMatch).where(
            ProposedMatch.match_run_id == run_id, ProposedMatch.rank == 0).order_by(ProposedMatch.referral_id)
            .limit(2)).all()
        first, second = (first.id, first.referral_id, first.vacancy_id), (second.id, second.referral_id,
                                                                           second.vacancy_id)
    locked = panel.post(f"/panel/runs/{run_id}/proposals/{first[0]}/lock", data={"reason": REASON},
                        follow_redirects=False)
    assert done_of(locked) == f"Locked: {first[1]} to {first[2]} for the re-run"
    again = panel.post(f"/panel/runs/{run_id}/proposals/{first[0]}/ban", data={"reason": REASON},
                       follow_redirects=False)
    assert "already locked" in problem_of(again)  # the workflow's refusal, in its words
    banned = panel.post(f"/panel/runs/{run_id}/proposals/{second[0]}/ban", data={"reason": REASON},
                        follow_redirects=False)
    assert done_of(banned).startswith("Banned:")
    rejected = panel.post(f"/panel/runs/{run_id}/proposals/{second[0]}/reject", data={"reason": REASON},
                          follow_redirects=False)
    assert done_of(rejected).startswith("Rejected:")
    kinds = sorted(d.kind.value for d in decisions(demo_engine, match_run_id=run_id))
    assert kinds == ["ban", "lock", "reject"]
    page = panel.get(f"/panel/runs/{run_id}")
    assert "Locked for re-run" in page.text and "Rejected" in page.text


# --- the panel's own choice ----------------------------------------------------------------------


def test_override_check_lists_broken_rules_without_writing(client, sign_in_as, run_id, demo_engine):
    page = sign_in_as(Role.panel_member).get(f"/panel/runs/{run_id}/override",
                                             params={"referral_id": "R0001", "vacancy_id": "V0001"})
    assert page.status_code == 200
    rules = page.text[page.text.index('<ul id="broken-rules">'):]
    rules = rules[:rules.index("</ul>")]
    assert len(re.findall(r'<li data-rule="[a-z_]+">', rules)) >= 2
    assert "tier" in rules
    assert decisions(demo_engine) == []


def test_override_confirm_places_the_young_person(client, sign_in_as, run_id, demo_engine):
    """A home offering R0001's intensive tier but breaking other rules: shown, then placed."""
    with transaction(demo_engine) as s:
        vacancy = next(v.id for v in s.scalars(select(Vacancy).where(Vacancy.beds > 0).order_by(Vacancy.id))
                       if v.property.price_for(Tier.intensive) is not None)
    panel = sign_in_as(Role.panel_member)
    check = panel.get(f"/panel/runs/{run_id}/override", params={"referral_id": "R0001", "vacancy_id": vacancy})
    assert '<li data-rule="' in check.text
    assert f'<form id="override-confirm" method="post" action="/panel/runs/{run_id}/override"' in check.text

    no_reason = panel.post(f"/panel/runs/{run_id}/override",
                           data={"referral_id": "R0001", "vacancy_id": vacancy, "reason": ""}, follow_redirects=False)
    assert no_reason.status_code == 422 and 'id="override-reason-error"' in no_reason.text  # the check page again
    assert '<li data-rule="' in no_reason.text and decisions(demo_engine) == []

    placed = panel.post(f"/panel/runs/{run_id}/override",
                        data={"referral_id": "R0001", "vacancy_id": vacancy, "reason": REASON},
                        follow_redirects=False)
    assert placed.status_code == 303 and done_of(placed).startswith(f"Overridden: R0001 placed in {vacancy}")
    [decision] = decisions(demo_engine, referral_id="R0001")
    assert decision.kind == DecisionKind.override and "Rules knowingly broken" in decision.reason
    with transaction(demo_engine) as s:
        assert s.scalar(select(Placement.vacancy_id).where(Placement.referral_id == "R0001")) == vacancy


# --- who may see what ----------------------------------------------------------------------------


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get("/panel", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sign-in?next=%2Fpanel"


def test_a_commissioner_may_not_see_the_panel(client, sign_in_as, run_id):
    commissioner = sign_in_as(Role.commissioner)
    assert commissioner.get("/panel").status_code == 403
    assert commissioner.get(f"/panel/runs/{run_id}").status_code == 403


def test_a_manager_reads_runs_but_gets_no_decision_forms(client, sign_in_as, run_id, demo_engine):
    p = first_proposal(demo_engine, run_id)
    manager = sign_in_as(Role.service_manager)
    assert manager.get("/panel").status_code == 403
    page = manager.get(f"/panel/runs/{run_id}/proposals/{p.id}")
    assert page.status_code == 200 and 'id="accept"' not in page.text and 'id="override"' not in page.text
    assert 'id="rerun"' not in manager.get(f"/panel/runs/{run_id}").text
    refused = manager.post(f"/panel/runs/{run_id}/proposals/{p.id}/accept", data={"reason": REASON},
                           follow_redirects=False)
    assert refused.status_code == 403 and decisions(demo_engine) == []


def test_an_unknown_run_is_a_404_page(client, sign_in_as):
    assert sign_in_as(Role.panel_member).get("/panel/runs/999").status_code == 404


# --- the map's geometry --------------------------------------------------------------------------


def test_projection_keeps_the_aspect_ratio():
    proj = panel_map.fit(np.array([[500_000, 150_000], [600_000, 170_000]]))
    x0, y0 = proj(550_000, 160_000)
    x1, _ = proj(551_000, 160_000)
    _, y1 = proj(550_000, 161_000)
    assert x1 - x0 == pytest.approx(y0 - y1)  # a km east is as long as a km north (and north is up)
    for e, n in ((500_000, 150_000), (600_000, 170_000)):
        x, y = proj(e, n)
        assert panel_map.PAD - 1e-6 <= x <= panel_map.WIDTH - panel_map.PAD + 1e-6
        assert panel_map.PAD - 1e-6 <= y <= panel_map.HEIGHT - panel_map.PAD + 1e-6


def test_scale_bar_is_a_round_distance():
    assert panel_map.nice_miles(27.3) == 20 and panel_map.nice_miles(7) == 5 and panel_map.nice_miles(1.4) == 1


def _more_vacancies(engine, count: int) -> None:
    """``count`` more vacancies with a free bed, spread over the demo's homes (a region's
    market: far more vacancies than a page can list)."""
    with transaction(engine) as s:
        homes = s.scalars(select(Vacancy.property_id).distinct().order_by(Vacancy.property_id)).all()
        for k in range(count):
            s.add(Vacancy(id=f"MORE-{k:04d}", property_id=homes[k % len(homes)], beds=1,
                          available_from=DEMO_DAY))


def test_override_choices_are_the_nearest_few_and_any_other_can_be_typed(client, sign_in_as, run_id, demo_engine):
    from api.pages.panel_pages import CHOICES
    from models.supply import Property

    _more_vacancies(demo_engine, 3 * CHOICES)
    p = first_proposal(demo_engine, run_id)
    panel = sign_in_as(Role.panel_member)
    page = panel.get(f"/panel/runs/{run_id}/proposals/{p.id}")
    assert page.status_code == 200
    select_html = page.text[page.text.index('<select id="override-vacancy"'):]
    listed = re.findall(r'<option value="([^"]+)"', select_html[:select_html.index("</select>")])
    with transaction(demo_engine) as s:
        alternatives = s.scalars(select(ProposedMatch.vacancy_id).where(
            ProposedMatch.match_run_id == run_id, ProposedMatch.referral_id == p.referral_id,
            ProposedMatch.rank > 0).order_by(ProposedMatch.rank)).all()
        free = s.scalar(select(func.count()).select_from(Vacancy).where(Vacancy.beds > 0))
        home = s.get(Referral, p.referral_id)
        where = {v.id: (v.property.easting, v.property.northing)
                 for v in s.scalars(select(Vacancy).where(Vacancy.id.in_(listed)))}
        nearest = sorted((((e - home.home_easting) ** 2 + (n - home.home_northing) ** 2), vid)
                         for vid, e, n in s.execute(select(Vacancy.id, Property.easting, Property.northing)
                                                    .join(Vacancy.property).where(Vacancy.beds > 0)))
    assert len(listed) <= len(alternatives) + CHOICES < free  # bounded, not the whole market
    assert listed[:len(alternatives)] == list(alternatives)
    rest = listed[len(alternatives):]
    distance = [(where[v][0] - home.home_easting) ** 2 + (where[v][1] - home.home_northing) ** 2 for v in rest]
    assert distance == sorted(distance)  # nearest the young person's home first
    assert max(distance) <= nearest[CHOICES - 1][0]  # and none further than the CHOICES-th nearest
    assert f"{free - len(listed) - 1:,} more with a free bed are not listed" in page.text  # -1: the proposal's own
    # A vacancy not listed is chosen by its reference, as typed (spaces around it forgiven).
    far = nearest[-1][1]
    assert far not in listed and 'id="override-by-reference"' in page.text
    checked = panel.get(f"/panel/runs/{run_id}/override", params={"referral_id": p.referral_id,
                                                                  "vacancy_id": f"  {far} "})
    assert checked.status_code == 200 and f"{p.referral_id} &middot; the panel's own choice" in checked.text
    assert 'id="comparison"' in checked.text and far in checked.text



def test_a_message_in_a_link_is_never_shown_only_the_one_a_form_left_once(client, sign_in_as, run_id, demo_engine):
    panel = sign_in_as(Role.panel_member)
    crafted = panel.get("/panel", params={"problem": "Your account is locked: call 0800 000 000",
                                          "done": "Placed everyone"})
    assert crafted.status_code == 200 and "0800" not in crafted.text and "Placed everyone" not in crafted.text
    p = first_proposal(demo_engine, run_id)
    panel.post(f"/panel/runs/{run_id}/proposals/{p.id}/accept", data={"reason": REASON}, follow_redirects=False)
    refused = panel.post(f"/panel/runs/{run_id}/proposals/{p.id}/accept", data={"reason": REASON},
                         follow_redirects=False)  # decided already: refused, with a one-time message
    problem = problem_of(refused)
    assert problem and set(parse_qs(urlsplit(refused.headers["location"]).query)) <= {"show"}
    shown = panel.get(refused.headers["location"])
    assert f'<div class="banner error" role="alert">{html.escape(problem).replace("&#x27;", "&#39;")}</div>' in shown.text
    again = panel.get(refused.headers["location"])  # a reload: the message was for once
    assert 'class="banner error"' not in again.text


def test_a_decision_without_a_reason_is_shown_again_with_the_error_beside_the_field(
        client, sign_in_as, run_id, demo_engine):
    """GOV.UK's pattern: the same case page (422), a summary at the top linking to the field,
    the message beside it, and what was typed kept; nothing is recorded."""
    p = first_proposal(demo_engine, run_id)
    panel = sign_in_as(Role.panel_member)
    page = panel.post(f"/panel/runs/{run_id}/proposals/{p.id}/reject", data={"reason": "no", "show": "approval"},
                      follow_redirects=False)
    assert page.status_code == 422
    summary = page.text[page.text.index('<div class="error-summary"'):]
    summary = summary[:summary.index("</div>")]
    assert '<a href="#reject-reason">Give the panel&#39;s reason for rejecting' in summary
    assert '<p class="field-error" id="reject-reason-error">' in page.text
    assert re.search(r'<textarea id="reject-reason" name="reason"[^>]*aria-invalid="true"[^>]*>no</textarea>', page.text)
    assert '<textarea id="accept-reason" name="reason" required minlength="3" maxlength="2000"></textarea>' in page.text
    assert "<title>Error: " in page.text and 'value="approval"' in page.text
    with transaction(demo_engine) as s:
        assert s.scalar(select(func.count()).select_from(Decision)) == 0
    # Sent again with a reason: back to the worklist the panel came from, at the young person's row.
    done = panel.post(f"/panel/runs/{run_id}/proposals/{p.id}/reject",
                      data={"reason": "Too far from their college", "show": "approval"}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == (f"/panel/runs/{run_id}?show=approval&at={p.referral_id}"
                                        f"#young-person-{p.referral_id}")


def test_the_worklist_filters_count_and_show_only_their_rows(client, sign_in_as, run_id, demo_engine):
    panel = sign_in_as(Role.panel_member)
    with transaction(demo_engine) as s:
        proposals = s.scalars(select(ProposedMatch).where(ProposedMatch.match_run_id == run_id,
                                                          ProposedMatch.rank == 0)).all()
        wanted = {"approval": {p.referral_id for p in proposals if p.approvals_required},
                  "out_of_area": {p.referral_id for p in proposals if p.out_of_area},
                  "over_20": {p.referral_id for p in proposals if p.miles_from_home > 20}}
    for show, ids in wanted.items():
        page = panel.get(f"/panel/runs/{run_id}", params={"show": show}).text
        rows = set(re.findall(r'<tr id="young-person-([^"]+)"', worklist(panel, run_id, show)))
        assert rows == ids, show
        assert re.search(rf'href="\?show={show}#worklist" aria-current="true">[^<]+<span class="count">\({len(ids)}\)',
                         page)
    nonsense = panel.get(f"/panel/runs/{run_id}", params={"show": "<script>"})
    assert nonsense.status_code == 200 and "<script>" not in nonsense.text.split("<main")[1].split("</main>")[0]


def test_the_worklist_comes_in_pages_and_the_panel_returns_to_the_page_it_was_on(client, sign_in_as, run_id,
                                                                                 demo_engine):
    from api.pages.panel_pages import WORKLIST_PAGE

    panel = sign_in_as(Role.panel_member)
    first = panel.get(f"/panel/runs/{run_id}").text
    ids = re.findall(r'<tr id="young-person-([^"]+)"', first)
    everyone = re.findall(r'<tr id="young-person-([^"]+)"', worklist(panel, run_id))
    assert len(ids) == WORKLIST_PAGE < len(everyone) and everyone[:WORKLIST_PAGE] == ids
    pages = -(-len(everyone) // WORKLIST_PAGE)
    assert f"Everyone: {len(everyone)} young people, 1 to {WORKLIST_PAGE} shown" in first
    assert f"Page 1 of {pages}" in first and 'id="previous-page"' not in first
    # Back from the case of someone on the last page: that page, at their row.
    last = everyone[-1]
    back = panel.get(f"/panel/runs/{run_id}", params={"at": last}).text
    assert f'<tr id="young-person-{last}"' in back and f"Page {pages} of {pages}" in back
    assert 'id="next-page"' not in back and 'id="previous-page"' in back
    # Past the last page: the last page; someone not in the run: the page asked for.
    assert f"Page {pages} of {pages}" in panel.get(f"/panel/runs/{run_id}", params={"page": 999}).text
    assert "Page 1 of" in panel.get(f"/panel/runs/{run_id}", params={"at": "R9999"}).text
    assert panel.get(f"/panel/runs/{run_id}", params={"page": "abc"}).status_code == 422
