"""Tables of matching: financing needs, referrals and their funnel, allocation runs and rows.

* `financing_need` — what an enterprise (or an officer on its behalf) asks for: amount, term,
  purpose, the most it will pay, the collateral it can offer, whether equity is acceptable and
  by when it needs the money (融资需求).
* `need_referral` — a need sent to one institution with the enterprise's consent (推荐对接):
  its response deadline, the institution's answer (a decline carries a structured reason code)
  and the time of each funnel step (contacted → applied → approved → credit line / declined).
* `matching_setting` / `calendar_day` — a programme's referral rules (response deadline in
  business days, the holiday calendar it follows) and the calendars' holidays and make-up
  working days (调休), so deadlines skip weekends and holidays.
* `need_rematch` / `rematch_alternative` — what a decline led to: the alternatives offered to
  the enterprise (other institutions' products, a guaranteed product, equity, an interest subsidy
  of a programme it qualifies for), in order, with the referral made at once, if any, and why
  there is nothing when there is nothing — kept so the enterprise and the officer see them later
  and monitoring counts them.
* `allocation_run` / `allocation_row` — one solve of the special-credit allocation: the solver,
  its version, parameters, status and objective stored with its rows (needs × institutions ×
  amounts).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

import innofin.ledger.models
import innofin.registry.models  # noqa: F401
from innofin.audit.recorder import Audited
from innofin.db.base import Base, JsonDoc, Money, Quantity, UtcDateTime
from innofin.kernel.codes import NeedPurpose

NEED_STATUSES = ("open", "referred", "funded", "withdrawn", "expired")
REFERRAL_STATUSES = (
    "referred",  # sent, waiting for the institution to opt in or decline
    "opted_in",
    "contacted",
    "applied",
    "approved",
    "declined",
    "withdrawn",
)
REFERRAL_SOURCES = ("recommendation", "officer", "rematch")
RUN_STATUSES = ("proposed", "accepted", "discarded")
#: what a re-match may offer: another institution's loan, a guaranteed or insured product, equity
#: or venture debt, an interest subsidy of a programme (免申即享) the firm qualifies for
INSTRUMENTS = ("loan", "guaranteed", "equity", "subsidy")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class FinancingNeed(Audited, Base):
    """A financing need posted by an enterprise or by an officer on its behalf (融资需求).

    ``max_rate`` is the highest annual rate the firm will pay, in percent (as a product's fixed
    rate); ``collateral_offered`` lists collateral codes (``none``, ``ip_pledge``,
    ``receivables``, ``real_estate``, ``guarantee``).
    """

    __tablename__ = "financing_need"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("term_months BETWEEN 1 AND 600", name="term_plausible"),
        CheckConstraint(
            _one_of("purpose", tuple(p.value for p in NeedPurpose)), name="purpose_known"
        ),
        CheckConstraint("max_rate IS NULL OR max_rate >= 0", name="max_rate_nonneg"),
        CheckConstraint(_one_of("status", NEED_STATUSES), name="status_known"),
        Index("ix_financing_need_enterprise", "enterprise_id", "posted_at"),
        Index("ix_financing_need_status", "status", "needed_by"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    #: the programme the need is posted under (special credit allocation reads it), if any
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    term_months: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(30))
    max_rate: Mapped[Decimal | None] = mapped_column(Quantity)
    collateral_offered: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    equity_acceptable: Mapped[bool] = mapped_column(Boolean, default=False)
    needed_by: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="open")
    note: Mapped[str | None] = mapped_column(String(500))
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    posted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class NeedReferral(Audited, Base):
    """A need referred to one institution with the enterprise's consent, and its funnel.

    The institution opts in or declines by ``deadline`` (business days, a programme setting);
    a decline carries ``decline_code`` (too young, revenue too low, outside our fields, amount
    too large, risk, incomplete documents, other + ``decline_text``). Each funnel step keeps
    its time, so monitoring counts conversion and time to credit per institution. A re-match
    after a decline names the referral it follows (``rematch_of_id``).
    """

    __tablename__ = "need_referral"
    __table_args__ = (
        UniqueConstraint("need_id", "institution_id"),
        CheckConstraint(_one_of("status", REFERRAL_STATUSES), name="status_known"),
        CheckConstraint(_one_of("source", REFERRAL_SOURCES), name="source_known"),
        CheckConstraint(
            "status <> 'declined' OR (decline_code IS NOT NULL AND declined_at IS NOT NULL)",
            name="decline_has_reason",
        ),
        CheckConstraint(
            "decline_code IS NULL OR decline_code <> 'other' OR decline_text IS NOT NULL",
            name="other_reason_has_text",
        ),
        CheckConstraint("status <> 'approved' OR approved_at IS NOT NULL", name="approval_dated"),
        Index("ix_need_referral_institution", "institution_id", "status", "deadline"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("financing_need.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    source: Mapped[str] = mapped_column(String(16), default="recommendation")
    status: Mapped[str] = mapped_column(String(12), default="referred")
    #: the fit score and reasons shown when the need was referred
    fit_score: Mapped[Decimal | None] = mapped_column(Quantity)
    reasons: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)
    consent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    referred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    referred_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    #: the last day on which the institution may answer (business days from `referred_at`)
    deadline: Mapped[dt.date] = mapped_column(Date)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    overdue_flagged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    contacted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    declined_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    decline_code: Mapped[str | None] = mapped_column(String(30))
    decline_text: Mapped[str | None] = mapped_column(String(500))
    credit_line_id: Mapped[int | None] = mapped_column(ForeignKey("credit_line.id"))
    rematch_of_id: Mapped[int | None] = mapped_column(ForeignKey("need_referral.id"))


class NeedRematch(Base):
    """The re-match a decline led to (one per declined referral): when, for which reason, and a
    message when no alternative was found. Its alternatives are `RematchAlternative` rows."""

    __tablename__ = "need_rematch"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: the declined referral
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("need_referral.id", ondelete="CASCADE"), unique=True
    )
    need_id: Mapped[int] = mapped_column(
        ForeignKey("financing_need.id", ondelete="CASCADE"), index=True
    )
    decline_code: Mapped[str] = mapped_column(String(30))
    offered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    message: Mapped[str | None] = mapped_column(String(2000))


class RematchAlternative(Base):
    """One alternative offered after a decline, in the order shown (``rank`` from 1): a product
    of another institution (``institution_id``, ``product_id``; ``referral_id`` when the need was
    referred to it at once; ``needs_consent`` when the firm must consent first), or an interest
    subsidy of a programme (``programme_id``; its terms in ``facts``)."""

    __tablename__ = "rematch_alternative"
    __table_args__ = (
        UniqueConstraint("rematch_id", "rank"),
        CheckConstraint(_one_of("instrument", INSTRUMENTS), name="instrument_known"),
        CheckConstraint("rank >= 1", name="rank_positive"),
        CheckConstraint(
            "(instrument = 'subsidy' AND programme_id IS NOT NULL AND product_id IS NULL) OR "
            "(instrument <> 'subsidy' AND product_id IS NOT NULL AND institution_id IS NOT NULL)",
            name="names_its_offer",
        ),
        Index("ix_rematch_alternative_instrument", "instrument"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    rematch_id: Mapped[int] = mapped_column(ForeignKey("need_rematch.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    instrument: Mapped[str] = mapped_column(String(12))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"))
    #: the recommender's fit score of a product (none for a subsidy)
    score: Mapped[Decimal | None] = mapped_column(Quantity)
    #: the referral made at once to this alternative's institution, if any
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("need_referral.id"))
    needs_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    zh: Mapped[str] = mapped_column(String(300))
    en: Mapped[str] = mapped_column(String(300))
    facts: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class AllocationRun(Audited, Base):
    """One solve of the special-credit allocation (专项信贷额度分配), with what produced it.

    ``objective`` and ``gap`` are the solver's floating-point figures (a weighted sum of amounts
    and points, not money); ``result`` holds the binding quotas with their dual values, the
    quotas that could not be met, and the first-come-first-served objective of the same instance.
    """

    __tablename__ = "allocation_run"
    __table_args__ = (CheckConstraint(_one_of("status", RUN_STATUSES), name="status_known"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"), index=True)
    objective_kind: Mapped[str] = mapped_column(String(40))
    solver: Mapped[str] = mapped_column(String(30))
    solver_version: Mapped[str] = mapped_column(String(30))
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    solver_status: Mapped[str] = mapped_column(String(40))
    objective: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    fcfs_objective: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AllocationRow(Base):
    """One need funded by one institution in a run; accepted rows become proposed credit
    lines (``credit_line_id``, maker-checker as usual)."""

    __tablename__ = "allocation_row"
    __table_args__ = (
        UniqueConstraint("run_id", "need_id", "institution_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("allocation_run.id", ondelete="CASCADE"))
    need_id: Mapped[int] = mapped_column(ForeignKey("financing_need.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("agreement_commitment.id"))
    tech_field: Mapped[str | None] = mapped_column(ForeignKey("tech_field.code"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    weight: Mapped[float | None] = mapped_column(Float)
    credit_line_id: Mapped[int | None] = mapped_column(ForeignKey("credit_line.id"))


class MatchingSetting(Audited, Base):
    """A programme's matching rules: how many business days an institution has to answer a
    referral, and which holiday calendar counts (a programme without a row uses the defaults:
    2 business days, calendar ``CN``)."""

    __tablename__ = "matching_setting"
    __table_args__ = (
        CheckConstraint("response_business_days BETWEEN 1 AND 60", name="days_plausible"),
    )
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), primary_key=True)
    response_business_days: Mapped[int] = mapped_column(Integer, default=2)
    calendar: Mapped[str] = mapped_column(String(20), default="CN")
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class CalendarDay(Audited, Base):
    """A day that differs from the Monday-to-Friday week in one calendar: a public holiday on a
    weekday (``holiday``) or a make-up working day on a weekend (``workday``, 调休)."""

    __tablename__ = "calendar_day"
    __table_args__ = (CheckConstraint("kind IN ('holiday','workday')", name="kind_known"),)
    calendar: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(80))
