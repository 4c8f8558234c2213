"""The supply side, read-only: providers, their properties, vacancies and the frameworks they
are bought under; plus vacancies.csv upload for commissioners.

Supply holds no personal data, so anyone signed in may read it. The app includes one
``router`` per module, so each resource has its own router (own prefix and tag in the API
docs) and ``router`` gathers them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.deps import COMMISSIONING, STAFF, Allowed, RecordId, SessionDep
from api.errors import ERROR_RESPONSES, not_found
from api.pagination import Limit, Offset, Page, columns_of, page
from api.routes.referrals import EngineDep, ImportResult, import_upload
from models.enums import OfstedGrade, ServiceType, Setting, Tier
from models.schemas import (
    FrameworkPublic,
    LotPublic,
    PropertyPublic,
    ProviderPublic,
    TierPricePublic,
    VacancyPublic,
)
from models.supply import Framework, Lot, Property, Provider, TierPrice, Vacancy
from providers.interchange import import_vacancies

SignedIn = Allowed(*STAFF)  # council staff: providers see only their own (api.routes.market)
Commissioner = Allowed(*COMMISSIONING)

providers = APIRouter(prefix="/providers", tags=["providers"], responses=ERROR_RESPONSES)
properties = APIRouter(prefix="/properties", tags=["properties"], responses=ERROR_RESPONSES)
vacancies = APIRouter(prefix="/vacancies", tags=["vacancies"], responses=ERROR_RESPONSES)
frameworks = APIRouter(prefix="/frameworks", tags=["frameworks"], responses=ERROR_RESPONSES)


def _where(query, *pairs):
    """Narrow a query by each (column, value) whose value was given."""
    for column, value in pairs:
        if value is not None:
            query = query.where(column == value)
    return query


def _one(session, model, ident, what: str, *options):
    found = session.get(model, ident, options=list(options))
    if found is None:
        raise not_found(what, ident)
    return found


# --- providers ------------------------------------------------------------------------------


@providers.get("", response_model=Page[ProviderPublic], summary="Providers, by name, filtered")
def list_providers(session: SessionDep, _: SignedIn, limit: Limit = 50, offset: Offset = 0,
                   ofsted_grade: OfstedGrade | None = None, in_house: bool | None = None):
    query = _where(select(Provider).order_by(Provider.name, Provider.id),
                   (Provider.ofsted_grade, ofsted_grade), (Provider.in_house, in_house))
    return page(session, query, limit, offset, ProviderPublic)


@providers.get("/{provider_id}", response_model=ProviderPublic, summary="One provider")
def get_provider(provider_id: str, session: SessionDep, _: SignedIn):
    return ProviderPublic.model_validate(_one(session, Provider, provider_id, "provider"))


# --- properties -----------------------------------------------------------------------------


@properties.get("", response_model=Page[PropertyPublic], summary="Properties with their tier prices, filtered")
def list_properties(session: SessionDep, _: SignedIn, limit: Limit = 50, offset: Offset = 0,
                    provider_id: str | None = None, authority: str | None = None, setting: Setting | None = None):
    """``authority`` is the ONS code of the local authority the property is in (``la_code``)."""
    query = select(Property).options(selectinload(Property.prices)).order_by(Property.id)
    query = _where(query, (Property.provider_id, provider_id), (Property.la_code, authority),
                   (Property.setting, setting))
    return page(session, query, limit, offset, PropertyPublic)


@properties.get("/{property_id}", response_model=PropertyPublic, summary="One property with its tier prices")
def get_property(property_id: str, session: SessionDep, _: SignedIn):
    return PropertyPublic.model_validate(
        _one(session, Property, property_id, "property", selectinload(Property.prices)))


# --- vacancies ------------------------------------------------------------------------------


def vacancy_query(tier: Tier | None, authority: str | None, provider_id: str | None, available_by: dt.date | None):
    query = columns_of(Vacancy).order_by(Vacancy.available_from, Vacancy.id)
    if authority is not None or provider_id is not None:
        query = query.join(Vacancy.property)
        query = _where(query, (Property.la_code, authority), (Property.provider_id, provider_id))
    if tier is not None:
        # A property offers exactly the tiers it has a price for (see TierPrice).
        offered = select(TierPrice.id).where(TierPrice.property_id == Vacancy.property_id, TierPrice.tier == tier)
        query = query.where(offered.exists())
    if available_by is not None:
        query = query.where(Vacancy.available_from <= available_by)
    return query


@vacancies.get("", response_model=Page[VacancyPublic], summary="Vacancies, soonest available first, filtered")
def list_vacancies(session: SessionDep, _: SignedIn, limit: Limit = 50, offset: Offset = 0,
                   tier: Tier | None = None, authority: str | None = None, provider_id: str | None = None,
                   available_by: dt.date | None = None):
    """``tier``: the property offers support at this tier (has a price for it). ``authority``:
    the property's local authority (ONS code). ``available_by``: free on or before this date."""
    return page(session, vacancy_query(tier, authority, provider_id, available_by), limit, offset, VacancyPublic)


@vacancies.get("/{vacancy_id}", response_model=VacancyPublic, summary="One vacancy")
def get_vacancy(vacancy_id: str, session: SessionDep, _: SignedIn):
    return VacancyPublic.model_validate(_one(session, Vacancy, vacancy_id, "vacancy"))


@vacancies.post("/upload", response_model=ImportResult,
                summary="Upload vacancies.csv: all rows are created or updated, or none (422 names each problem)")
def upload_vacancies(engine: EngineDep, user: Commissioner,
                     file: Annotated[UploadFile, File(description="vacancies.csv, UTF-8, columns as the README lists")]):
    """The same checks and upsert as ``placematch import vacancies``: providers, properties,
    tier prices and vacancies are created or updated; vacancies missing from the file are left
    alone. A refused file returns 422 with one field per problem and nothing is written."""
    return import_upload(import_vacancies, engine, file, user, "vacancies.csv")


# --- frameworks -----------------------------------------------------------------------------


class LotPricePublic(TierPricePublic):
    property_id: str


class LotAwardPublic(BaseModel):
    """A provider accepted on the lot by a tender, with what it bid."""

    model_config = ConfigDict(from_attributes=True)

    provider_id: str
    rank: int = Field(description="Its place in the lot's ranking (tied bids share one)")
    total_score: float = Field(description="Price score plus quality score, out of 100")
    price_score: float
    quality_score: float
    capacity_beds: int
    price_standard: Optional[float] = Field(description="The weekly price it bid; null for a tier the lot does not offer")
    price_enhanced: Optional[float]
    price_intensive: Optional[float]


class LotDetail(LotPublic):
    prices: list[LotPricePublic]
    awards: list[LotAwardPublic] = Field(default_factory=list, description="The providers a tender accepted on it, "
                                                                           "best ranked first")

    @field_validator("prices")
    @classmethod
    def _in_order(cls, prices: list[LotPricePublic]) -> list[LotPricePublic]:
        # The relationship is unordered; a stable order keeps responses comparable.
        return sorted(prices, key=lambda p: (p.property_id, p.tier.rank))


class FrameworkDetail(FrameworkPublic):
    """A framework with its lots, and the tier prices bought under each lot."""

    lots: list[LotDetail]


_WITH_PRICES = (selectinload(Framework.lots).selectinload(Lot.prices),
                selectinload(Framework.lots).selectinload(Lot.awards))


@frameworks.get("", response_model=Page[FrameworkDetail], summary="Frameworks with their lots and tier prices")
def list_frameworks(session: SessionDep, _: SignedIn, limit: Limit = 50, offset: Offset = 0):
    return page(session, select(Framework).options(*_WITH_PRICES).order_by(Framework.id), limit, offset,
                FrameworkDetail)


@frameworks.get("/{framework_id}", response_model=FrameworkDetail,
                summary="One framework with its lots and tier prices")
def get_framework(framework_id: RecordId, session: SessionDep, _: SignedIn):
    return FrameworkDetail.model_validate(_one(session, Framework, framework_id, "framework", *_WITH_PRICES))


class PriceSpread(BaseModel):
    service_type: ServiceType
    tier: Tier
    prices: int = Field(description="How many prices: homes' tier prices and prices awarded by tenders")
    lower_quartile: float
    median: float
    upper_quartile: float = Field(description="A proposal dearer than this is flagged as above the usual range")


spreads_router = APIRouter(prefix="/price-spreads", tags=["frameworks"], responses=ERROR_RESPONSES)


@spreads_router.get("", response_model=list[PriceSpread],
                summary="Where weekly prices stand: quartiles by service type and tier")
def price_spreads(session: SessionDep, _: SignedIn):
    """For each service type and tier with at least four prices: the lower quartile, median and
    upper quartile of what the council pays or was bid (providers.price_benchmarks)."""
    from providers.price_benchmarks import spreads

    return [PriceSpread(**vars(s)) for s in spreads(session).values()]


router = APIRouter()
for _part in (providers, properties, vacancies, frameworks, spreads_router):
    router.include_router(_part)
