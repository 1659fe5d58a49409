"""Shapes of the ledger's REST API: amounts are decimal strings in yuan, dates YYYY-MM-DD."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from innofin.kernel.jsontypes import AmountJson, IsoDate, QuantityJson, Text20, Text60

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
    limit_amount: AmountJson
    opens_on: IsoDate
    matures_on: IsoDate
    #: annual rate as a fraction, e.g. "0.0345"
    rate: QuantityJson
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
    amount: AmountJson
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
    principal: AmountJson
    interest: AmountJson = Decimal("0.00")
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
