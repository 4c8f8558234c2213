"""A demo council, generated from a seed: Medway's Access to Resources panel on a given day.

The numbers follow ``DOMAIN.md``: a referral queue of young people aged 16-24 with a needs mix in
the proportions councils report (support tiers about 45% standard / 35% enhanced / 20% intensive,
~12% unaccompanied asylum-seeking children, mental health common, a few risks to others), and a
local market of supported accommodation, supported tenancies, in-house supported lodgings and
Staying Put carers, fostering, children's homes and B&B, bought through a DPS, a block contract,
a framework, the in-house service and spot purchase, at the weekly prices of recent tenders.

Every postcode is a real live postcode drawn from the ONS directory for the authority recorded
against it; every name is invented and nothing describes a real person. Referrals are built through
``ReferralIn`` and vacancies through ``VacancyIn``, the schemas the CSV importer uses, so the demo
passes the same validation as an imported file.

Determinism: one ``random.Random`` per concern, seeded from (seed, concern) strings (stable
across processes, unlike ``hash``); postcodes are picked by position in frames sorted by postcode;
nothing iterates a set or an unordered query. All dates are relative to ``as_of``.

The modules, each depending only on those above it:

- ``_draw``: proportions, weighted picks, prices and dates of birth; ``errors``: ``DemoError``;
- ``places``: the authorities, town centres and real postcodes the demo is set in;
- ``needs``, ``young_people``: the open referrals;
- ``commissioning``: frameworks, lots and weekly prices;
- ``supply``: providers and their properties;
- ``occupancy``: free beds, current residents and vacancies;
- ``summary``: what a database holds, by SQL aggregates;
- ``build``: ``build_demo``, turning all of it into validated rows.
"""

from providers.authorities import load_authorities
from providers.demo.build import build_demo
from providers.demo.commissioning import PRICE_RANGES, SUPPORT_HOURS
from providers.demo.errors import DemoError
from providers.demo.places import DEMO_AUTHORITY
from providers.demo.supply import DEMO_PROVIDER_STAFF_OF
from providers.demo.summary import AreaRow, DemoSummary, TierRow, summarise
from providers.demo.young_people import OPEN_REFERRALS

__all__ = [
    "DEMO_PROVIDER_STAFF_OF",
    "DEMO_AUTHORITY",
    "OPEN_REFERRALS",
    "PRICE_RANGES",
    "SUPPORT_HOURS",
    "AreaRow",
    "DemoError",
    "DemoSummary",
    "TierRow",
    "build_demo",
    "load_authorities",
    "summarise",
]
