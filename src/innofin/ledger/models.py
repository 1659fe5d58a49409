"""Tables of the programme ledger: programmes and targets, agreements and their commitments,
credit lines, loans and their schedules, and the append-only event and limit-entry tables.

History lives in two append-only tables (the database refuses UPDATE and DELETE on both):

* `ledger_event` — every change a user or a bank return makes (who, when, why, the idempotency
  key), with its amounts; a correction is a reversing event;
* `limit_entry` — reservations, consumptions and releases of a commitment's or a credit line's
  limit, with a unique key per (account, kind, source), so one credit line or loan can never
  consume twice.

Balances and statuses on `agreement_commitment`, `credit_line` and `loan` are caches of that
history. Each cache carries a CHECK that the database enforces whatever the Python code does
(`used <= amount`, `outstanding_principal >= 0`), and `innofin ledger check` replays the history
and fails loudly where a cache disagrees.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

import innofin.registry.models  # noqa: F401  (defines the tables this module's foreign keys name)
from innofin.audit.recorder import Audited
from innofin.db.base import Base, JsonDoc, Money, Quantity, UtcDateTime
from innofin.db.chain import Chained

TARGET_KINDS = ("financing_balance", "new_credit", "key_enterprises", "balance_growth")
AGREEMENT_KINDS = ("government_bank", "zone_bank", "bank_enterprise")
LINE_STATUSES = ("pending", "approved", "rejected", "closed")
LOAN_STATUSES = ("active", "closed", "written_off")
METHODS = ("equal_instalment", "equal_principal", "interest_bullet", "revolving")
CATEGORIES = ("pass", "special_mention", "substandard", "doubtful", "loss")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Programme(Audited, Base):
    """A sci-tech finance programme (专项计划): sponsor, period, participants and targets."""

    __tablename__ = "programme"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="period_ordered"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sponsor: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    #: the key list (from scoring) that serves as the candidate-enterprise pool (备选企业库)
    candidate_list: Mapped[str | None] = mapped_column(String(60))
    #: a bank return naming this programme may register a borrower the registry does not have
    #: (with the fields a return carries: name, region, industry code, employees)
    register_borrowers: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    zone_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    institution_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ProgrammeTarget(Audited, Base):
    """A target: a balance by a date, new credit in a period (optionally per field), a number of
    key enterprises, or a growth rate of the balance."""

    __tablename__ = "programme_target"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TARGET_KINDS), name="kind_known"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_nonneg"),
        CheckConstraint(
            "(kind IN ('financing_balance','new_credit')) = (amount IS NOT NULL)",
            name="amount_iff_money_target",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programme.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    tech_field: Mapped[str | None] = mapped_column(ForeignKey("tech_field.code"))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    count: Mapped[int | None] = mapped_column(Integer)
    rate: Mapped[Decimal | None] = mapped_column(Quantity)
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)


class Agreement(Audited, Base):
    """A cooperation agreement (合作协议): government–bank, zone–bank or bank–enterprise."""

    __tablename__ = "agreement"
    __table_args__ = (
        CheckConstraint(_one_of("kind", AGREEMENT_KINDS), name="kind_known"),
        CheckConstraint("ends_on >= starts_on", name="period_ordered"),
        CheckConstraint("status IN ('signed','terminated')", name="status_known"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    counterparty: Mapped[str] = mapped_column(String(200))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    signed_on: Mapped[dt.date] = mapped_column(Date)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="signed")
    #: attached documents: [{name, sha256, bytes}]
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AgreementCommitment(Audited, Base):
    """A committed amount of an agreement for a period, optionally for one technology field.

    ``used`` caches the limit entries on it (reserved + consumed − released); the CHECK keeps it
    within the amount even if two transactions raced past the service's own check.
    """

    __tablename__ = "agreement_commitment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("used >= 0 AND used <= amount", name="used_within_amount"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    tech_field: Mapped[str | None] = mapped_column(ForeignKey("tech_field.code"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    used: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))


class CreditLine(Audited, Base):
    """A credit line (授信额度) of an institution to an enterprise; entered by one officer (maker),
    approved by another of the same institution (checker).

    ``used`` caches the limit entries on the line (drawdowns consume; on a revolving line
    repayments release). Status and cached amounts change only through `ledger.service`, which
    writes the event that explains each change.
    """

    __tablename__ = "credit_line"
    __table_args__ = (
        UniqueConstraint("institution_id", "external_ref"),
        CheckConstraint("limit_amount > 0", name="limit_positive"),
        CheckConstraint("used >= 0 AND used <= limit_amount", name="used_within_limit"),
        CheckConstraint("matures_on > opens_on", name="period_ordered"),
        CheckConstraint(_one_of("status", LINE_STATUSES), name="status_known"),
        CheckConstraint("rate_kind IN ('fixed','lpr_spread')", name="rate_kind_known"),
        CheckConstraint("checker_id IS NULL OR checker_id <> maker_id", name="four_eyes"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    external_ref: Mapped[str] = mapped_column(String(60))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"), index=True)
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("agreement_commitment.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    #: the risk pool that covers this line's loans (their principal counts against leverage)
    risk_pool_id: Mapped[int | None] = mapped_column(ForeignKey("risk_pool.id"))
    #: tags the pool's rules read: first_loan, pure_credit, ip_pledge, guaranteed
    tags: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    limit_amount: Mapped[Decimal] = mapped_column(Money)
    used: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    revolving: Mapped[bool] = mapped_column(default=False)
    opens_on: Mapped[dt.date] = mapped_column(Date)
    matures_on: Mapped[dt.date] = mapped_column(Date)
    rate_kind: Mapped[str] = mapped_column(String(12))
    #: annual rate as a fraction (0.0345) for fixed pricing; the LPR in force otherwise
    rate: Mapped[Decimal] = mapped_column(Quantity)
    spread_bp: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    maker_id: Mapped[str] = mapped_column(String(120))
    checker_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Loan(Audited, Base):
    """A drawdown under a credit line (借据): its terms copied from the line at creation, its
    schedule in `loan_instalment`, and cached balances explained by its events."""

    __tablename__ = "loan"
    __table_args__ = (
        UniqueConstraint("institution_id", "external_ref"),
        CheckConstraint("principal > 0", name="principal_positive"),
        CheckConstraint("outstanding_principal >= 0", name="outstanding_nonneg"),
        CheckConstraint(
            "outstanding_principal = principal - principal_repaid - written_off",
            name="outstanding_explained",
        ),
        CheckConstraint("recovered <= written_off", name="recovered_within_written_off"),
        CheckConstraint("matures_on > drawn_on", name="term_ordered"),
        CheckConstraint(_one_of("status", LOAN_STATUSES), name="status_known"),
        CheckConstraint(_one_of("method", METHODS), name="method_known"),
        CheckConstraint(_one_of("category", CATEGORIES), name="category_known"),
        Index("ix_loan_enterprise", "enterprise_id", "drawn_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    credit_line_id: Mapped[int] = mapped_column(ForeignKey("credit_line.id"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    external_ref: Mapped[str] = mapped_column(String(60))
    currency: Mapped[str] = mapped_column(String(3))
    principal: Mapped[Decimal] = mapped_column(Money)
    drawn_on: Mapped[dt.date] = mapped_column(Date)
    matures_on: Mapped[dt.date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20))
    day_count: Mapped[str] = mapped_column(String(8))
    annual_rate: Mapped[Decimal] = mapped_column(Quantity)
    status: Mapped[str] = mapped_column(String(12), default="active")
    principal_repaid: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    interest_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    written_off: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    recovered: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    outstanding_principal: Mapped[Decimal] = mapped_column(Money)
    category: Mapped[str] = mapped_column(String(16), default="pass")
    defaulted_on: Mapped[dt.date | None] = mapped_column(Date)


class LoanInstalment(Base):
    """The planned schedule of a loan (planned amounts; what was paid comes from its events)."""

    __tablename__ = "loan_instalment"
    __table_args__ = (UniqueConstraint("loan_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    seq: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[dt.date] = mapped_column(Date)
    principal: Mapped[Decimal] = mapped_column(Money)
    interest: Mapped[Decimal] = mapped_column(Money)


class LedgerEvent(Chained, Base):
    """One change of the ledger, never updated or deleted (the database refuses both).

    ``entity``/``entity_id`` name the record it changes; ``kind`` what happened (past tense:
    ``line_proposed``, ``drawn``, ``repaid``, ``reversed`` …); ``principal``/``interest``/
    ``amount`` its money; ``reverses_id`` the event a reversal undoes (each at most once).
    ``idempotency_key`` is unique: a retried request finds its first result.
    """

    __tablename__ = "ledger_event"
    __table_args__ = (
        Index("ix_ledger_event_entity", "entity", "entity_id", "id"),
        CheckConstraint("principal IS NULL OR principal >= 0", name="principal_nonneg"),
        CheckConstraint("interest IS NULL OR interest >= 0", name="interest_nonneg"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    effective_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    principal: Mapped[Decimal | None] = mapped_column(Money)
    interest: Mapped[Decimal | None] = mapped_column(Money)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_event.id"), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    actor: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(500))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: the tamper-evident chain (`db.chain`): hash of the previous event's hash and this content
    chain_hash: Mapped[str | None] = mapped_column(String(64))


class LimitEntry(Chained, Base):
    """A reservation, consumption or release of a limit (a commitment's or a credit line's).

    The unique key (account, account id, kind, source, source id) is what makes "one credit
    line or loan can never consume twice" a property of the database.
    """

    __tablename__ = "limit_entry"
    __table_args__ = (
        UniqueConstraint("account", "account_id", "kind", "source", "source_id"),
        CheckConstraint("account IN ('commitment','credit_line')", name="account_known"),
        CheckConstraint("kind IN ('reserve','consume','release')", name="kind_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(12))
    account_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(Money)
    source: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int] = mapped_column(ForeignKey("ledger_event.id"))
    chain_hash: Mapped[str | None] = mapped_column(String(64))  # see `db.chain`


class RiskPool(Audited, Base):
    """A risk-compensation pool (风险补偿资金池) of a programme, with its rule template.

    ``balance`` = contributed − paid out + recovered, never below zero (a CHECK, so a race
    cannot break it). New covered credit is allowed while covered credit outstanding stays
    within ``leverage`` × balance (the service checks it under the pool's row lock); the
    database backs that with ``covered_outstanding <= leverage × contributed``, a bound that
    payouts cannot violate. Per-contributor positions are derived from the pool's events.
    """

    __tablename__ = "risk_pool"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_nonneg"),
        CheckConstraint("balance = contributed - paid_out + recovered", name="balance_explained"),
        CheckConstraint("covered_outstanding >= 0", name="covered_nonneg"),
        CheckConstraint(
            "leverage IS NULL OR covered_outstanding <= leverage * contributed",
            name="within_leverage",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    #: the rule template (`pool_engine.PoolRules` as JSON)
    rules: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    #: covered credit outstanding may be at most this many times the balance (None: no limit)
    leverage: Mapped[int | None] = mapped_column(Integer)
    contributed: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    paid_out: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    recovered: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    covered_outstanding: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class PoolClaim(Audited, Base):
    """A claim on a pool for a defaulted loan: assessed by the rules, entered by a maker,
    approved by a checker, then paid. One claim per loan and pool."""

    __tablename__ = "pool_claim"
    __table_args__ = (
        UniqueConstraint("pool_id", "loan_id"),
        CheckConstraint("status IN ('pending','approved','rejected','paid')", name="status_known"),
        CheckConstraint("covered >= 0 AND covered <= principal_loss", name="covered_within_loss"),
        CheckConstraint("recovered >= 0 AND recovered <= covered", name="recovered_within_paid"),
        CheckConstraint("checker_id IS NULL OR checker_id <> maker_id", name="four_eyes"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("risk_pool.id"), index=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    claim_year: Mapped[int] = mapped_column(Integer)
    principal_loss: Mapped[Decimal] = mapped_column(Money)
    covered: Mapped[Decimal] = mapped_column(Money)
    recovered: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    #: the engine's assessment (rate, caps, contributor split) as JSON
    assessment: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    maker_id: Mapped[str] = mapped_column(String(120))
    checker_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class InterestSubsidy(Audited, Base):
    """An interest subsidy paid without application (免申即享) for one loan and period.

    Computed from the loan's interest paid, published for a notice period during which anyone may
    object, confirmed by the enterprise, then paid; each step is an event. One subsidy per loan,
    period and programme.
    """

    __tablename__ = "interest_subsidy"
    __table_args__ = (
        UniqueConstraint("loan_id", "period_start", "period_end", "programme"),
        CheckConstraint(
            "status IN ('published','objected','withdrawn','confirmed','paid')",
            name="status_known",
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    programme: Mapped[str] = mapped_column(String(40))
    loan_id: Mapped[int] = mapped_column(ForeignKey("loan.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    interest_paid: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    #: the rules and the engine's assessment, as used
    assessment: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    status: Mapped[str] = mapped_column(String(10), default="published")
    notice_until: Mapped[dt.date] = mapped_column(Date)
    objection: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
