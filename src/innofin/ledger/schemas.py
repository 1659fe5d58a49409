"""Shapes of the ledger's REST API: amounts are decimal strings in yuan, dates YYYY-MM-DD."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    computed_field,
)

from innofin.kernel.jsontypes import (
    AmountIn,
    AmountJson,
    IsoDate,
    MoneyJson,
    QuantityIn,
    QuantityJson,
    Text20,
    Text40,
    Text60,
    Text500,
)

Method = Literal["equal_instalment", "equal_principal", "interest_bullet", "revolving"]
DayCount = Literal["ACT/360", "ACT/365", "30/360"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CreditLineCreate(_In):
    institution_id: int = Field(ge=1, le=2_147_483_647)
    external_ref: Text60
    enterprise_id: int = Field(ge=1, le=2_147_483_647)
    limit_amount: AmountIn
    opens_on: IsoDate
    matures_on: IsoDate
    #: annual rate as a fraction, e.g. "0.0345"
    rate: QuantityIn
    rate_kind: Literal["fixed", "lpr_spread"] = "fixed"
    spread_bp: int = Field(default=0, ge=-1000, le=5000)
    revolving: bool = False
    currency: Literal["CNY"] = "CNY"
    commitment_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    risk_pool_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    product_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    tags: list[Text20] = Field(default_factory=list, max_length=10)


class CreditLineOut(_Out):
    id: int
    institution_id: int
    external_ref: str
    enterprise_id: int
    programme_id: int | None
    commitment_id: int | None
    risk_pool_id: int | None
    currency: str
    limit_amount: AmountJson
    used: AmountJson
    revolving: bool
    opens_on: dt.date
    matures_on: dt.date
    rate_kind: str
    rate: QuantityJson
    spread_bp: int
    status: str
    maker_id: str
    checker_id: str | None


class Decision(_In):
    approve: bool


class DrawdownCreate(_In):
    amount: AmountIn
    drawn_on: IsoDate
    external_ref: Text60
    months: int = Field(ge=1, le=600)
    method: Method = "equal_principal"
    day_count: DayCount = "ACT/360"
    currency: Literal["CNY"] = "CNY"


class LoanOut(_Out):
    id: int
    credit_line_id: int
    institution_id: int
    enterprise_id: int
    external_ref: str
    currency: str
    principal: AmountJson
    drawn_on: dt.date
    matures_on: dt.date
    months: int
    method: str
    day_count: str
    annual_rate: QuantityJson
    status: str
    principal_repaid: AmountJson
    interest_paid: AmountJson
    written_off: AmountJson
    recovered: AmountJson
    outstanding_principal: AmountJson
    category: str
    defaulted_on: dt.date | None


class RepaymentCreate(_In):
    principal: AmountIn
    interest: AmountIn = Decimal("0.00")
    paid_on: IsoDate


class EventOut(_Out):
    id: int
    entity: str
    entity_id: int
    kind: str
    effective_on: dt.date
    amount: AmountJson | None
    principal: AmountJson | None
    interest: AmountJson | None
    reverses_id: int | None
    actor: str
    reason: str | None


# --------------------------------------------------------------------------- programmes

#: a decimal amount that may pass the 16 digits of an input amount (a product with leverage)
WideAmountJson = Annotated[
    Decimal,
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,30}(\.[0-9]{1,2})?$"}),
]


class TargetOut(_Out):
    id: int
    kind: str
    tech_field: str | None
    amount: AmountJson | None
    count: int | None
    rate: QuantityJson | None
    period_start: dt.date | None
    due_on: dt.date


class ProgrammeOut(_Out):
    id: int
    code: str
    name: str
    sponsor: str
    starts_on: dt.date
    ends_on: dt.date
    #: the key list that serves as the candidate-enterprise pool (备选企业库)
    candidate_list: str | None
    zone_ids: list[int]
    institution_ids: list[int]


class ProgrammeDetail(ProgrammeOut):
    targets: list[TargetOut]


class DocumentOut(BaseModel):
    name: str
    sha256: str
    bytes: int


class AgreementOut(_Out):
    id: int
    code: str
    kind: str
    programme_id: int | None
    institution_id: int
    counterparty: str
    zone_id: int | None
    enterprise_id: int | None
    currency: str
    signed_on: dt.date
    starts_on: dt.date
    ends_on: dt.date
    status: str
    documents: list[DocumentOut]


class CommitmentOut(_Out):
    id: int
    tech_field: str | None
    period_start: dt.date
    period_end: dt.date
    amount: AmountJson
    #: reserved by pending credit lines and consumed by approved ones
    used: AmountJson

    @computed_field  # type: ignore[prop-decorator]
    @property
    def available(self) -> AmountJson:
        return self.amount - self.used


class AgreementDetail(AgreementOut):
    commitments: list[CommitmentOut]


# --------------------------------------------------------------------------- risk pools


class PoolOut(_Out):
    id: int
    code: str
    name: str
    programme_id: int | None
    currency: str
    #: covered credit outstanding may reach this many times the balance (None: no limit)
    leverage: int | None
    contributed: AmountJson
    paid_out: AmountJson
    recovered: AmountJson
    #: contributed − paid out + recovered
    balance: AmountJson
    #: principal outstanding of the loans on the lines the pool covers
    covered_outstanding: AmountJson

    @computed_field  # type: ignore[prop-decorator]
    @property
    def leverage_headroom(self) -> WideAmountJson | None:
        """New covered credit the leverage limit still allows (None: no limit)."""
        if self.leverage is None:
            return None
        # pool_engine.leverage_headroom, exact here: a whole leverage times an amount in fen
        return max(Decimal("0.00"), self.balance * self.leverage - self.covered_outstanding)


class PositionOut(BaseModel):
    """One contributor's position, from the pool's events."""

    contributor: str
    contributed: AmountJson
    paid_out: AmountJson
    recovered: AmountJson
    balance: MoneyJson


class PoolDetail(PoolOut):
    #: the rule template (`PoolRules`): contributors' shares, coverage, caps, leverage
    rules: dict[str, Any]
    positions: list[PositionOut]


class ContributionCreate(_In):
    #: one of the pool's contributors (its rules name them: province, county, zone …)
    contributor: Text40
    amount: AmountIn
    paid_on: IsoDate


class ClaimCreate(_In):
    #: a defaulted loan on a credit line this pool covers
    loan_id: int = Field(ge=1, le=2_147_483_647)


class ClaimOut(_Out):
    id: int
    pool_id: int
    loan_id: int
    institution_id: int
    claim_year: int
    #: principal outstanding at default
    principal_loss: AmountJson
    #: what the pool pays (the rules' share of the loss, within their caps)
    covered: AmountJson
    recovered: AmountJson
    status: str
    maker_id: str
    checker_id: str | None
    created_at: dt.datetime
    #: the rules' assessment: rates, bonuses, binding cap, contributors' split
    assessment: dict[str, Any]


class Payment(_In):
    #: when the money was paid (default: today)
    paid_on: IsoDate | None = None


# --------------------------------------------------------------------------- subsidies


class SubsidyRulesIn(_In):
    """How a period's subsidies are computed (see `ledger.subsidies.engine.SubsidyRules`)."""

    #: the share of the subsidisable interest paid back, in (0, 1]
    share: QuantityIn
    #: interest is subsidised only up to this annual rate (such as the LPR)
    rate_cap: QuantityIn | None = None
    cap_per_loan: AmountIn | None = None
    cap_per_enterprise_year: AmountIn | None = None


class SubsidyPublish(_In):
    programme_id: int = Field(ge=1, le=2_147_483_647)
    period_start: IsoDate
    period_end: IsoDate
    #: days of public notice (公示) from today, during which anyone may object
    notice_days: int = Field(default=7, ge=1, le=90)
    rules: SubsidyRulesIn


class SubsidyOut(_Out):
    id: int
    #: the programme's code
    programme: str
    loan_id: int
    enterprise_id: int
    period_start: dt.date
    period_end: dt.date
    interest_paid: AmountJson
    amount: AmountJson
    status: str
    notice_until: dt.date
    objection: str | None
    #: the rules and the engine's result, as used
    assessment: dict[str, Any]


class SubsidyBatch(BaseModel):
    """What one publication put on public notice."""

    programme_id: int
    programme: str
    period_start: dt.date
    period_end: dt.date
    published_on: dt.date
    notice_until: dt.date
    count: int
    amount: AmountJson
    items: list[SubsidyOut]


class Objection(_In):
    #: what is wrong with the subsidy
    text: Text500


class Resolution(_In):
    #: upheld withdraws the subsidy; dismissed lets it go on
    upheld: bool
