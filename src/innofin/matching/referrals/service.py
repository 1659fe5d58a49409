"""Referrals of financing needs (推荐对接) and their funnel.

* `refer` — a need sent to several institutions at once, each with the enterprise's consent (an
  active `access.models.Consent` to that institution); each gets a response deadline in business
  days (the programme's `MatchingSetting`, default 2, its holiday calendar respected).
* `respond` — the institution opts in or declines with a structured reason; every decline
  re-matches the need (`rematch.rematch`) to other institutions or instruments the firm
  qualifies for — a guaranteed product, equity, an interest subsidy of its zone's programme —
  so a declined firm is never left with nothing: the best alternative with consent is referred
  at once, the others are listed and kept; if none qualifies, a message says why.
* `advance` — the funnel's later steps (contacted → applied → approved → credit line), each
  with its time.
* `flag_overdue` — referrals past their deadline without an answer, flagged for the programme
  officer (the referrals of the needs the officer sees).
* `funnel` — counts, conversion and time to credit per institution, and what its declines led
  to (read-only, for monitoring).

A referral row is locked before it changes, and the need's row before a re-match, so two
officers (or two institutions declining the same need) cannot race past each other.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from innofin.access.policy import scoped
from innofin.db.queries import visible, writable
from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.kernel.principal import Principal
from innofin.ledger.models import CreditLine
from innofin.matching import queries, scopes
from innofin.matching.models import FinancingNeed, NeedReferral
from innofin.matching.referrals import engine as ref
from innofin.matching.referrals.deadlines import consented as consented
from innofin.matching.referrals.deadlines import local_day, now
from innofin.matching.referrals.deadlines import response_deadline as response_deadline
from innofin.matching.referrals.rematch import Rematch, counts, rematch
from innofin.registry.models import Institution

#: the funnel's steps after opting in, in order, with the time column each sets
STEPS = ("contacted", "applied", "approved")
#: how many products the recommender looks at for a referral's fit (eligible ones, best first)
REMATCH_POOL = 50

_now, _today = now, local_day


def referrals_query(
    p: Principal,
    need_id: int | None = None,
    institution_id: int | None = None,
    status: str | None = None,
) -> Select[Any]:
    stmt = scoped(select(NeedReferral), scopes.need_referral_scope(p))
    if need_id is not None:
        stmt = stmt.where(NeedReferral.need_id == need_id)
    if institution_id is not None:
        stmt = stmt.where(NeedReferral.institution_id == institution_id)
    if status is not None:
        stmt = stmt.where(NeedReferral.status == status)
    return stmt.order_by(NeedReferral.id)


def referral(session: Session, p: Principal, referral_id: int) -> NeedReferral:
    return visible(
        session, NeedReferral, referral_id, scopes.need_referral_scope(p), "need referral"
    )


def _locked_need(session: Session, need_id: int) -> FinancingNeed:
    stmt = select(FinancingNeed).where(FinancingNeed.id == need_id).with_for_update()
    found = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound(f"no financing need {need_id}")
    return found


def _locked_referral(session: Session, referral_id: int) -> NeedReferral:
    stmt = select(NeedReferral).where(NeedReferral.id == referral_id).with_for_update()
    found = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound(f"no need referral {referral_id}")
    return found


def refer(
    session: Session,
    p: Principal,
    need_id: int,
    institution_ids: Sequence[int],
    *,
    source: str = "officer",
    at: dt.datetime | None = None,
) -> list[NeedReferral]:
    """Refer need `need_id` to each of `institution_ids` at once. Every institution needs the
    enterprise's active consent; one without it, unknown, or already referred is named and
    nothing is written."""
    at = at or _now()
    if not institution_ids:
        raise InvalidInput("name at least one institution", field="institution_ids")
    if len(set(institution_ids)) != len(institution_ids):
        raise InvalidInput("an institution is named twice", field="institution_ids")
    if source not in ("officer", "recommendation"):
        raise InvalidInput("source is officer or recommendation", field="source")
    queries.need(session, p, need_id)
    writable(session, FinancingNeed, need_id, scopes.need_write_scope(p), "financing need")
    row = _locked_need(session, need_id)
    if row.status not in ("open", "referred"):
        raise Conflict(f"financing need {need_id} is {row.status}: only an open need is referred")
    known = set(
        session.scalars(select(Institution.id).where(Institution.id.in_(list(institution_ids))))
    )
    if missing := [i for i in institution_ids if i not in known]:
        raise NotFound(f"no institution {', '.join(map(str, missing))}")
    allowed = consented(session, row.enterprise_id, institution_ids)
    if lacking := [i for i in institution_ids if i not in allowed]:
        raise InvalidInput(
            f"enterprise {row.enterprise_id} has not consented to share its data with "
            f"institution {', '.join(map(str, lacking))}: it grants consent first",
            field="institution_ids",
        )
    already = set(
        session.scalars(
            select(NeedReferral.institution_id).where(
                NeedReferral.need_id == need_id,
                NeedReferral.institution_id.in_(list(institution_ids)),
            )
        )
    )
    if already:
        raise Conflict(
            f"need {need_id} was referred already to institution "
            f"{', '.join(map(str, sorted(already)))}"
        )
    fits = _fits(session, row)
    deadline = response_deadline(session, row.programme_id, at)
    out = []
    for inst in institution_ids:  # a handful of institutions per call
        score, reasons, product = fits.get(inst, (None, [], None))
        out.append(
            NeedReferral(
                need_id=need_id,
                institution_id=inst,
                product_id=product,
                source=source,
                status="referred",
                fit_score=score,
                reasons=reasons,
                consent_at=at,
                referred_at=at,
                referred_by=p.user_id or None,
                deadline=deadline,
            )
        )
    session.add_all(out)
    row.status = "referred"
    row.updated_at = at
    session.flush()
    return out


def _fits(
    session: Session, row: FinancingNeed
) -> dict[int, tuple[Any, list[dict[str, Any]], int | None]]:
    """Per institution, the recommender's fit score, reasons and best product for the need."""
    run = queries.run_recommendations(session, [row], k=REMATCH_POOL, per_institution=1)
    recs = queries.need_recommendations(run, 0, frozenset())
    out: dict[int, tuple[Any, list[dict[str, Any]], int | None]] = {}
    for m in recs.institutions:
        best = next((x.product_id for x in recs.products if x.institution_id == m.institution_id),
                    None)  # fmt: skip
        out[m.institution_id] = (
            Decimal(str(round(m.score, 4))),
            [r.model_dump(mode="json") for r in m.reasons],
            best,
        )
    return out


@dataclass
class Response:
    referral: NeedReferral
    rematch: Rematch | None


def _own(p: Principal, row: NeedReferral) -> None:
    if p.is_admin:
        return
    if row.institution_id not in p.institution_ids:
        raise Forbidden(
            f"only institution {row.institution_id} answers need referral {row.id}",
            field="referral_id",
        )


def respond(
    session: Session,
    p: Principal,
    referral_id: int,
    answer: str,
    *,
    code: str | None = None,
    text: str | None = None,
    at: dt.datetime | None = None,
) -> Response:
    """The institution opts in (``opt_in``) or declines (``decline``, with a reason code). A
    decline may come after opting in, before approval; every decline re-matches the need."""
    at = at or _now()
    referral(session, p, referral_id)
    if answer not in ("opt_in", "decline"):
        raise InvalidInput("answer is opt_in or decline", field="answer")
    probe = session.get(NeedReferral, referral_id)
    assert probe is not None
    _own(p, probe)
    if answer == "decline":
        if code is None:
            raise InvalidInput(
                f"a decline needs a reason code: one of {', '.join(ref.DECLINE_REASONS)}",
                field="code",
            )
        try:
            ref.check_decline(code, text)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="text" if code == "other" else "code") from None
        _locked_need(session, probe.need_id)  # two declines of one need re-match in turn
    row = _locked_referral(session, referral_id)
    if answer == "opt_in":
        if row.status != "referred":
            raise Conflict(f"need referral {row.id} is {row.status}: it was answered already")
        row.status = "opted_in"
        row.responded_at = at
        session.flush()
        return Response(row, None)
    if row.status in ("declined", "approved", "withdrawn"):
        raise Conflict(f"need referral {row.id} is {row.status}: it cannot be declined now")
    row.status = "declined"
    row.declined_at = at
    row.responded_at = row.responded_at or at
    row.decline_code = code
    row.decline_text = text.strip() if text else None
    session.flush()
    return Response(row, rematch(session, row, at))


def advance(
    session: Session,
    p: Principal,
    referral_id: int,
    step: str,
    *,
    credit_line_id: int | None = None,
    at: dt.datetime | None = None,
) -> NeedReferral:
    """A later funnel step: contacted, applied, approved (optionally naming the credit line in
    the ledger the approval became). Steps go forward only; a skipped step keeps no time."""
    at = at or _now()
    referral(session, p, referral_id)
    if step not in STEPS:
        raise InvalidInput(f"step is one of {', '.join(STEPS)}", field="step")
    probe = session.get(NeedReferral, referral_id)
    assert probe is not None
    _own(p, probe)
    row = _locked_referral(session, referral_id)
    order = ("opted_in", *STEPS)
    if row.status not in order or order.index(row.status) >= order.index(step):
        raise Conflict(f"need referral {row.id} is {row.status}: it cannot become {step}")
    if credit_line_id is not None:
        if step != "approved":
            raise InvalidInput("a credit line is named on approval only", field="credit_line_id")
        line = session.get(CreditLine, credit_line_id)
        need_row = session.get(FinancingNeed, row.need_id)
        if (
            line is None
            or need_row is None
            or line.institution_id != row.institution_id
            or line.enterprise_id != need_row.enterprise_id
        ):
            raise InvalidInput(
                f"credit line {credit_line_id} is not this institution's line to this enterprise",
                field="credit_line_id",
            )
        row.credit_line_id = credit_line_id
    row.status = step
    setattr(row, f"{step}_at", at)
    if step == "approved":
        need_row = session.get(FinancingNeed, row.need_id)
        if need_row is not None:
            need_row.status = "funded"
            need_row.updated_at = at
    session.flush()
    return row


def flag_overdue(
    session: Session, at: dt.datetime | None = None, p: Principal | None = None
) -> list[NeedReferral]:
    """Every referral still waiting for an answer after its deadline (of those `p` sees: every
    one when None); the newly overdue get `overdue_flagged_at` (the programme officer's list)."""
    at = at or _now()
    stmt = select(NeedReferral).where(
        NeedReferral.status == "referred", NeedReferral.deadline < _today(at)
    )
    if p is not None:
        stmt = scoped(stmt, scopes.need_referral_scope(p))
    rows = list(
        session.scalars(stmt.order_by(NeedReferral.deadline, NeedReferral.id).with_for_update())
    )
    for r in rows:
        if r.overdue_flagged_at is None:
            r.overdue_flagged_at = at
    session.flush()
    return rows


# --------------------------------------------------------------------------- the funnel


@dataclass(frozen=True)
class FunnelRow:
    institution_id: int
    institution_name: str
    referred: int
    answered: int
    opted_in: int
    contacted: int
    applied: int
    approved: int
    credit_lines: int
    declined: int
    declined_by_reason: dict[str, int]
    overdue: int
    enterprises: int
    conversion: float | None  # approved / referred
    median_days_to_answer: float | None
    median_days_to_credit: float | None  # referral → approval with a credit line
    #: what its declines led to: re-matches, those with no alternative at all, offers by kind
    rematched: int = 0
    left_with_nothing: int = 0
    alternatives_by_instrument: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _days(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds() / 86400


def funnel(
    session: Session,
    institution_ids: Sequence[int] | None = None,
    since: dt.datetime | None = None,
    at: dt.datetime | None = None,
) -> list[FunnelRow]:
    """Per institution: how many referrals reached each step, declines by reason, overdue
    ones, conversion and median days to an answer and to credit. Read-only (monitoring)."""
    at = at or _now()
    stmt = select(NeedReferral, FinancingNeed.enterprise_id).join(
        FinancingNeed, FinancingNeed.id == NeedReferral.need_id
    )
    if institution_ids is not None:
        stmt = stmt.where(NeedReferral.institution_id.in_(list(institution_ids)))
    if since is not None:
        stmt = stmt.where(NeedReferral.referred_at >= since)
    names = dict(session.execute(select(Institution.id, Institution.name)).all())
    by_inst: dict[int, list[tuple[NeedReferral, int]]] = {}
    for r, ent in session.execute(stmt).all():
        by_inst.setdefault(r.institution_id, []).append((r, ent))
    today = _today(at)
    after = counts(session)
    out = []
    for inst, rows in sorted(by_inst.items()):
        refs = [r for r, _ in rows]
        reasons: dict[str, int] = {}
        for r in refs:
            if r.status == "declined" and r.decline_code:
                reasons[r.decline_code] = reasons.get(r.decline_code, 0) + 1
        answer = [_days(r.referred_at, r.responded_at) for r in refs if r.responded_at]
        credit = [
            _days(r.referred_at, r.approved_at)
            for r in refs
            if r.approved_at and r.credit_line_id is not None
        ]
        approved = sum(r.approved_at is not None for r in refs)
        out.append(
            FunnelRow(
                institution_id=inst,
                institution_name=names.get(inst, str(inst)),
                referred=len(refs),
                answered=sum(r.responded_at is not None for r in refs),
                opted_in=sum(
                    r.status in ("opted_in", *STEPS)
                    or (r.status == "declined" and r.responded_at != r.declined_at)
                    for r in refs
                ),
                contacted=sum(r.contacted_at is not None for r in refs),
                applied=sum(r.applied_at is not None for r in refs),
                approved=approved,
                credit_lines=sum(r.credit_line_id is not None for r in refs),
                declined=sum(r.status == "declined" for r in refs),
                declined_by_reason=dict(sorted(reasons.items())),
                overdue=sum(r.status == "referred" and r.deadline < today for r in refs),
                enterprises=len({e for _, e in rows}),
                conversion=round(approved / len(refs), 4) if refs else None,
                median_days_to_answer=round(statistics.median(answer), 3) if answer else None,
                median_days_to_credit=round(statistics.median(credit), 3) if credit else None,
                rematched=after[inst].rematched if inst in after else 0,
                left_with_nothing=after[inst].left_with_nothing if inst in after else 0,
                alternatives_by_instrument=after[inst].by_instrument if inst in after else {},
            )
        )
    return out
