"""The care co-operative's page: each member council's figures and the shared market's beds (the
same figures as ``GET /region/figures``), for the co-operative's staff, who see no young person."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import REGIONAL, SessionDep
from api.pages.core import PageAllowed, render
from api.routes.region import figures
from models.enums import Tier

router = APIRouter(include_in_schema=False)
Regional = PageAllowed(*REGIONAL)


@router.get("/region")
def region_page(request: Request, session: SessionDep, user: Regional):
    return render(request, "region.html", user, figures=figures(session, user), tiers=[t.value for t in Tier])
