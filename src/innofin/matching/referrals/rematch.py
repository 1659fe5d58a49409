"""What a decline leads to: the need re-matched to other institutions or instruments, and the
alternatives kept.

* `rematch` — after a decline, other products the firm qualifies for, ordered by what the reason
  points to (`referral_engine.rematch_order`: a guaranteed product, equity, another lender), and
  the interest subsidies of programmes the firm qualifies for (`referral_engine.
  qualifying_subsidies`, from the ledger's published schemes, `ledger.queries.subsidy_schemes`).
  The best product whose institution has the enterprise's consent is referred at once (source
  ``rematch``); the others are listed, each saying whether the firm must consent first. So a
  declined firm is never left with nothing while a programme of its zone pays a subsidy; when
  nothing at all remains, a message says why.
* Every re-match is stored (`NeedRematch`, one `RematchAlternative` per offer, in order), so the
  enterprise and the officer see the alternatives later (`alternatives`) and monitoring counts
  them (`counts`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innofin.access.policy import institution_limited
from innofin.kernel.principal import Principal
from innofin.ledger import queries as ledger_queries
from innofin.ledger.models import Programme
from innofin.matching import queries
from innofin.matching.models import FinancingNeed, NeedReferral, NeedRematch, RematchAlternative
from innofin.matching.referrals import engine as ref
from innofin.matching.referrals.deadlines import consented, local_day, response_deadline
from innofin.registry.models import Enterprise, Institution, Product

#: how many products the re-match looks at (eligible ones, best first), and offers at most
REMATCH_POOL, MAX_PRODUCTS, MAX_SUBSIDIES = 50, 5, 3


@dataclass
class Rematch:
    """What a decline led to: the referral made at once (if any), the alternatives found, why
    there is nothing when there is nothing, and the stored re-match's id."""

    referred: NeedReferral | None
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    id: int | None = None


def _or_nan(value: Decimal | None) -> float:
    return float("nan") if value is None else float(value)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def scheme(found: ledger_queries.SubsidyScheme) -> ref.SubsidyScheme:
    """The ledger's scheme (its rules as JSON) as the referral engine reads it."""
    rules = found.rules
    return ref.SubsidyScheme(
        programme_id=found.programme_id,
        code=found.code,
        name=found.name,
        zone_ids=found.zone_ids,
        fields=found.fields,
        starts_on=found.starts_on,
        ends_on=found.ends_on,
        share=Decimal(str(rules.get("share", "0"))),
        rate_cap=_decimal(rules.get("rate_cap")),
        cap_per_loan=_decimal(rules.get("cap_per_loan")),
        cap_per_enterprise_year=_decimal(rules.get("cap_per_enterprise_year")),
        institution_ids=found.institution_ids,
    )


def _subsidies(session: Session, need_row: FinancingNeed, day: dt.date) -> list[dict[str, Any]]:
    firm = session.execute(
        select(Enterprise.zone_id, Enterprise.tech_field).where(
            Enterprise.id == need_row.enterprise_id
        )
    ).one()
    schemes = [scheme(s) for s in ledger_queries.subsidy_schemes(session)]
    out = []
    for s in ref.qualifying_subsidies(firm.zone_id, firm.tech_field, day, schemes)[:MAX_SUBSIDIES]:
        zh, en = ref.subsidy_words(s)
        facts: dict[str, Any] = {
            "programme_code": s.code,
            "share": str(s.share),
            "institution_ids": sorted(s.institution_ids),
        }
        for name in ("rate_cap", "cap_per_loan", "cap_per_enterprise_year"):
            if getattr(s, name) is not None:
                facts[name] = str(getattr(s, name))
        out.append(
            {
                "instrument": "subsidy",
                "institution_id": None,
                "institution_name": None,
                "product_id": None,
                "product_name": None,
                "programme_id": s.programme_id,
                "programme_name": s.name,
                "zh": zh,
                "en": en,
                "score": None,
                "referred": False,
                "needs_consent": False,
                "facts": facts,
            }
        )
    return out


def _products(
    session: Session, need_row: FinancingNeed, declined: NeedReferral, at: dt.datetime
) -> tuple[list[dict[str, Any]], NeedReferral | None, str | None]:
    """Other products for the need in the order the reason points to, the referral made at once
    (the best one with consent), and why there are none when there are none."""
    code = declined.decline_code or "other"
    run = queries.run_recommendations(session, [need_row], k=REMATCH_POOL, per_institution=1)
    recs = queries.need_recommendations(run, 0, frozenset())
    tried = set(
        session.scalars(
            select(NeedReferral.institution_id).where(NeedReferral.need_id == need_row.id)
        )
    )
    products = recs.products
    near = "".join(
        f"; {m.product_name} fails one condition: {m.en}"
        for m in recs.near_misses
        if m.institution_id not in tried
    )
    if not products:
        why = recs.message or "none is eligible"
        return [], None, "no other product fits this need: " + why + near
    facts = {
        pid: (kind, amount_max)
        for pid, kind, amount_max in session.execute(
            select(Product.id, Product.kind, Product.amount_max).where(
                Product.id.in_([m.product_id for m in products])
            )
        )
    }
    order = ref.rematch_order(
        code,
        [facts[m.product_id][0] for m in products],
        np.array([m.institution_id for m in products], dtype=np.int64),
        np.array([m.score for m in products], dtype=np.float64),
        np.array([_or_nan(facts[m.product_id][1]) for m in products], dtype=np.float64),
        tried,
    )
    if order.order.size == 0:
        return (
            [],
            None,
            f"no other product fits this need: every institution whose products fit need "
            f"{need_row.id} has had it already ({len(tried)} referred)" + near,
        )
    allowed = consented(
        session, need_row.enterprise_id, [products[int(i)].institution_id for i in order.order]
    )
    alternatives: list[dict[str, Any]] = []
    chosen: NeedReferral | None = None
    seen: set[int] = set()
    for i, instrument in zip(order.order, order.instruments, strict=True):
        m = products[int(i)]
        if m.institution_id in seen:
            continue
        seen.add(m.institution_id)
        zh, en = ref.INSTRUMENT_WORDS[instrument]
        can = m.institution_id in allowed
        alt = {
            "instrument": instrument,
            "institution_id": m.institution_id,
            "institution_name": m.institution_name,
            "product_id": m.product_id,
            "product_name": m.product_name,
            "programme_id": None,
            "programme_name": None,
            "zh": zh,
            "en": en,
            "score": m.score,
            "referred": False,
            "needs_consent": not can,
            "facts": {},
        }
        if chosen is None and can:
            chosen = NeedReferral(
                need_id=need_row.id,
                institution_id=m.institution_id,
                product_id=m.product_id,
                source="rematch",
                status="referred",
                fit_score=None,
                reasons=[r.model_dump(mode="json") for r in m.reasons],
                consent_at=at,
                referred_at=at,
                referred_by=None,
                deadline=response_deadline(session, need_row.programme_id, at),
                rematch_of_id=declined.id,
            )
            session.add(chosen)
            alt["referred"] = True
        alternatives.append(alt)
        if len(alternatives) >= MAX_PRODUCTS:
            break
    message = None
    if chosen is None:
        message = (
            "alternatives found, but the enterprise has not consented to any of their "
            "institutions: it grants consent, then an officer refers the need"
        )
    return alternatives, chosen, message


def rematch(session: Session, declined: NeedReferral, at: dt.datetime) -> Rematch:
    """Re-match the need of the `declined` referral (see the module's text) and store what was
    offered."""
    need_row = session.get(FinancingNeed, declined.need_id)
    assert need_row is not None
    products, chosen, message = _products(session, need_row, declined, at)
    subsidies = _subsidies(session, need_row, local_day(at))
    if subsidies and not products:
        message = f"{message}; an interest subsidy the firm qualifies for is offered instead"
    elif not subsidies and not products:
        message = f"{message}; and no programme of the firm's zone pays an interest subsidy"
    session.flush()  # the referral made at once gets its id
    alternatives = products + subsidies
    stored = NeedRematch(
        referral_id=declined.id,
        need_id=need_row.id,
        decline_code=declined.decline_code or "other",
        offered_at=at,
        message=message[:2000] if message else None,
    )
    session.add(stored)
    session.flush()
    for rank, alt in enumerate(alternatives, start=1):
        alt["rank"] = rank
        alt["referral_id"] = chosen.id if alt["referred"] and chosen is not None else None
        session.add(
            RematchAlternative(
                rematch_id=stored.id,
                rank=rank,
                instrument=alt["instrument"],
                institution_id=alt["institution_id"],
                product_id=alt["product_id"],
                programme_id=alt["programme_id"],
                score=None if alt["score"] is None else Decimal(str(round(alt["score"], 4))),
                referral_id=alt["referral_id"],
                needs_consent=alt["needs_consent"],
                zh=alt["zh"][:300],
                en=alt["en"][:300],
                facts=alt["facts"],
            )
        )
    session.flush()
    return Rematch(chosen, alternatives, message, stored.id)


# --------------------------------------------------------------------------- reading them back


def _shown(p: Principal) -> frozenset[int] | None:
    """The institutions whose alternatives the caller is shown (None: every alternative). An
    institution sees only offers of its own tree: not who else the firm was sent to, nor the
    programme's subsidy."""
    return p.institution_ids if institution_limited(p) else None


def documents(session: Session, p: Principal, rematches: list[NeedRematch]) -> list[dict[str, Any]]:
    """Stored re-matches with their alternatives (names joined), as `p` may see them; what the
    caller may not see is counted in ``withheld``."""
    if not rematches:
        return []
    rows = session.execute(
        select(RematchAlternative, Institution.name, Product.name, Programme.code, Programme.name)
        .outerjoin(Institution, Institution.id == RematchAlternative.institution_id)
        .outerjoin(Product, Product.id == RematchAlternative.product_id)
        .outerjoin(Programme, Programme.id == RematchAlternative.programme_id)
        .where(RematchAlternative.rematch_id.in_([r.id for r in rematches]))
        .order_by(RematchAlternative.rematch_id, RematchAlternative.rank)
    ).all()
    shown = _shown(p)
    by_rematch: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rematches}
    withheld: dict[int, int] = dict.fromkeys(by_rematch, 0)
    for alt, inst_name, product_name, prog_code, prog_name in rows:
        if shown is not None and alt.institution_id not in shown:
            withheld[alt.rematch_id] += 1
            continue
        by_rematch[alt.rematch_id].append(
            {
                "rank": alt.rank,
                "instrument": alt.instrument,
                "institution_id": alt.institution_id,
                "institution_name": inst_name,
                "product_id": alt.product_id,
                "product_name": product_name,
                "programme_id": alt.programme_id,
                "programme_code": prog_code,
                "programme_name": prog_name,
                "score": alt.score,
                "referral_id": alt.referral_id,
                "needs_consent": alt.needs_consent,
                "zh": alt.zh,
                "en": alt.en,
                "facts": alt.facts,
            }
        )
    return [
        {
            "id": r.id,
            "referral_id": r.referral_id,
            "need_id": r.need_id,
            "decline_code": r.decline_code,
            "offered_at": r.offered_at,
            "message": r.message,
            "alternatives": by_rematch[r.id],
            "withheld": withheld[r.id],
        }
        for r in rematches
    ]


def alternatives(session: Session, p: Principal, need_id: int) -> list[dict[str, Any]]:
    """Every re-match of a need the caller sees (`queries.need`: 404 otherwise), oldest first."""
    queries.need(session, p, need_id)
    found = list(
        session.scalars(
            select(NeedRematch).where(NeedRematch.need_id == need_id).order_by(NeedRematch.id)
        )
    )
    return documents(session, p, found)


def of_referral(session: Session, p: Principal, referral_id: int) -> dict[str, Any] | None:
    """The re-match the decline of one referral led to, if any."""
    found = session.scalar(select(NeedRematch).where(NeedRematch.referral_id == referral_id))
    return documents(session, p, [found])[0] if found is not None else None


@dataclass(frozen=True)
class Counts:
    """Per declining institution: declines re-matched, those left with no alternative at all,
    and the alternatives offered by instrument."""

    rematched: int
    left_with_nothing: int
    by_instrument: dict[str, int]


def counts(session: Session) -> dict[int, Counts]:
    """What the declines of each institution led to (monitoring counts them)."""
    offered = (
        select(RematchAlternative.rematch_id, func.count().label("n"))
        .group_by(RematchAlternative.rematch_id)
        .subquery()
    )
    per: dict[int, list[int]] = {}
    for inst, n in session.execute(
        select(NeedReferral.institution_id, func.coalesce(offered.c.n, 0))
        .join(NeedRematch, NeedRematch.referral_id == NeedReferral.id)
        .outerjoin(offered, offered.c.rematch_id == NeedRematch.id)
    ):
        got = per.setdefault(int(inst), [0, 0])
        got[0] += 1
        got[1] += int(n) == 0
    kinds: dict[int, dict[str, int]] = {}
    for inst, instrument, n in session.execute(
        select(NeedReferral.institution_id, RematchAlternative.instrument, func.count())
        .join(NeedRematch, NeedRematch.referral_id == NeedReferral.id)
        .join(RematchAlternative, RematchAlternative.rematch_id == NeedRematch.id)
        .group_by(NeedReferral.institution_id, RematchAlternative.instrument)
    ):
        kinds.setdefault(int(inst), {})[str(instrument)] = int(n)
    return {
        inst: Counts(rematched, empty, dict(sorted(kinds.get(inst, {}).items())))
        for inst, (rematched, empty) in per.items()
    }
