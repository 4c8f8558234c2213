"""The closed vocabularies of placematch.

Values are the lower-case codes used in the interchange CSVs, the database and the API, so a
code read from a file is stored and shown unchanged. Where an order matters (support tiers,
Ofsted grades, urgency) the enum carries a ``rank`` so rules can compare members without
relying on declaration order.
"""

from __future__ import annotations

import enum


class _Coded(str, enum.Enum):
    """A string enum whose value is the code written in files and the database."""

    def __str__(self) -> str:  # so f-strings and CSV writers show the code, not Class.member
        return self.value

    @classmethod
    def codes(cls) -> list[str]:
        return [m.value for m in cls]


class Tier(_Coded):
    """Assessed support need, ordered: a higher tier can serve a lower need (over-provision)."""

    standard = "standard"  # up to about 7 hours of support a week
    enhanced = "enhanced"  # about 8-20 hours a week
    intensive = "intensive"  # above 20 hours, up to 24-hour staffing or 2:1

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]

    def covers(self, need: "Tier") -> bool:
        """True when support at this tier meets a young person assessed at ``need``."""
        return self.rank >= need.rank


_TIER_RANK = {Tier.standard: 0, Tier.enhanced: 1, Tier.intensive: 2}


class ServiceType(_Coded):
    supported_accommodation = "supported_accommodation"  # shared homes, staff on site
    supported_tenancy = "supported_tenancy"  # flats with floating support
    floating_support = "floating_support"  # support into the young person's own home
    supported_lodgings = "supported_lodgings"  # a room in a host's home
    staying_put = "staying_put"  # 18+ staying with the former foster carer, to 21
    foster_care = "foster_care"
    childrens_home = "childrens_home"
    emergency = "emergency"  # B&B / temporary: last resort, never for under-18s


class Setting(_Coded):
    """The four setting categories of the Supported Accommodation (England) Regulations 2023."""

    self_contained = "self_contained"
    shared_care_experienced = "shared_care_experienced"
    shared_mixed = "shared_mixed"
    private_residence = "private_residence"

    @property
    def is_shared(self) -> bool:
        return self in (Setting.shared_care_experienced, Setting.shared_mixed)


class LegalStatus(_Coded):
    """Children Act 1989 statuses of a young person aged 16-25."""

    looked_after = "looked_after"  # care order s.31 or accommodated under s.20 (incl. UASC)
    eligible = "eligible"  # 16-17, looked after 13+ weeks since 14, still looked after
    relevant = "relevant"  # 16-17, was eligible, no longer looked after
    former_relevant = "former_relevant"  # 18-21, or to 25 in education/training or on request

    @property
    def is_looked_after(self) -> bool:
        """Reg. 11 distance approvals apply to looked-after children (incl. eligible)."""
        return self in (LegalStatus.looked_after, LegalStatus.eligible)


class Urgency(_Coded):
    today = "today"
    within_5_days = "within_5_days"
    over_5_days = "over_5_days"

    @property
    def rank(self) -> int:
        """0 is the most urgent."""
        return _URGENCY_RANK[self]

    @property
    def days(self) -> int:
        """Latest day, counted from the panel date, by which a bed must be available."""
        return _URGENCY_DAYS[self]


_URGENCY_RANK = {Urgency.today: 0, Urgency.within_5_days: 1, Urgency.over_5_days: 2}
_URGENCY_DAYS = {Urgency.today: 0, Urgency.within_5_days: 5, Urgency.over_5_days: 28}


class OfstedGrade(_Coded):
    outstanding = "outstanding"
    good = "good"
    requires_improvement = "requires_improvement"
    inadequate = "inadequate"

    @property
    def rank(self) -> int:
        """0 is the best grade."""
        return _GRADE_RANK[self]

    @property
    def good_or_better(self) -> bool:
        return self.rank <= _GRADE_RANK[OfstedGrade.good]


_GRADE_RANK = {
    OfstedGrade.outstanding: 0,
    OfstedGrade.good: 1,
    OfstedGrade.requires_improvement: 2,
    OfstedGrade.inadequate: 3,
}


class Sex(_Coded):
    """A young person's recorded sex (SSDA903 SEX 1/2), or ``any`` for a property open to all."""

    male = "male"
    female = "female"
    any = "any"


class LivingWith(_Coded):
    """Who the young person can live with (Placements Data Standard ``livingCompanions``)."""

    solo = "solo"  # solo placement recommended: self-contained settings only
    with_others = "with_others"
    only_older = "only_older"
    only_younger = "only_younger"
    no_preference = "no_preference"


class Suitability(_Coded):
    """Suitability of a placement type for a young person (Placements Data Standard)."""

    preferred = "preferred"
    suitable = "suitable"  # suitable but not preferred: allowed, penalised
    unsuitable = "unsuitable"


class Need(_Coded):
    """Needs a property must say it can meet (``accepts_needs``)."""

    mental_health = "mental_health"
    learning_disability = "learning_disability"
    autism_adhd = "autism_adhd"
    physical_disability = "physical_disability"  # home adaptation
    esol = "esol"
    bsl = "bsl"
    makaton = "makaton"
    pregnant_or_parenting = "pregnant_or_parenting"  # parent-and-child placements
    offending = "offending"  # youth justice involvement
    pets = "pets"
    cultural = "cultural"
    uasc = "uasc"  # unaccompanied asylum-seeking child: immigration and trauma support


class RiskToSelf(_Coded):
    self_harm = "self_harm"
    sexual_exploitation = "sexual_exploitation"
    criminal_exploitation = "criminal_exploitation"
    drugs_alcohol = "drugs_alcohol"
    eating_disorder = "eating_disorder"
    going_missing = "going_missing"


class RiskToOthers(_Coded):
    physical = "physical"
    sexual = "sexual"
    fire_setting = "fire_setting"
    animals = "animals"
    criminal = "criminal"


# A property excludes risks by code; risks to others are written with a prefix so that
# "sexual" (to others) and "sexual_exploitation" (to self) cannot be confused in one list.
RISK_TO_OTHERS_PREFIX = "to_others:"


def risk_codes() -> list[str]:
    """Every code a property's ``excludes_risks`` may hold."""
    return RiskToSelf.codes() + [RISK_TO_OTHERS_PREFIX + c for c in RiskToOthers.codes()]


class ReferralStatus(_Coded):
    open = "open"  # waiting in the panel queue
    proposed = "proposed"  # a placement has been proposed and awaits decisions/approvals
    placed = "placed"
    withdrawn = "withdrawn"


class PlacementStatus(_Coded):
    proposed = "proposed"  # accepted by the panel, approvals not yet requested
    awaiting_approval = "awaiting_approval"
    active = "active"
    ended = "ended"
    rejected = "rejected"  # a manager refused it: back to the panel


class FrameworkKind(_Coded):
    framework = "framework"
    dps = "dps"  # dynamic purchasing system
    block = "block"  # beds bought whether used or not
    spot = "spot"  # off-framework
    in_house = "in_house"  # the council's own supported lodgings / Staying Put carers


class MatchRunStatus(_Coded):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class DecisionKind(_Coded):
    accept = "accept"
    reject = "reject"  # also kept out of every later re-run, as a ban, until lifted
    override = "override"
    lock = "lock"
    ban = "ban"
    lift = "lift"  # the panel takes back a lock, ban or rejection carried to the next run


class ApprovalRule(_Coded):
    out_of_area = "out_of_area"  # reg. 11: nominated officer
    at_a_distance = "at_a_distance"  # reg. 11: Director of Children's Services
    over_20_miles = "over_20_miles"  # Medway's local rule: Director
    unregistered = "unregistered"
    emergency = "emergency"
    cost_ceiling = "cost_ceiling"
    rules_broken = "rules_broken"  # the panel's own choice breaks a hard rule (an override)


class ApprovalStatus(_Coded):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Role(_Coded):
    panel_member = "panel_member"
    commissioner = "commissioner"
    service_manager = "service_manager"  # the nominated officer for reg. 11
    head_of_service = "head_of_service"
    director = "director"  # Director of Children's Services
    admin = "admin"
    provider = "provider"  # a provider's own staff: their homes, and the referrals sent to them
    # A Regional Care Co-operative's staff: the shared market and the region's figures, never a
    # young person's record (models.tenancy).
    rcc_commissioner = "rcc_commissioner"
    rcc_analyst = "rcc_analyst"


class RequestStatus(_Coded):
    """A referral sent to one provider (models.market.ReferralRequest), and its answer."""

    sent = "sent"  # waiting for the provider's answer (until its deadline)
    offered = "offered"  # the provider offered a bed: a candidate in the panel's next match run
    declined = "declined"


class TrialStatus(_Coded):
    """A trial stay (models.trials.TrialStay): booked, or called off before it began."""

    booked = "booked"
    cancelled = "cancelled"


class DeclineReason(_Coded):
    """Why a provider declined a referral: the coded reasons commissioners count."""

    no_vacancy = "no_vacancy"
    needs_not_met = "needs_not_met"
    risks_not_manageable = "risks_not_manageable"
    resident_mix = "resident_mix"
    area_not_covered = "area_not_covered"
    start_date = "start_date"
    price = "price"
    other = "other"


# How the Placements Data Standard v2 (draft) names what placematch codes, so a referral
# recorded in the standard's terms converts without guesswork (tests check every option).
PLACEMENTS_STANDARD = {
    "neededBy": {
        "Today": Urgency.today,
        "in less than 5 days": Urgency.within_5_days,
        "in more than 5 days": Urgency.over_5_days,
    },
    "livingCompanions": {
        "Solo placement recommended": LivingWith.solo,
        "With other children recommended": LivingWith.with_others,
        "Only with other older children": LivingWith.only_older,
        "Only with other younger children": LivingWith.only_younger,
        "No preference": LivingWith.no_preference,
    },
    "specificCommunicationRequirements": {
        "ESOL": Need.esol, "BSL": Need.bsl, "Makaton": Need.makaton, "Other": None, "None": None,
    },
    "suitability": {
        "Preferred": Suitability.preferred,
        "Suitable but not preferred": Suitability.suitable,
        "Unsuitable": Suitability.unsuitable,
        "Not specified": None,
    },
    "risks": {
        "riskSelfHarm": RiskToSelf.self_harm,
        "riskSexualExploitation": RiskToSelf.sexual_exploitation,
        "riskCriminalExploitation": RiskToSelf.criminal_exploitation,
        "riskDrugAlcohol": RiskToSelf.drugs_alcohol,
        "riskEatingDisorder": RiskToSelf.eating_disorder,
        "riskMissing": RiskToSelf.going_missing,
        "riskToOthersPhysical": RiskToOthers.physical,
        "riskToOthersSexual": RiskToOthers.sexual,
        "riskToOthersFire": RiskToOthers.fire_setting,
        "riskToOthersAnimals": RiskToOthers.animals,
        "riskToOthersCriminal": RiskToOthers.criminal,
    },
}
