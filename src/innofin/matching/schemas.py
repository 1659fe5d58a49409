"""Pydantic shapes of matching: financing needs in and out, pre-checks, recommendations, the
back-test's figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from innofin.kernel.codes import NeedPurpose, TechField
from innofin.kernel.jsontypes import (
    AmountIn,
    AmountJson,
    IsoDate,
    QuantityIn,
    QuantityJson,
    Text30,
    Text500,
)

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Months = Annotated[int, Field(ge=1, le=600)]
Day = Annotated[IsoDate, Field(ge=dt.date(1900, 1, 1), le=dt.date(2200, 12, 31))]


class NeedCollateral(StrEnum):
    """Collateral an enterprise can offer for a need."""

    IP_PLEDGE = "ip_pledge"
    RECEIVABLES = "receivables"
    REAL_ESTATE = "real_estate"
    GUARANTEE = "guarantee"
    EQUITY_PLEDGE = "equity_pledge"


def _positive(value: Decimal | None) -> Decimal | None:
    if value is not None and value <= 0:
        raise ValueError("the amount must be more than 0")
    return value


def _rate(value: Decimal | None) -> Decimal | None:
    if value is not None and not Decimal(0) <= value <= Decimal(100):
        raise ValueError("the rate is a percentage a year, from 0 to 100")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NeedFields(_In):
    """What a PATCH may send. `enterprise_id` decides who sees the need: no one may change it
    (sent anyway, it is refused by name)."""

    enterprise_id: Id | None = None
    amount: AmountIn | None = None
    term_months: Months | None = None
    purpose: NeedPurpose | None = None
    #: the most the firm will pay: an annual rate in percent (e.g. "4.5")
    max_rate: QuantityIn | None = None
    collateral_offered: list[NeedCollateral] | None = Field(None, max_length=5)
    equity_acceptable: bool | None = None
    needed_by: Day | None = None
    note: Text500 | None = None
    #: an enterprise or officer may withdraw a need, or open it again
    status: Literal["open", "withdrawn"] | None = None

    _amount = field_validator("amount")(_positive)
    _max_rate = field_validator("max_rate")(_rate)


class NeedCreate(_In):
    enterprise_id: Id
    programme_id: Id | None = None
    amount: AmountIn
    term_months: Months
    purpose: NeedPurpose
    max_rate: QuantityIn | None = None
    collateral_offered: list[NeedCollateral] = Field(default_factory=list, max_length=5)
    equity_acceptable: bool = False
    needed_by: Day
    note: Text500 | None = None

    _amount = field_validator("amount")(_positive)
    _max_rate = field_validator("max_rate")(_rate)


class NeedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    enterprise_id: int
    programme_id: int | None
    amount: AmountJson
    term_months: int
    purpose: str
    max_rate: QuantityJson | None
    collateral_offered: list[str]
    equity_acceptable: bool
    needed_by: dt.date
    status: str
    note: str | None
    posted_at: dt.datetime


class RuleOut(BaseModel):
    code: str
    passed: bool
    zh: str
    en: str


class PrecheckOut(BaseModel):
    product_id: int
    product_name: str
    eligible: bool
    rules: list[RuleOut]


class Reason(BaseModel):
    """Why a recommendation fits, in words and with the facts used."""

    code: str
    zh: str
    en: str
    facts: dict[str, Any] = Field(default_factory=dict)


class ProductMatch(BaseModel):
    product_id: int
    product_code: str
    product_name: str
    institution_id: int
    institution_name: str
    score: float
    reasons: list[Reason]


class InstitutionMatch(BaseModel):
    institution_id: int
    institution_name: str
    score: float
    reasons: list[Reason]


class NearMiss(BaseModel):
    product_id: int
    product_name: str
    institution_id: int
    failed_rule: str
    zh: str
    en: str


class NeedRecommendations(BaseModel):
    need_id: int
    enterprise_id: int
    eligible_products: int
    products: list[ProductMatch]
    institutions: list[InstitutionMatch]
    near_misses: list[NearMiss]
    #: why the lists are empty, when they are
    message: str | None = None


class FirmMatch(BaseModel):
    """A need that fits an institution. The firm is named only where the institution may see
    it (consent or referral); otherwise the need is shown by its facts alone."""

    need_id: int
    enterprise_id: int | None
    enterprise_name: str | None
    tech_field: str | None
    growth_stage: str | None
    zone_code: str | None
    amount: AmountJson
    term_months: int
    purpose: str
    score: float
    reasons: list[Reason]


class InstitutionRecommendations(BaseModel):
    institution_id: int
    institution_name: str
    firms: list[FirmMatch]
    message: str | None = None


class HitRates(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    hit1: float = Field(alias="hit@1")
    hit3: float = Field(alias="hit@3")
    hit10: float = Field(alias="hit@10")
    mrr: float


class BacktestOut(BaseModel):
    recommender: dict[str, float]
    baselines: dict[str, dict[str, float]]
    tested: int


# --------------------------------------------------------------------------- referrals

#: a decline's structured reason (`referral_engine.DECLINE_REASONS`, held equal by a test)
DeclineCode = Literal[
    "too_young",
    "revenue_too_low",
    "outside_fields",
    "amount_too_large",
    "risk",
    "incomplete_documents",
    "other",
]


class ReferralCreate(_In):
    """Refer a need to institutions at once; each needs the enterprise's active consent."""

    institution_ids: list[Id] = Field(min_length=1, max_length=20)
    #: who chose the institutions: an officer, or the recommendations the firm was shown
    source: Literal["officer", "recommendation"] = "officer"


class ReferralAnswer(_In):
    """An institution's answer: opt in, or decline with a reason code (``other`` with a text)."""

    answer: Literal["opt_in", "decline"]
    code: DeclineCode | None = None
    text: Text500 | None = None


class ReferralStep(_In):
    """A later funnel step; an approval may name the credit line it became in the ledger."""

    step: Literal["contacted", "applied", "approved"]
    credit_line_id: Id | None = None


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    need_id: int
    institution_id: int
    product_id: int | None
    source: str
    status: str
    fit_score: QuantityJson | None
    reasons: list[Any]
    referred_at: dt.datetime
    deadline: dt.date
    responded_at: dt.datetime | None
    overdue_flagged_at: dt.datetime | None
    contacted_at: dt.datetime | None
    applied_at: dt.datetime | None
    approved_at: dt.datetime | None
    declined_at: dt.datetime | None
    decline_code: str | None
    decline_text: str | None
    credit_line_id: int | None
    rematch_of_id: int | None


class ReferralList(RootModel[list[ReferralOut]]):
    """Referrals answered as a JSON array."""


class AlternativeOut(BaseModel):
    """One alternative offered after a decline: another institution's product (referred at once
    when ``referral_id`` is set; ``needs_consent`` when the firm must consent first) or an
    interest subsidy of a programme (``programme_id``, its terms in ``facts``)."""

    rank: int
    instrument: Literal["loan", "guaranteed", "equity", "subsidy"]
    institution_id: int | None
    institution_name: str | None
    product_id: int | None
    product_name: str | None
    programme_id: int | None
    programme_code: str | None
    programme_name: str | None
    score: QuantityJson | None
    referral_id: int | None
    needs_consent: bool
    zh: str
    en: str
    facts: dict[str, Any]


class RematchOut(BaseModel):
    """What a decline led to. An institution is shown only its own tree's offers; the others
    are counted in ``withheld``."""

    id: int
    referral_id: int
    need_id: int
    decline_code: str
    offered_at: dt.datetime
    message: str | None
    alternatives: list[AlternativeOut]
    withheld: int


class ReferralAnswerOut(BaseModel):
    referral: ReferralOut
    rematch: RematchOut | None


# --------------------------------------------------------------------------- allocation


class AllocationCreate(_In):
    """A special-credit allocation of one programme: quotas in yuan per key technology field and
    per zone (code), floors per zone (zones not named get `floor_share` of what their needs
    ask), the most one enterprise receives, the day, and the solver's gap and time limit."""

    programme_id: Id
    field_max: dict[TechField, AmountIn] = Field(default_factory=dict)
    zone_max: dict[Text30, AmountIn] = Field(default_factory=dict, max_length=500)
    zone_floor: dict[Text30, AmountIn] = Field(default_factory=dict, max_length=500)
    #: a share of each unnamed zone's ask, from 0 to 1 (e.g. "0.05")
    floor_share: QuantityIn = Decimal("0.05")
    enterprise_cap: AmountIn = Decimal("5000000")
    on: Day | None = None
    mip_gap: float = Field(0.001, ge=0, le=1)
    time_limit: float = Field(60.0, ge=1, le=600)

    @field_validator("floor_share")
    @classmethod
    def _share(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= 1:
            raise ValueError("floor_share is a share from 0 to 1")
        return value


class AllocationRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    need_id: int
    institution_id: int
    commitment_id: int | None
    amount: AmountJson
    credit_line_id: int | None


class AllocationRunOut(BaseModel):
    """A stored allocation run: the solver, its version, parameters, status and objective, the
    binding quotas with their duals, the quotas that could not be met, and first-come-first-
    served on the same instance. Amounts are yuan (``funded``), the solver's own figures floats."""

    id: int
    programme_id: int | None
    status: str
    solver: str
    solver_version: str
    solver_status: str
    parameters: dict[str, Any]
    objective: float | None
    gap: float | None
    fcfs_objective: float | None
    needs: int
    funded_needs: int
    funded: AmountJson
    fcfs_funded: AmountJson
    binding: list[dict[str, Any]]
    unmet: list[str]
    message: str | None
    rows: list[AllocationRowOut]
    credit_line_ids: list[int]


class AllocationAccept(_In):
    """Accept a run: each row becomes a credit line proposed in the ledger (the maker is the
    caller; the institution's checker approves it), opening on `opens_on` at `rate`."""

    opens_on: Day
    #: annual rate as a fraction, e.g. "0.0310"
    rate: QuantityIn = Decimal("0.0310")

    @field_validator("rate")
    @classmethod
    def _rate_fraction(cls, value: Decimal) -> Decimal:
        if not Decimal(0) < value < 1:
            raise ValueError("rate is an annual fraction above 0 and below 1, e.g. 0.0310")
        return value
