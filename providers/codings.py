"""The codings councils' files use, one table per column (issue 16, part 1): every case system
and the SSDA903 return code sex, legal status, placement type and Ofsted grade their own way, so
the importer reads each documented spelling as placematch's own code, and refuses anything else
naming the forms it accepts.

A table maps a spelling (compared without case, spaces, hyphens or underscores: "Requires
improvement", "requires_improvement" and "REQUIRES-IMPROVEMENT" are one) to placematch's code.
placematch's own codes are always accepted, and so are they written as words ("Looked after",
"Requires improvement", "Supported lodgings"). The README's *Codings councils use* lists the tables.

Sources: the DfE's SSDA903 guidance (SEX 1 male / 2 female; legal status LS codes; placement
type PLACE codes; the care leavers' OC3 ACCOM codes, whose suffix 1 or 2 says suitable or not),
and Ofsted's four grades as words or as the 1-4 its reports print.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from models.enums import LegalStatus, OfstedGrade, ServiceType, Sex
from providers.csvfiles import CellError

_SQUASH = re.compile(r"[\s_\-]+")


def key(spelling: str) -> str:
    """A spelling compared without case, spaces, hyphens or underscores."""
    return _SQUASH.sub("", spelling.strip().lower())


# --- the tables: spelling -> placematch's code -------------------------------------------------

SEX_OF_A_YOUNG_PERSON: dict[str, str] = {
    "1": "male", "M": "male", "Male": "male", "Boy": "male",
    "2": "female", "F": "female", "Female": "female", "Girl": "female",
}
# A home's sex restriction: the same, plus "any" (the codes above mean that sex only).
SEX_OF_A_HOME: dict[str, str] = {**SEX_OF_A_YOUNG_PERSON, "Mixed": "any", "Both": "any", "All": "any"}

# SSDA903 legal status (LS) codes are all looked after; the care-leaver statuses are written out.
LEGAL_STATUS: dict[str, str] = {
    **{code: "looked_after" for code in ("C1", "C2", "D1", "E1", "J1", "J2", "J3", "L1", "L2", "L3", "V2", "V3",
                                         "V4")},
    "Looked after": "looked_after", "CLA": "looked_after", "Child looked after": "looked_after",
    "LAC": "looked_after", "Eligible child": "eligible", "Relevant child": "relevant",
    "Former relevant": "former_relevant", "Former relevant child": "former_relevant",
    "Care leaver": "former_relevant",
}

# SSDA903 placement types (PLACE) and the care leavers' accommodation (OC3 ACCOM, suffix 1 or 2).
SERVICE_TYPE: dict[str, str] = {
    **{f"U{k}": "foster_care" for k in range(1, 7)},  # foster placements
    "K2": "childrens_home",  # a children's home
    "H5": "supported_accommodation",  # semi-independent living, not a children's home (to 2024/25)
    "K3": "supported_accommodation",  # registered supported accommodation (from 2024/25)
    "P2": "supported_tenancy",  # independent living, with or without formal support
    **{f"D{s}": "supported_accommodation" for s in ("", "1", "2")},  # OC3: semi-independent, transitional
    **{f"E{s}": "supported_lodgings" for s in ("", "1", "2")},  # OC3: supported lodgings
    **{f"Z{s}": "staying_put" for s in ("", "1", "2")},  # OC3: with former foster carers
    **{f"B{s}": "emergency" for s in ("", "1", "2")},  # OC3: bed and breakfast
    "Semi-independent": "supported_accommodation", "Fostering": "foster_care", "Children's home": "childrens_home",
    "Bed and breakfast": "emergency", "B&B": "emergency", "Outreach": "floating_support",
}

OFSTED_GRADE: dict[str, str] = {
    "1": "outstanding", "2": "good", "3": "requires_improvement", "4": "inadequate",
    "Requires improvement to be good": "requires_improvement", "RI": "requires_improvement",
}

# Which table each coded column of the interchange files reads (providers.interchange).
REFERRAL_CODINGS: dict[str, tuple[dict[str, str], Sequence[str], str]] = {
    # "any" reads here so that the referral's own check says why it cannot be (models.schemas).
    "sex": (SEX_OF_A_YOUNG_PERSON, Sex.codes(), "sex"),
    "legal_status": (LEGAL_STATUS, LegalStatus.codes(), "legal status"),
}
VACANCY_CODINGS: dict[str, tuple[dict[str, str], Sequence[str], str]] = {
    "sex": (SEX_OF_A_HOME, Sex.codes(), "sex"),
    "service_type": (SERVICE_TYPE, ServiceType.codes(), "service type"),
    "ofsted_grade": (OFSTED_GRADE, OfstedGrade.codes(), "Ofsted grade"),
}


# --- other names for the columns -----------------------------------------------------------------
# How case-system exports and SSDA903 extracts head the documented columns (compared as
# providers.csvfiles.column_key: lower case, spaces and hyphens as "_"). A heading neither
# documented nor here is still an unknown column.

REFERRAL_COLUMN_ALIASES: dict[str, str] = {
    "child": "id", "child_id": "id", "person_id": "id", "referral_id": "id",
    "dob": "date_of_birth", "birth_date": "date_of_birth",
    "gender": "sex",
    "ls": "legal_status", "legal_status_code": "legal_status",
    "home_post": "home_postcode",
    "support_tier": "tier", "support_level": "tier",
    "referral_date": "referred_on", "date_referred": "referred_on",
}
VACANCY_COLUMN_ALIASES: dict[str, str] = {
    "vacancy_id": "id",
    "urn": "ofsted_urn", "place": "service_type", "placement_type": "service_type",
    "pl_post": "postcode", "ofsted_rating": "ofsted_grade",
    "gender": "sex", "free_beds": "beds", "beds_free": "beds",
    "available_date": "available_from", "date_available": "available_from",
}


class NotACoding(CellError):
    """A spelling no table reads: the message names the forms accepted (a cell error, so the
    importer reports it with the file, row and column)."""


def reader(table: Mapping[str, str], codes: Sequence[str], what: str):
    """A function reading one cell of the column: placematch's code for any accepted spelling."""
    lookup = {key(c): c for c in codes} | {key(k): v for k, v in table.items() if v in codes}
    own = {key(c) for c in codes}  # the codes themselves, in any case, need no second mention
    shown = [k for k, v in table.items() if v in codes and key(k) not in own]

    def read(cell: str) -> str:
        found = lookup.get(key(cell))
        if found is None:
            raise NotACoding(f"{cell!r} is not a valid {what}: give one of {', '.join(codes)}, or as councils' "
                             f"files write them: {', '.join(shown)}")
        return found

    return read
