"""Tender evaluation: bids scored price against quality exactly as a hand-worked table says
(both price methods, a tie, an abnormally low bid, a moderated score), the award the rule
gives, and every kind of bad input refused with its file, row, column or line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from providers.tender_evaluation import evaluate, ranking_rows
from providers.tender_files import TenderFilesRefused, read_tender

TENDER = """\
name: Test framework
placing_authority: E06000035
starts_on: 2027-04-01
ends_on: 2031-03-31
price_weight: 60
quality_weight: 40
price_method: {method}
quality_scale: 5
moderate_spread: 2
abnormally_low_percent: 20
award: {{top: 2}}
criteria:
  - {{id: q1, name: Safeguarding, weight: 25}}
  - {{id: q2, name: Outcomes, weight: 15}}
evaluators:
  - {{id: E1, name: Officer}}
  - {{id: E2, name: Social worker, conflicts: [X9]}}
lots:
  - number: 1
    name: Supported accommodation
    service_type: supported_accommodation
    tiers: [standard, enhanced]
    tier_mix: {{standard: 0.5, enhanced: 0.5}}
bids: bids.csv
scores: scores.csv
moderation: moderation.csv
"""
BIDS = """\
bidder_id,bidder_name,lot,price_standard,price_enhanced,price_intensive,capacity_beds
A,Alder Homes,1,1000,1400,,5
B,Birch Housing,1,900,1500,,4
C,Cedar Support,1,1200,1800,,6
D,Dune Lodgings,1,600,800,,3
"""
# (q1 E1, q1 E2, q2 E1, q2 E2) for each bidder; C's q2 is 2 apart and moderated to 4.
MARKS = {"A": (4, 4, 3, 3), "B": (4, 4, 3, 3), "C": (5, 5, 5, 3), "D": (2, 2, 2, 2)}
MODERATION = "bidder_id,lot,criterion,agreed_score,note\nC,1,q2,4,Agreed at moderation\n"


def scores_csv(marks=MARKS) -> str:
    rows = ["bidder_id,lot,criterion,evaluator,score"]
    for bidder, (a, b, c, d) in marks.items():
        rows += [f"{bidder},1,q1,E1,{a}", f"{bidder},1,q1,E2,{b}", f"{bidder},1,q2,E1,{c}", f"{bidder},1,q2,E2,{d}"]
    return "\n".join(rows) + "\n"


def write(folder: Path, *, method="lowest_price", tender=None, bids=BIDS, scores=None, moderation=MODERATION) -> Path:
    (folder / "bids.csv").write_text(bids)
    (folder / "scores.csv").write_text(scores if scores is not None else scores_csv())
    (folder / "moderation.csv").write_text(moderation)
    path = folder / "tender.yaml"
    path.write_text(tender if tender is not None else TENDER.format(method=method))
    return path


def by_bidder(evaluation):
    return {r.bid.bidder_id: r for r in evaluation.lots[1]}


def test_the_ranking_matches_the_hand_worked_table(tmp_path):
    # Lot prices (half the weeks at each tier): A 1,200, B 1,200, C 1,500, D 700; median 1,200,
    # so D is more than 20% under it (below 960). Price = 700 / price x 60: A and B 35, C 28,
    # D 60. Quality = score / 5 x weight: A and B 4 x 5 + 3 x 3 = 29; C 25 + 4 (agreed) x 3 = 37;
    # D 10 + 6 = 16. Totals: D 76, C 65, A 64, B 64.
    evaluation = evaluate(read_tender(write(tmp_path)))
    r = by_bidder(evaluation)
    assert {b: (x.lot_price, round(x.price_score, 2), round(x.quality_score, 2), x.total) for b, x in r.items()} == {
        "A": (1200, 35.0, 29.0, 64.0), "B": (1200, 35.0, 29.0, 64.0), "C": (1500, 28.0, 37.0, 65.0),
        "D": (700, 60.0, 16.0, 76.0)}
    assert [(x.bid.bidder_id, x.rank) for x in evaluation.lots[1]] == [("D", 1), ("C", 2), ("A", 3), ("B", 3)]
    assert r["D"].flags == ["abnormally_low"] and not r["D"].awarded and "abnormally low" in r["D"].left_out
    assert r["A"].flags == ["tie"] and r["A"].tied_with == ["B"] and r["B"].tied_with == ["A"]
    # C's outcomes: the evaluators 2 apart, so the moderated 4 is used and the spread shown.
    q2 = next(c for c in r["C"].criteria if c.criterion == "q2")
    assert (q2.by_evaluator, q2.agreed, q2.used, q2.spread, q2.needs_moderation) == (
        (("E1", 5), ("E2", 3)), 4, 4, 2, False)
    # Top 2 of the bids that may be awarded (D is left out): C, then A and B tied for the second place.
    assert sorted(x.bid.bidder_id for x in evaluation.awarded()) == ["A", "B", "C"]
    assert evaluation.award_problems() == [] and evaluation.medians == {1: 1200}


def test_the_percentage_above_lowest_method_scores_dear_bids_down_to_nothing(tmp_path):
    # 60 x (1 - (price - 700) / 700): A and B 60 x 2/7 = 17.14; C is more than twice D's price: 0.
    r = by_bidder(evaluate(read_tender(write(tmp_path, method="percentage_above_lowest"))))
    assert {b: round(x.price_score, 2) for b, x in r.items()} == {"A": 17.14, "B": 17.14, "C": 0.0, "D": 60.0}


def test_an_explained_abnormally_low_bid_is_awarded_and_a_min_score_rule_awards_all_above_it(tmp_path):
    text = TENDER.format(method="lowest_price").replace("award: {top: 2}", "award: {min_score: 64.5}\nexplained: [D]")
    evaluation = evaluate(read_tender(write(tmp_path, tender=text)))
    assert sorted(x.bid.bidder_id for x in evaluation.awarded()) == ["C", "D"]
    assert "abnormally_low" in by_bidder(evaluation)["D"].flags  # still flagged: the explanation is on file


def test_scores_too_far_apart_without_moderation_stop_the_award(tmp_path):
    evaluation = evaluate(read_tender(write(tmp_path, moderation="bidder_id,lot,criterion,agreed_score\n")))
    c = by_bidder(evaluation)["C"]
    assert "needs_moderation" in c.flags and next(x for x in c.criteria if x.criterion == "q2").used == 4  # the mean
    assert evaluation.award_problems()[0].startswith("moderate these scores first")
    assert "C's lot 1 bid on q2 (scores 2 apart)" in evaluation.award_problems()[0]


def test_the_ranking_table_shows_every_score_in_words(tmp_path):
    rows = ranking_rows(evaluate(read_tender(write(tmp_path))))
    c = next(row for row in rows if row["Bidder reference"] == "C")
    assert c["Lot"] == "1: Supported accommodation" and c["Rank"] == 2 and c["Awarded"] == "yes"
    assert (c["Standard weekly price"], c["Enhanced weekly price"], c["Intensive weekly price"]) == (1200, 1800, None)
    assert (c["Outcomes: score used"], c["Outcomes: spread"], c["Total score"]) == (4, 2, 65.0)
    a = next(row for row in rows if row["Bidder reference"] == "A")
    assert a["Flags"] == "Tied on total score with B"


def problems(tmp_path, **files) -> list[str]:
    with pytest.raises(TenderFilesRefused) as refused:
        read_tender(write(tmp_path, **files))
    return [str(p) for p in refused.value.problems]


@pytest.mark.parametrize(("files", "expected"), [
    ({"bids": BIDS + "E,Elm,7,900,1200,,2\n"}, "bids.csv row 6, column lot: there is no lot 7 in this tender"),
    ({"bids": BIDS.replace("A,Alder Homes,1,1000,1400", "A,Alder Homes,1,1000,")},
     "bids.csv row 2, column price_enhanced: lot 1 offers enhanced support: give the weekly price for it"),
    ({"bids": BIDS.replace("1400,,5", "1400,2600,5")},
     "bids.csv row 2, column price_intensive: lot 1 does not offer intensive support"),
    ({"bids": BIDS + "A,Alder Homes,1,1000,1400,,5\n"},
     "bids.csv row 6, column bidder_id: A has already bid for lot 1 (row 2)"),
    ({"scores": scores_csv({**MARKS, "A": (4, 6, 3, 3)})},
     "scores.csv row 3, column score: 6 is outside the scale: scores run from 0 to 5"),
    ({"scores": scores_csv() + "X9,1,q1,E2,3\n"}, "scores.csv row 18, column bidder_id: X9 made no bid for lot 1"),
    ({"scores": scores_csv() + "A,1,q3,E1,3\n"}, "scores.csv row 18, column criterion: 'q3' is not a valid criterion"),
    ({"scores": "\n".join(scores_csv().splitlines()[:-4]) + "\n"},
     "bids.csv row 5, column bidder_id: D's lot 1 bid has no quality score for q1, q2"),
])
def test_bad_bids_and_scores_are_refused_naming_file_row_and_column(tmp_path, files, expected):
    assert any(p.startswith(expected) for p in problems(tmp_path, **files)), problems(tmp_path, **files)


def test_an_evaluator_may_not_score_a_bidder_they_declared_an_interest_in(tmp_path):
    bids = BIDS + "X9,Xylem Care,1,1000,1500,,2\n"
    marks = scores_csv({**MARKS, "X9": (3, 3, 3, 3)})
    found = problems(tmp_path, bids=bids, scores=marks)
    assert "scores.csv row 19, column evaluator: E2 (Social worker) has declared an interest in X9, so may not " \
           "score its bid" in found
    # Scored by E1 alone it is accepted (allowed / refused in a pair).
    alone = "\n".join(line for line in marks.splitlines() if not line.startswith("X9,1,q1,E2") and
                      not line.startswith("X9,1,q2,E2")) + "\n"
    assert len(read_tender(write(tmp_path, bids=bids, scores=alone)).bids) == 5


@pytest.mark.parametrize(("change", "expected"), [
    (("price_weight: 60", "price_weight: 70"),
     "tender.yaml line 1: price_weight (70) and quality_weight (40) must add up to 100"),
    (("  - {id: q2, name: Outcomes, weight: 15}", "  - {id: q2, name: Outcomes, weight: 10}"),
     "the criteria's weights add up to 35; they must add up to quality_weight (40)"),
    (("award: {top: 2}", "award: {top: 2, min_score: 50}"), "line 11, award: give the award as top: N or as min_score"),
    (("    tiers: [standard, enhanced]", "    tiers: [standard, luxury]"), "line 22, lots > 1 > tiers > 2: Input should be 'standard', 'enhanced' or 'intensive'"),
    (("name: Test framework", "name: Test framework\nbudget: 9"), "line 2, budget: unknown key"),
])
def test_a_bad_tender_file_is_refused_at_its_line(tmp_path, change, expected):
    text = TENDER.format(method="lowest_price").replace(*change)
    found = problems(tmp_path, tender=text)
    assert any(expected in p for p in found), found


def test_an_alias_bomb_tender_file_is_refused_unread(tmp_path):
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    assert "does not accept anchors or aliases" in problems(tmp_path, tender=bomb)[0]


def test_a_lot_no_award_can_fill_is_named(tmp_path):
    text = TENDER.format(method="lowest_price").replace("bids: bids.csv", textwrap.dedent("""\
          - number: 2
            name: Floating support
            service_type: floating_support
            tiers: [standard]
        bids: bids.csv"""))
    problems_found = evaluate(read_tender(write(tmp_path, tender=text))).award_problems()
    assert problems_found == ["lot 2 (Floating support) would have no provider: no bid was made for it"]
