"""Pydantic shapes of matching: financing needs in and out, pre-checks, recommendations, the
back-test's figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from innofin.kernel.codes import NeedPurpose
from innofin.kernel.jsontypes import (
    AmountIn,
    AmountJson,
    IsoDate,
    QuantityIn,
    QuantityJson,
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
