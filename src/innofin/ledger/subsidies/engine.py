"""Interest subsidies paid without application (免申即享), pure: the rules and the computation.

`compute_subsidy`: ``share × interest_paid × min(1, rate_cap ÷ loan_rate)``, so interest
is subsidised only up to the rate cap (such as the LPR). The subsidisable interest is rounded
half-up to the fen first (the figure a public notice shows), then the share is applied and rounded
again, then the per-loan and per-enterprise-year caps (less what was already paid) apply.

Money is `Decimal` yuan to the fen, shares and rates exact `Decimal`s (never `float`): every
product or quotient is carried as a `fractions.Fraction` and rounded once, with the exact-fen
helpers of `innofin.kernel.money`. Bad arguments raise `InvalidArgument` (a `ValueError`) whose
message starts with, and whose `field` is, the parameter at fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from innofin.kernel.errors import InvalidArgument
from innofin.kernel.jsontypes import AmountJson, Rate, Tags
from innofin.kernel.money import fen_arg, fen_of, fraction_arg, round_half_up, yuan

__all__ = [
    "SubsidyAssessment",
    "SubsidyCap",
    "SubsidyReason",
    "SubsidyRules",
    "compute_subsidy",
]


def _fail(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {message}", field=field)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubsidyReason(StrEnum):
    PRODUCT_NOT_ELIGIBLE = "product_not_eligible"


class SubsidyCap(StrEnum):
    """What set a subsidy below share × interest paid."""

    RATE_CAP = "rate_cap"
    CAP_PER_LOAN = "cap_per_loan"
    CAP_PER_ENTERPRISE_YEAR = "cap_per_enterprise_year"


class SubsidyRules(_Strict):
    """An interest subsidy paid without application (免申即享)."""

    #: the share of the (subsidisable) interest paid back, in (0, 1]
    share: Rate
    cap_per_loan: AmountJson | None = None
    cap_per_enterprise_year: AmountJson | None = None
    #: interest is subsidised only up to this annual rate (such as the LPR); None: no cap
    rate_cap: Rate | None = None
    #: empty: any product; otherwise the loan product must carry at least one of these tags
    eligible_product_tags: Tags = frozenset()

    @field_validator("share", "rate_cap")
    @classmethod
    def _unit(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is not None and not 0 < value <= 1:
            raise ValueError(f"{info.field_name} must be in (0, 1], got {value}")
        return value

    @field_validator("cap_per_loan", "cap_per_enterprise_year")
    @classmethod
    def _positive(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"{info.field_name} must be positive (leave it out for no limit)")
        return value

    @field_validator("eligible_product_tags")
    @classmethod
    def _tags(cls, value: frozenset[str], info: ValidationInfo) -> frozenset[str]:
        if any(not name.strip() for name in value):
            raise ValueError(f"{info.field_name} must not contain an empty name")
        return value


class SubsidyAssessment(_Strict):
    eligible: bool
    reasons: tuple[SubsidyReason, ...]
    #: the interest the subsidy is computed on, after the rate cap (0 when not eligible)
    subsidisable_interest: AmountJson
    amount: AmountJson
    binding_cap: SubsidyCap | None


def compute_subsidy(
    rules: SubsidyRules,
    interest_paid: Decimal,
    principal_days: Decimal | None,
    loan_rate: Decimal,
    *,
    product_tags: Iterable[str] = (),
    already_paid_for_loan: Decimal = Decimal(0),
    already_paid_to_enterprise_this_year: Decimal = Decimal(0),
    day_count: int = 360,
) -> SubsidyAssessment:
    """The interest subsidy on `interest_paid` (yuan) of a loan at the annual `loan_rate`.

    subsidisable = interest_paid × min(1, rate_cap ÷ loan_rate), rounded half-up to the fen. When
    `principal_days` (the sum of principal outstanding × days, in yuan·days) is given and the rules
    cap the rate, it is further limited to principal_days × rate_cap ÷ `day_count` (360 by the
    PBoC convention), so penalty or compound interest in `interest_paid` is not subsidised beyond
    what the capped rate earns. amount = share × subsidisable, rounded half-up, then at most what
    is left of `cap_per_loan` (after `already_paid_for_loan`) and of `cap_per_enterprise_year`
    (after `already_paid_to_enterprise_this_year`).
    """
    interest = fen_arg(interest_paid, "interest_paid")
    rate = fraction_arg(loan_rate, "loan_rate")
    if rate <= 0:
        raise _fail("loan_rate", f"must be positive, got {loan_rate}")
    yuan_days = None if principal_days is None else fraction_arg(principal_days, "principal_days")
    if yuan_days is not None and yuan_days < 0:
        raise _fail("principal_days", f"must not be negative, got {principal_days}")
    paid_loan = fen_arg(already_paid_for_loan, "already_paid_for_loan")
    paid_year = fen_arg(
        already_paid_to_enterprise_this_year, "already_paid_to_enterprise_this_year"
    )
    if isinstance(day_count, bool) or not isinstance(day_count, int) or day_count <= 0:
        raise _fail("day_count", f"must be a positive number of days, got {day_count!r}")
    tags = frozenset(product_tags)

    if rules.eligible_product_tags and not rules.eligible_product_tags & tags:
        return SubsidyAssessment(
            eligible=False,
            reasons=(SubsidyReason.PRODUCT_NOT_ELIGIBLE,),
            subsidisable_interest=yuan(0),
            amount=yuan(0),
            binding_cap=None,
        )

    base = Fraction(interest)
    if rules.rate_cap is not None:
        cap = Fraction(rules.rate_cap)
        base *= min(Fraction(1), cap / rate)
        if yuan_days is not None:
            base = min(base, yuan_days * 100 * cap / day_count)  # in fen
    subsidisable = round_half_up(base)
    uncapped = round_half_up(subsidisable * Fraction(rules.share))

    limits: list[tuple[SubsidyCap, int]] = []
    if rules.cap_per_loan is not None:
        left = fen_of(rules.cap_per_loan) - paid_loan
        limits.append((SubsidyCap.CAP_PER_LOAN, max(0, left)))
    if rules.cap_per_enterprise_year is not None:
        left = fen_of(rules.cap_per_enterprise_year) - paid_year
        limits.append((SubsidyCap.CAP_PER_ENTERPRISE_YEAR, max(0, left)))
    amount = min([uncapped, *(limit for _, limit in limits)])
    binding = next((kind for kind, limit in limits if limit == amount and limit < uncapped), None)
    if binding is None and subsidisable < interest:
        binding = SubsidyCap.RATE_CAP
    return SubsidyAssessment(
        eligible=True,
        reasons=(),
        subsidisable_interest=yuan(subsidisable),
        amount=yuan(amount),
        binding_cap=binding,
    )
