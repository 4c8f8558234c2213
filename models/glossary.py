"""One glossary: every code the service stores or the engine uses, in the words people use.

Pages, CSV files meant for people and the engine's explanations all take their words from
here, so a rule is called the same thing on the run page, in the manager's queue and in the
explanation a young person is given. A code missing from a table is shown by :func:`words`
as lower-case words (never as the raw code), and the pages' tests fail on it, so adding a
code means adding its label here.
"""

from __future__ import annotations


def words(code: object, table: dict | None = None) -> str:
    """The label for ``code`` in ``table`` (an enum's value is looked up too), else the code as
    plain words: ``shared_care_experienced`` -> ``shared care experienced``."""
    value = getattr(code, "value", code)
    if table is not None:
        for key in (code, value):
            try:
                if key in table:
                    return table[key]
            except TypeError:  # an unhashable code
                break
    return str(value).replace("_", " ").strip()


# --- who -----------------------------------------------------------------------------------------

ROLES = {
    "panel_member": "Panel member",
    "commissioner": "Commissioner",
    "service_manager": "Service manager (nominated officer)",
    "head_of_service": "Head of service",
    "director": "Director of Children's Services",
    "admin": "Administrator",
    "provider": "Provider's staff",
    "rcc_commissioner": "Regional commissioner (care co-operative)",
    "rcc_analyst": "Regional analyst (care co-operative)",
}
# Who approves, as a request names them (shorter: the queue is headed by the role)
APPROVERS = {"service_manager": "Nominated officer", "head_of_service": "Head of service",
             "director": "Director"}

# --- the young person ------------------------------------------------------------------------------

TIERS = {"standard": "Standard", "enhanced": "Enhanced", "intensive": "Intensive"}
TIER_HOURS = {"standard": "up to about 7 hours of support a week", "enhanced": "about 8 to 20 hours of support a week",
              "intensive": "more than 20 hours of support a week, up to staff around the clock"}
LEGAL_STATUSES = {
    "looked_after": "Looked after (16-17)",
    "eligible": "Eligible child (16-17, still looked after)",
    "relevant": "Relevant child (16-17, left care)",
    "former_relevant": "Care leaver (18-25)",
}
URGENCIES = {"today": "Today", "within_5_days": "Within 5 days", "over_5_days": "Over 5 days"}
NEEDS = {
    "mental_health": "mental health support", "learning_disability": "learning disability support",
    "autism_adhd": "autism or ADHD support", "physical_disability": "an adapted home (physical disability)",
    "esol": "English language support", "bsl": "British Sign Language", "makaton": "Makaton",
    "pregnant_or_parenting": "pregnant or a young parent", "offending": "youth justice support",
    "pets": "a pet", "cultural": "cultural or religious needs", "uasc": "support as an unaccompanied asylum seeker",
}
RISKS_TO_SELF = {
    "self_harm": "self-harm", "sexual_exploitation": "sexual exploitation",
    "criminal_exploitation": "criminal exploitation", "drugs_alcohol": "drugs or alcohol",
    "eating_disorder": "an eating disorder", "going_missing": "going missing",
}
RISKS_TO_OTHERS = {
    "physical": "physical harm to others", "sexual": "sexual harm to others", "fire_setting": "fire setting",
    "animals": "harm to animals", "criminal": "offending against others",
}
LIVING_WITH = {
    "solo": "on their own (a self-contained home)", "with_others": "with other young people",
    "only_older": "only with older young people", "only_younger": "only with younger young people",
    "no_preference": "no preference",
}
SEXES = {"male": "male", "female": "female", "any": "any"}
REFERRAL_STATUSES = {"open": "waiting for a home", "proposed": "a home proposed", "placed": "placed",
                     "withdrawn": "withdrawn"}

# --- homes and providers -------------------------------------------------------------------------

SERVICE_TYPES = {
    "supported_accommodation": "Supported accommodation", "supported_tenancy": "Supported tenancy",
    "floating_support": "Floating support in their own home", "supported_lodgings": "Supported lodgings",
    "staying_put": "Staying Put (with their former foster carer)", "foster_care": "Foster care",
    "childrens_home": "Children's home", "emergency": "Emergency accommodation (B&B or temporary)",
}
SETTINGS = {
    "self_contained": "self-contained", "shared_care_experienced": "shared with other care-experienced young people",
    "shared_mixed": "shared with other residents", "private_residence": "a private home",
}
OFSTED_GRADES = {"outstanding": "Outstanding", "good": "Good", "requires_improvement": "Requires improvement",
                 "inadequate": "Inadequate"}
FRAMEWORK_KINDS = {"framework": "Framework", "dps": "Dynamic purchasing system", "block": "Block contract",
                   "spot": "Spot purchase (off framework)", "in_house": "The council's own"}
SUITABILITY = {"preferred": "preferred", "suitable": "suitable", "unsuitable": "unsuitable"}

# --- the panel and approvals ---------------------------------------------------------------------

RUN_STATUSES = {"queued": "Waiting to start", "running": "Running", "succeeded": "Finished",
                "failed": "Failed", "cancelled": "Cancelled"}
RUN_STAGES = {"queued": "waiting to start", "loading": "reading the queue",
              "eligibility": "checking which homes each young person may have",
              "solving": "finding the best proposal", "explaining": "writing the reasons for each proposal",
              "done": "done"}
DECISIONS = {"accept": "Accepted", "reject": "Rejected", "override": "Panel's own choice",
             "lock": "Locked for the re-run", "ban": "Banned for the re-run", "lift": "Lifted for the re-run"}
PLACEMENT_STATUSES = {"proposed": "Accepted by the panel", "awaiting_approval": "Waiting for approval",
                      "active": "Active", "ended": "Ended", "rejected": "Refused by a manager"}
APPROVAL_STATUSES = {"pending": "Waiting for a decision", "approved": "Approved", "rejected": "Refused"}
# Why an approval is needed: short (a tag or a column) and in full (a request's page)
APPROVAL_REASONS = {
    "out_of_area": "Out of the council's area",
    "at_a_distance": "At a distance (not an adjoining authority)",
    "over_20_miles": "More than 20 miles from home",
    "unregistered": "Not registered with Ofsted",
    "emergency": "Emergency accommodation",
    "cost_ceiling": "Above the cost ceiling for its tier",
    "rules_broken": "The panel's choice breaks a rule",
}
APPROVAL_REASONS_IN_FULL = {
    "out_of_area": "the home is outside the council's area (reg. 11: the nominated officer approves)",
    "at_a_distance": "the home is outside the council's area and not in an adjoining authority "
                     "(reg. 11: the Director of Children's Services approves)",
    "over_20_miles": "the home is more than {miles:g} miles from the young person's home",
    "unregistered": "the setting is not registered with Ofsted",
    "emergency": "the home is emergency accommodation (B&B or temporary)",
    "cost_ceiling": "the weekly cost is above the council's ceiling for its tier",
    "rules_broken": "the panel's own choice breaks a hard rule (see the rules listed)",
}

# --- the engine's rules and measures -------------------------------------------------------------

# Why a home is not open to a young person (the hard rules), as the panel reads it
RULES = {
    "banned_by_panel": "banned by the panel",
    "beyond_distance_cap": "too far from home",
    "declined_by_provider": "the provider declined them",
    "not_available_in_time": "not free in time",
    "tier_not_offered": "no support at the tier needed",
    "age_out_of_range": "outside the home's age range",
    "under_16_in_supported_accommodation": "under 16",
    "unregistered_for_under_18": "not Ofsted-registered for an under-18",
    "sex_restricted": "the home is for the other sex",
    "need_not_met": "a need the home cannot meet",
    "risk_excluded": "a risk the home cannot manage",
    "type_unsuitable": "a type marked unsuitable",
    "dol_in_registered_supported_accommodation": "a DoL order (not in registered supported accommodation)",
    "inside_exclusion_zone": "inside an area to keep away from",
    "grade_below_good": "provider graded below good",
    "emergency_for_under_18": "emergency accommodation for an under-18",
    "staying_put_not_reserved": "a Staying Put bed kept for another young person",
    "solo_needs_self_contained": "needs to live alone (self-contained only)",
    "resident_risk_clash": "a current resident's risks clash with theirs",
    "intensive_cap_full": "the home already has its most intensive-support residents",
    "support_hours": "the support package has fewer hours a week free than they need",
    "sibling_no_common_property": "no home can take the sibling group together",
    "locked_elsewhere": "the bed is locked for someone else",
    "unknown_referral": "no such young person in the queue",
    "unknown_vacancy": "no such vacancy",
}
# The rules that hold across the whole proposal (not one pair at a time)
SIDE_RULES = {
    "lock_not_honoured": "the panel has locked the young person to another vacancy",
    "siblings_split": "it would separate a sibling group",
    "co_residency": "it shares a home with someone whose risks clash",
    "intensive_cap": "the home would have more young people needing intensive support than it allows",
    "beds_exceeded": "more young people than free beds",
    "over_budget": "it would take the week's total over the budget cap",
    "support_hours_exceeded": "the support package would be asked for more hours a week than it has free",
    "placed_twice": "the young person would be placed twice",
}
# What the engine weighs in choosing between homes (never shown with its weight)
WEIGHED = {
    "pen_home_miles": "distance from home",
    "pen_education_miles": "distance from school, college or work",
    "pen_over_20_miles": "more than 20 miles from home",
    "pen_out_of_area": "outside the council's area",
    "pen_at_a_distance": "at a distance (not an adjoining authority)",
    "pen_over_provision": "support tier above the assessed need",
    "pen_not_preferred": "a suitable but not preferred type",
    "pen_outside_preferred": "outside the preferred area",
    "pen_emergency": "emergency accommodation",
    "pen_weekly_cost": "weekly cost",
}
# How sure the engine is of its answer (a run's solver status)
PROOF = {
    "OPTIMAL": "the best proposal there is under the council's policy (proven)",
    "FEASIBLE": "a good proposal; the best possible may be a little better",
    "INFEASIBLE": "no proposal can keep to every rule and panel decision",
    "UNKNOWN": "no proposal was found in the time allowed",
}

# --- the audit log -------------------------------------------------------------------------------

AUDIT_ACTIONS = {
    "sign_in": "Signed in", "sign_in_failed": "Sign-in failed", "sign_out": "Signed out",
    "user_created": "User added", "user_updated": "User changed",
    "match_run": "Match run recorded", "match_run_submitted": "Match run started",
    "match_run_cancelled": "Match run cancelled", "match_run_failed": "Match run failed",
    "match_run_memory": "Locks and bans carried to a re-run",
    "decision_accept": "Proposal accepted", "decision_reject": "Proposal rejected",
    "decision_override": "Panel's own choice recorded", "decision_lock": "Locked for a re-run",
    "decision_ban": "Banned for a re-run", "decision_lift": "Lock or ban lifted",
    "placement_created": "Placement created", "placement_approved": "Placement approved",
    "placement_rejected": "Placement refused", "approval_approved": "Approval given",
    "approval_rejected": "Approval refused", "approval_refused": "Approval not allowed",
    "approval_closed": "Approval request closed", "ofsted_grade_changed": "Ofsted grade changed",
    "placement_review_flagged": "Placement flagged for review", "scenario_run": "Tender scenario run",
    "forecast_scenario_saved": "Forecast what-if saved", "import": "File imported",
}
AUDIT_RECORDS = {
    "user": "User", "match_run": "Match run", "decision": "Panel decision", "placement": "Placement",
    "approval_request": "Approval request", "provider": "Provider", "scenario_result": "Tender scenario result",
    "forecast_scenario": "Forecast what-if", "referrals": "Referrals file", "vacancies": "Vacancies file",
    "providers": "Providers file", "properties": "Homes file", "residents": "Residents file",
}

# Tender scenarios and the forecast
# What a tender scenario run measures (scenarios.simulate.KPIS), as the comparison names them
SCENARIO_MEASURES = {
    "placements_made": "Placements made in the year",
    "spot_purchases": "Spot purchases in the year",
    "emergency_nights": "Nights in emergency accommodation in the year",
    "unmet_need": "Young people waiting for a home (average at a month's end)",
    "total_cost": "Total cost of the year",
    "weekly_cost": "Cost a week",
    "unit_weekly_cost": "Cost a week for each young person placed",
    "void_cost": "Cost of empty block beds in the year",
    "trial_stay_cost": "Cost of trial stays before placements in the year",
    "floating_support_cost": "Cost of floating support packages in the year (part of the total)",
    "share_over_20_miles": "New placements more than 20 miles from home",
    "share_out_of_area": "New placements outside the council's area",
    "average_wait_days": "Average wait for a home (days)",
}
SCENARIO_STATUSES = {"running": "Running", "succeeded": "Finished", "failed": "Failed", "cancelled": "Cancelled"}
# The forecast's states of a young person (scenarios.cohort.STATES)
FORECAST_STATES = {
    "la_fostering": "Looked after: fostering", "la_residential": "Looked after: residential",
    "la_supported": "Looked after: supported accommodation", "la_other": "Looked after: other",
    "staying_put": "Staying Put", "care_leaver": "Care leaver", "out": "No longer looked after or supported",
}
AUDIT_ACTIONS["scenario_run_cancelled"] = "Tender scenario run cancelled"

# Tender evaluation (providers.tender_evaluation): what a bid in the ranking is flagged for
TENDER_FLAGS = {
    "tie": "Tied on total score",
    "abnormally_low": "Abnormally low price",
    "needs_moderation": "Evaluators' scores need moderating",
}
PRICE_METHODS = {
    "lowest_price": "Lowest price / bid price x price weight",
    "percentage_above_lowest": "Price weight, less the percentage the bid is above the lowest",
}
AUDIT_ACTIONS["tender_awarded"] = "Tender awarded"
AUDIT_ACTIONS["tender_evaluated"] = "Tender's bids evaluated"
AUDIT_RECORDS["framework"] = "Framework"
AUDIT_RECORDS["tender_evaluation"] = "Tender evaluation"

# Referrals sent to providers and their answers (models.market, providers.offers)
REQUEST_STATUSES = {"sent": "Waiting for an answer", "offered": "Offered a bed", "declined": "Declined"}
DECLINE_REASONS = {
    "no_vacancy": "No free bed in time",
    "needs_not_met": "Cannot meet the young person's needs",
    "risks_not_manageable": "Cannot manage the risks",
    "resident_mix": "Would not suit the young people living there",
    "area_not_covered": "Does not cover the area wanted",
    "start_date": "Cannot start when needed",
    "price": "Cannot offer at a viable price",
    "other": "Another reason",
}
AUDIT_ACTIONS["referral_sent_to_providers"] = "Referral sent to providers"
AUDIT_ACTIONS["referral_offer_made"] = "Provider offered a bed"
AUDIT_ACTIONS["referral_declined"] = "Provider declined a referral"
AUDIT_ACTIONS["vacancy_updated_by_provider"] = "Provider updated a vacancy"
AUDIT_ACTIONS["home_updated_by_provider"] = "Provider updated what a home can meet"
TRIAL_STATUSES = {"booked": "Booked", "cancelled": "Cancelled"}
AUDIT_ACTIONS["trial_stay_booked"] = "Trial stay booked"
AUDIT_ACTIONS["trial_stay_cancelled"] = "Trial stay cancelled"
AUDIT_RECORDS["referral_request"] = "Referral sent to a provider"


# --- codes inside text ---------------------------------------------------------------------------

import re  # noqa: E402 (the tables above are the module; this is the one helper that reads text)

_PLAIN_TABLES = (RULES, SIDE_RULES, NEEDS, RISKS_TO_SELF, SERVICE_TYPES, SETTINGS, LEGAL_STATUSES,
                 LIVING_WITH, OFSTED_GRADES, URGENCIES, ROLES)
_CODE = re.compile(r"\bto_others:([a-z_]+)\b|\b[a-z]+(?:_[a-z0-9]+)+\b")


def plain(text: str, names: dict[str, str] | None = None) -> str:
    """Text written by the engine (a rule's detail) with every code in it in words: a risk
    ``to_others:sexual`` reads "sexual harm to others", ``shared_care_experienced`` reads as
    the setting does, and each id in ``names`` (a home's reference) by its name."""
    def word(match: re.Match) -> str:
        if match.group(1) is not None:
            return RISKS_TO_OTHERS.get(match.group(1), match.group(1).replace("_", " "))
        code = match.group(0)
        for table in _PLAIN_TABLES:
            if code in table:
                return str(table[code])[:1].lower() + str(table[code])[1:] if table is not ROLES else table[code]
        return code.replace("_", " ")

    out = _CODE.sub(word, text)
    for code, name in (names or {}).items():
        out = re.sub(rf"\b{re.escape(code)}\b", name, out)
    return out
