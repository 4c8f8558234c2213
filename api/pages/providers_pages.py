"""The supply side for people: frameworks with their lots and tier prices, providers with their
grades and beds, one provider's homes and vacancies, and (for commissioners) recording a new
Ofsted grade.

A grade change goes through ``grade_changes.change_ofsted_grade``, the function behind
``POST /providers/{id}/grade``: the same roles, the same review flags (every young person
living, or about to live, in the provider's homes is reviewed within 7 days), the same audit.
``/providers`` is also an API path, so these routes answer browsers only (``BrowserRoute``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from api import grade_changes, refusals
from api.deps import COMMISSIONING, SessionDep
from api.pages.approvals_pages import PLACEMENT_STATUS, words
from api.pages.core import SUPPLY_READERS, BrowserRoute, PageAllowed, back_to, render
from api.routes.grades import Today
from models.enums import FrameworkKind, OfstedGrade, Tier
from models.supply import Framework, Lot, LotAward, Property, Provider, Vacancy
from models.tenancy import Council
from providers.authorities import default_authorities

router = APIRouter(include_in_schema=False, route_class=BrowserRoute)
Reader = PageAllowed(*SUPPLY_READERS)
Commissioner = PageAllowed(*COMMISSIONING)  # as POST /providers/{id}/grade

TIERS = sorted(Tier, key=lambda t: t.rank)
KINDS = {
    FrameworkKind.framework: "Framework",
    FrameworkKind.dps: "DPS (dynamic purchasing system)",
    FrameworkKind.block: "Block contract",
    FrameworkKind.spot: "Spot purchase",
    FrameworkKind.in_house: "In-house",
}
GRADE_COLOURS = {OfstedGrade.outstanding: "green", OfstedGrade.good: "green",
                 OfstedGrade.requires_improvement: "yellow", OfstedGrade.inadequate: "red"}
NOT_GRADED = "none"  # the form's value for "no grade" (the API's null)


def grade_tag(grade: OfstedGrade | None, registered: bool = True) -> tuple[str, str]:
    """(words, tag colour) for a provider's grade."""
    if grade is None:
        return ("not registered" if not registered else "not graded yet"), "grey"
    return words(grade.value), GRADE_COLOURS[grade]


def price_span(prices: list[float]) -> str:
    if not prices:
        return ""
    low, high = min(prices), max(prices)
    return f"£{low:,.0f}" if low == high else f"£{low:,.0f} to £{high:,.0f}"


# --- frameworks and providers --------------------------------------------------------------------


@router.get("/providers")
def providers_page(request: Request, session: SessionDep, user: Reader):
    frameworks = session.scalars(
        select(Framework).options(selectinload(Framework.lots).selectinload(Lot.prices),
                                  selectinload(Framework.lots).selectinload(Lot.awards).selectinload(LotAward.provider))
        .order_by(Framework.id)).all()
    lots = []
    for framework in frameworks:
        for lot in framework.lots or [None]:
            # A lot a tender awarded (placematch tender evaluate --award) shows the prices its
            # providers bid until homes are bought under it.
            def bought(t, lot=lot):
                return [p.weekly_price for p in lot.prices if p.tier == t] or [
                    a.price(t) for a in lot.awards if a.price(t) is not None]
            prices = {t: price_span(bought(t)) if lot else "" for t in TIERS}
            homes = len({p.property_id for p in lot.prices}) if lot else 0
            awarded = [f"{a.provider.name} ({a.capacity_beds} beds)" for a in lot.awards] if lot else []
            lots.append({"framework": framework, "kind": KINDS[framework.kind], "lot": lot, "prices": prices,
                         "homes": homes, "awarded": awarded})

    homes = {pid: (n, beds, registered) for pid, n, beds, registered in session.execute(
        select(Property.provider_id, func.count(), func.sum(Property.total_beds),
               func.sum(case((Property.ofsted_registered, 1), else_=0)))
        .group_by(Property.provider_id))}
    free = dict(session.execute(select(Property.provider_id, func.sum(Vacancy.beds))
                                .join(Vacancy.property).group_by(Property.provider_id)).all())
    providers = []
    for provider in session.scalars(select(Provider).order_by(Provider.name, Provider.id)):
        n, beds, registered = homes.get(provider.id, (0, 0, 0))
        providers.append({"provider": provider, "homes": n, "beds": beds or 0, "free": free.get(provider.id) or 0,
                          "grade": grade_tag(provider.ofsted_grade, bool(registered))})
    return render(request, "providers_list.html", user, lots=lots, tiers=TIERS, providers=providers)


# --- one provider --------------------------------------------------------------------------------


@router.get("/providers/{provider_id}")
def provider_page(provider_id: str, request: Request, session: SessionDep, user: Reader):
    provider = session.get(Provider, provider_id)
    if provider is None:
        return render(request, "providers_provider.html", user, status_code=404, missing=provider_id)
    authorities = default_authorities()
    properties = session.scalars(select(Property).options(selectinload(Property.prices))
                                 .where(Property.provider_id == provider.id).order_by(Property.id)).all()
    homes = [{"prop": p, "authority": authorities.name(authorities.upper_tier(p.la_code)),
              "prices": {t: p.price_for(t) for t in TIERS},
              "grade": grade_tag(provider.ofsted_grade if p.ofsted_registered else None, p.ofsted_registered)}
             for p in properties]
    vacancies = session.scalars(select(Vacancy).join(Vacancy.property).where(Property.provider_id == provider.id)
                                .order_by(Vacancy.available_from, Vacancy.id)).all()
    # Young people the panel must review because something about this provider changed.
    review = [p for p in grade_changes.live_placements_at(session, provider.id) if p.review_due_on is not None]
    review.sort(key=lambda p: (p.review_due_on, p.id))
    return render(request, "providers_provider.html", user, provider=provider,
                  grade=grade_tag(provider.ofsted_grade, any(p.ofsted_registered for p in properties)),
                  homes=homes, tiers=TIERS, vacancies=vacancies, review=review, placement_status=PLACEMENT_STATUS,
                  can_grade=user.role in COMMISSIONING, grades=list(OfstedGrade), not_graded=NOT_GRADED,
                  councils=dict(session.execute(select(Council.code, Council.name)).all()))


@router.post("/providers/{provider_id}/grade")
def record_grade(provider_id: str, session: SessionDep, user: Commissioner, on: Today,
                 grade: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = ""):
    path = f"/providers/{provider_id}"
    reason = reason.strip()
    if grade != NOT_GRADED and grade not in OfstedGrade.codes():
        return back_to(path, problem="Choose the new grade: nothing was changed.")
    if not 3 <= len(reason) <= 2000:  # as the API's GradeChangeIn.reason
        return back_to(path, problem="Say why the grade changed (3 to 2,000 characters): nothing was changed.")
    new = None if grade == NOT_GRADED else OfstedGrade(grade)
    try:
        changed = grade_changes.change_ofsted_grade(session, user, provider_id, new, reason, on)
    except refusals.Refused as refused:
        session.rollback()
        return back_to(path, problem=f"Nothing was changed: {refused.message}.")
    before, after = (grade_tag(g)[0] for g in (changed.before, changed.after))
    flagged = len(changed.flagged)
    review = (f"{flagged} young {'person' if flagged == 1 else 'people'} placed here must now be reviewed by the panel "
              f"by {changed.review_due_on:%d %B %Y}: see the list below." if flagged
              else "Nobody is placed here, so no review is needed.")
    return back_to(path, done=f"Grade recorded for {changed.provider.name}: {before} to {after}. {review}")
