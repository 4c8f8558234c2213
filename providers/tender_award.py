"""The award of an evaluated tender written as a framework, in one transaction: the framework,
its lots, and for each lot the providers accepted on it with the weekly price they bid per tier
and the beds they offered (models.supply.LotAward), the audit saying who awarded it.

A bidder that is not yet a provider of the service is added as one (by its reference and
name); an existing provider keeps its record. Nothing is written when the award cannot be made
(providers.tender_evaluation.Evaluation.award_problems), when a framework of the same name
exists, or when the placing authority is unknown.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import User, record
from models.enums import FrameworkKind
from models.supply import Framework, LocalAuthority, Lot, LotAward, Provider
from providers.tender_evaluation import Evaluation


class AwardRefused(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("The award was not made: " + "; ".join(problems))


def award(session: Session, evaluation: Evaluation, actor: User | str) -> Framework:
    """Write the award (the caller's transaction commits it, or nothing). ``AwardRefused``
    says why it cannot be made."""
    spec = evaluation.tender.spec
    problems = evaluation.award_problems()
    if session.scalar(select(Framework.id).where(Framework.name == spec.name)) is not None:
        problems.append(f"a framework named {spec.name!r} already exists: name this tender differently")
    if session.get(LocalAuthority, spec.placing_authority) is None:
        problems.append(f"the placing authority {spec.placing_authority} is not one the service knows")
    if problems:
        raise AwardRefused(problems)
    framework = Framework(name=spec.name, kind=FrameworkKind.framework, placing_authority_code=spec.placing_authority,
                          starts_on=spec.starts_on, ends_on=spec.ends_on, price_weight=spec.price_weight / 100,
                          quality_weight=spec.quality_weight / 100)
    session.add(framework)
    known = {p.id: p for p in session.scalars(select(Provider).where(
        Provider.id.in_({r.bid.bidder_id for r in evaluation.awarded()})))}
    added = []
    awarded = {}
    for spec_lot in spec.lots:
        lot = Lot(framework=framework, number=spec_lot.number, name=spec_lot.name,
                  service_type=spec_lot.service_type, area=spec_lot.area)
        session.add(lot)
        for r in evaluation.awarded(spec_lot.number):
            bidder = r.bid.bidder_id
            if bidder not in known:
                known[bidder] = Provider(id=bidder, name=r.bid.bidder_name)
                session.add(known[bidder])
                added.append(bidder)
            session.add(LotAward(lot=lot, provider_id=bidder, rank=r.rank, price_score=round(r.price_score, 4),
                                 quality_score=round(r.quality_score, 4), total_score=r.total,
                                 capacity_beds=r.bid.capacity_beds,
                                 **{f"price_{t.value}": p for t, p in r.bid.prices.items()}))
            awarded.setdefault(str(spec_lot.number), []).append(bidder)
    session.flush()
    record(session, "tender_awarded", "framework", framework.id,
           **({"actor": actor} if isinstance(actor, User) else {"actor_name": actor}),
           after={"name": spec.name, "lots": awarded, "providers_added": added,
                  "price_weight": spec.price_weight, "quality_weight": spec.quality_weight,
                  "price_method": spec.price_method})
    return framework
