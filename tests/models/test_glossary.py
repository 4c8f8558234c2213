"""The glossary: every code the service stores or the engine uses has its words, and a code
inside the engine's text is read in words too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matching.analyze import SIDE_CODES
from matching.rules import RULES
from models import enums, glossary

ROOT = Path(__file__).resolve().parents[2]

# Each enum and the glossary table that words it.
TABLES = [
    (enums.Tier, glossary.TIERS), (enums.Tier, glossary.TIER_HOURS), (enums.ServiceType, glossary.SERVICE_TYPES),
    (enums.Setting, glossary.SETTINGS), (enums.LegalStatus, glossary.LEGAL_STATUSES),
    (enums.Urgency, glossary.URGENCIES), (enums.OfstedGrade, glossary.OFSTED_GRADES),
    (enums.LivingWith, glossary.LIVING_WITH), (enums.Need, glossary.NEEDS),
    (enums.RiskToSelf, glossary.RISKS_TO_SELF), (enums.RiskToOthers, glossary.RISKS_TO_OTHERS),
    (enums.ReferralStatus, glossary.REFERRAL_STATUSES), (enums.PlacementStatus, glossary.PLACEMENT_STATUSES),
    (enums.FrameworkKind, glossary.FRAMEWORK_KINDS), (enums.MatchRunStatus, glossary.RUN_STATUSES),
    (enums.DecisionKind, glossary.DECISIONS), (enums.ApprovalRule, glossary.APPROVAL_REASONS),
    (enums.ApprovalRule, glossary.APPROVAL_REASONS_IN_FULL), (enums.ApprovalStatus, glossary.APPROVAL_STATUSES),
    (enums.Role, glossary.ROLES), (enums.Suitability, glossary.SUITABILITY), (enums.Sex, glossary.SEXES),
    (enums.RequestStatus, glossary.REQUEST_STATUSES), (enums.DeclineReason, glossary.DECLINE_REASONS),
]


@pytest.mark.parametrize("kind, table", TABLES, ids=lambda x: getattr(x, "__name__", ""))
def test_every_code_of_an_enum_has_its_words(kind, table):
    assert set(table) == {m.value for m in kind}
    assert all(words and "_" not in words for words in table.values())


def test_every_hard_rule_and_rule_of_the_whole_proposal_has_its_words():
    assert set(RULES) <= set(glossary.RULES)
    assert {code for code in SIDE_CODES.values() if code != "banned_by_panel"} <= set(glossary.SIDE_RULES)


def test_every_audit_action_the_code_records_has_its_words():
    """Each ``record(session, "action", ...)`` in the source (the f-string ones expand to a
    decision or approval kind) is in AUDIT_ACTIONS, so the audit page never shows a code."""
    recorded = set()
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        text = path.read_text()
        recorded |= set(re.findall(r'record\(\s*session,\s*"([a-z_]+)"', text))
        if 'f"decision_{' in text:
            recorded |= {f"decision_{k.value}" for k in enums.DecisionKind}
        if 'f"approval_{' in text:
            recorded |= {f"approval_{s.value}" for s in enums.ApprovalStatus if s != enums.ApprovalStatus.pending}
    assert recorded and recorded <= set(glossary.AUDIT_ACTIONS), sorted(recorded - set(glossary.AUDIT_ACTIONS))


def test_words_never_show_a_raw_code():
    assert glossary.words("former_relevant", glossary.LEGAL_STATUSES) == "Care leaver (18-25)"
    assert glossary.words(enums.Tier.intensive, glossary.TIERS) == "Intensive"
    assert glossary.words("a_new_code", glossary.TIERS) == "a new code"  # unknown: words, never the code


def test_codes_inside_the_engines_text_are_read_in_words():
    detail = "R0002 at P086 clashes with a resident (self_harm / to_others:sexual)"
    assert glossary.plain(detail, {"P086": "Rochester flat"}) == \
        "R0002 at Rochester flat clashes with a resident (self-harm / sexual harm to others)"
    # plain words and references are left alone (only codes are read)
    assert glossary.plain("V0041 is free from 5 December 2026") == "V0041 is free from 5 December 2026"
    assert glossary.plain("setting shared_care_experienced") == "setting shared with other care-experienced young people"


def test_every_stage_of_a_match_job_has_its_words():
    from api.jobs import STAGES

    assert set(STAGES) == set(glossary.RUN_STAGES)
