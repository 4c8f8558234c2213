"""Every mapped class in one import, so ``Base.metadata`` is complete (Alembic, tests)."""

from models.accounts import AuditEvent, User, record  # noqa: F401
from models.base import Base  # noqa: F401
from models.market import ReferralRequest  # noqa: F401
from models.panel import ApprovalRequest, Decision, MatchRun, ProposedMatch  # noqa: F401
from models.people import Placement, Referral, SupportPlanStep, age_on  # noqa: F401
from models.plans import ForecastScenario, ScenarioResult  # noqa: F401,E402
from models.supply import (  # noqa: F401
    Framework,
    LocalAuthority,
    Lot,
    LotAward,
    Property,
    Provider,
    TenderEvaluation,
    TierPrice,
    Vacancy,
    authority_adjacency,
)
from models.tenancy import Council  # noqa: F401
from models.trials import TrialStay  # noqa: F401
