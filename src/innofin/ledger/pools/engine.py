"""Risk-compensation pools (pure): rule templates, claim assessment, exact pro-rata splits and
leverage headroom (interest subsidies have their own engine, `ledger.subsidies.engine`).

Money is `Decimal` yuan quantised to the fen (0.01) with half-up rounding (四舍五入), as in
`innofin.kernel.money`; shares, coverages and rates are `Decimal` (``Decimal("0.30")`` = 30 %).
No `float` is ever involved: the rule models refuse floats (write ``"0.30"`` in YAML and JSON), and
every product or quotient is carried as an exact `fractions.Fraction` and rounded once.

Claims (`assess_claim`). When a covered loan defaults the pool pays part of the principal loss:

1. eligibility: the enterprise's kind is in `PoolRules.eligible_enterprise_kinds` (when that set is
   not empty), the loan product carries at least one of `eligible_product_tags` (when not empty),
   and the enterprise is in the candidate-enterprise pool (备选企业库) when the rules require it.
   Each failed rule adds its `ClaimReason` code; an ineligible claim is covered 0.00;
2. the nominal rate: `guaranteed_coverage` for a guaranteed loan (when the rules set one, otherwise
   `base_coverage`), plus each bonus whose tag the loan carries, each counted once;
3. the coverage rate applied: the nominal rate, at most `max_coverage`;
4. the covered amount: loss × nominal rate rounded half-up to the fen, then limited, in this order,
   by ``loss × max_coverage`` rounded *down* to the fen (so the bank always keeps at least
   ``1 − max_coverage`` of the loss, to the fen), by `cap_per_loan` and by what is left of
   `cap_per_institution_year` after the institution's earlier claims this year. `binding_cap`
   names the first limit that set the amount, when one did;
5. the bank keeps the rest, ``retained = loss − covered``; the contributors (province, county, …)
   pay ``covered`` between them by their shares, split to the fen by `split_pro_rata`.

Exact splits (`split_pro_rata`, from `innofin.kernel.money`): each part is the exact proportional
amount rounded down to the fen; the fen left over go one each to the largest remainders, ties going
to the name that sorts first (plain `str` order), so the parts always add up to the amount exactly,
each part is within one fen of its exact value, and the result never depends on the order of the
mapping. The same
function splits a recovery on a paid claim back to the contributors in proportion to what each
paid (`split_recovery` adds the check that no more comes back than was paid).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from innofin.kernel.errors import InvalidArgument
from innofin.kernel.jsontypes import AmountJson, Rate, Tags
from innofin.kernel.money import (
    fen_arg,
    fen_of,
    fraction_arg,
    round_half_up,
    split_pro_rata,
    yuan,
)

__all__ = [
    "FIRST_LOAN",
    "IP_PLEDGE",
    "PURE_CREDIT",
    "ClaimAssessment",
    "ClaimCap",
    "ClaimInput",
    "ClaimReason",
    "PoolInputError",
    "PoolRules",
    "assess_claim",
    "check_payout",
    "early_province_county_rules",
    "leverage_headroom",
    "province_direct_guaranteed_bonus_rules",
    "split_pro_rata",
    "split_recovery",
    "zone_pool_rules",
]

#: loan tags that earn bonus points under the shipped province template
FIRST_LOAN: Final = "first_loan"  # 首贷
PURE_CREDIT: Final = "pure_credit"  # 纯信用
IP_PLEDGE: Final = "ip_pledge"  # 知识产权质押

#: Bad input to the pool engine: the kernel's `InvalidArgument`, which the exact-fen helpers of
#: `innofin.kernel.money` raise too — a `ValueError` (and an `InvalidInput`, so the CLI and API
#: report it like any user error) whose message starts with, and whose `field` is, the name of
#: the parameter at fault.
PoolInputError = InvalidArgument


def _fail(field: str, message: str) -> PoolInputError:
    return PoolInputError(f"{field} {message}", field=field)


class ClaimReason(StrEnum):
    """Why a claim is not eligible (one code per failed eligibility rule, in this order)."""

    ENTERPRISE_KIND_NOT_ELIGIBLE = "enterprise_kind_not_eligible"
    PRODUCT_NOT_ELIGIBLE = "product_not_eligible"
    NOT_IN_CANDIDATE_POOL = "not_in_candidate_pool"


class ClaimCap(StrEnum):
    """The limit that set a claim's covered amount below loss × nominal rate."""

    MAX_COVERAGE = "max_coverage"
    CAP_PER_LOAN = "cap_per_loan"
    CAP_PER_INSTITUTION_YEAR = "cap_per_institution_year"


# --- field types --------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_names(field: str | None, names: Iterable[str]) -> None:
    for name in names:
        if not name.strip():
            raise ValueError(f"{field} must not contain an empty name")


# --- pool rules ---------------------------------------------------------------------------------


class PoolRules(_Strict):
    """A risk-compensation pool's rule template (stored as JSON, written in YAML)."""

    #: who funds what the pool pays, by share; shares are positive and sum to exactly 1
    contributors: dict[str, Rate]
    #: the pool's share of the principal loss on a direct (unguaranteed) loan
    base_coverage: Rate
    #: the pool's share when the loan was guaranteed (None: `base_coverage` applies)
    guaranteed_coverage: Rate | None = None
    #: extra points by loan tag, each applied once, added together
    bonus: dict[str, Rate] = {}
    #: the most the pool covers, as a share of the actual loss
    max_coverage: Rate
    #: the share of the loss the bank must keep whoever else covers it (guarantors, insurers);
    #: None: ``1 − max_coverage``. Must leave room for the pool: max_coverage + this ≤ 1
    bank_min_share: Rate | None = None
    cap_per_loan: AmountJson | None = None
    cap_per_institution_year: AmountJson | None = None
    #: covered credit outstanding must stay ≤ leverage × pool funds (see `leverage_headroom`)
    leverage: Rate | None = None
    #: empty: any kind
    eligible_enterprise_kinds: Tags = frozenset()
    #: empty: any product; otherwise the loan product must carry at least one of these tags
    eligible_product_tags: Tags = frozenset()
    require_candidate_pool: bool = False

    @field_validator("contributors")
    @classmethod
    def _shares(cls, value: dict[str, Decimal], info: ValidationInfo) -> dict[str, Decimal]:
        field = info.field_name
        if not value:
            raise ValueError(f"{field} must name at least one contributor")
        _check_names(field, value)
        for name, share in value.items():
            if not 0 < share <= 1:
                raise ValueError(f"{field}: the share of {name} must be in (0, 1], got {share}")
        total = sum(value.values(), Decimal(0))
        if total != 1:
            parts = " + ".join(f"{name} {share}" for name, share in value.items())
            raise ValueError(f"{field}: shares must sum to exactly 1, got {total} ({parts})")
        return value

    @field_validator("bonus")
    @classmethod
    def _bonus(cls, value: dict[str, Decimal], info: ValidationInfo) -> dict[str, Decimal]:
        _check_names(info.field_name, value)
        for tag, points in value.items():
            if not 0 <= points <= 1:
                raise ValueError(
                    f"{info.field_name}: the bonus for {tag} must be between 0 and 1, got {points}"
                )
        return value

    @field_validator("base_coverage", "guaranteed_coverage", "bank_min_share")
    @classmethod
    def _unit(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"{info.field_name} must be between 0 and 1, got {value}")
        return value

    @field_validator("max_coverage")
    @classmethod
    def _max(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        if not 0 < value <= 1:
            raise ValueError(f"{info.field_name} must be in (0, 1], got {value}")
        return value

    @field_validator("cap_per_loan", "cap_per_institution_year", "leverage")
    @classmethod
    def _positive(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"{info.field_name} must be positive (leave it out for no limit)")
        return value

    @field_validator("eligible_enterprise_kinds", "eligible_product_tags")
    @classmethod
    def _tags(cls, value: frozenset[str], info: ValidationInfo) -> frozenset[str]:
        _check_names(info.field_name, value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PoolRules:
        if self.max_coverage < self.base_coverage:
            raise ValueError(
                f"max_coverage ({self.max_coverage}) must not be below base_coverage "
                f"({self.base_coverage})"
            )
        if self.guaranteed_coverage is not None and self.max_coverage < self.guaranteed_coverage:
            raise ValueError(
                f"max_coverage ({self.max_coverage}) must not be below guaranteed_coverage "
                f"({self.guaranteed_coverage})"
            )
        if self.bank_min_share is not None and self.max_coverage + self.bank_min_share > 1:
            raise ValueError(
                f"bank_min_share ({self.bank_min_share}) and max_coverage ({self.max_coverage}) "
                "add up to more than 1: the bank cannot keep that much if the pool pays that much"
            )
        return self

    @property
    def min_bank_share(self) -> Decimal:
        """The share of a loss the bank keeps at the least: `bank_min_share`, or 1 − max."""
        return self.bank_min_share if self.bank_min_share is not None else 1 - self.max_coverage


def _template(fields: dict[str, object], overrides: Mapping[str, object]) -> PoolRules:
    return PoolRules.model_validate({**fields, **overrides})


def early_province_county_rules(coverage: Decimal, **overrides: object) -> PoolRules:
    """Early provincial tech-loan pools: the province pays 70 % and the city or county 30 % of
    what the pool pays. DOMAIN.md gives no coverage for these rules, so `coverage` (the pool's
    share of the principal loss, also its maximum) is required. The county fund is levered
    10 × by default; the enterprise must be in the candidate pool. `overrides` replace any
    field (and are validated like a file)."""
    return _template(
        {
            "contributors": {"province": Decimal("0.7"), "county": Decimal("0.3")},
            "base_coverage": coverage,
            "max_coverage": coverage,
            "leverage": Decimal(10),
            "require_candidate_pool": True,
        },
        overrides,
    )


def zone_pool_rules(**overrides: object) -> PoolRules:
    """A zone pool: covers up to 30 % of the principal loss and the bank keeps at least 20 %
    (guarantors and insurers may cover up to the remaining 50 %). The rule caps claims per
    institution per year, but DOMAIN.md gives no figure: pass ``cap_per_institution_year``."""
    return _template(
        {
            "contributors": {"zone": Decimal(1)},
            "base_coverage": Decimal("0.30"),
            "max_coverage": Decimal("0.30"),
            "bank_min_share": Decimal("0.20"),
            "require_candidate_pool": True,
        },
        overrides,
    )


def province_direct_guaranteed_bonus_rules(**overrides: object) -> PoolRules:
    """A province paying 30 % of a direct loan's non-performing principal, 20 % for a guaranteed
    loan, +5 points each for a first loan, a pure-credit loan and an IP-pledge loan, never more
    than 80 % of the actual loss in total. Funded by the province alone unless ``contributors``
    is given."""
    return _template(
        {
            "contributors": {"province": Decimal(1)},
            "base_coverage": Decimal("0.30"),
            "guaranteed_coverage": Decimal("0.20"),
            "bonus": {
                FIRST_LOAN: Decimal("0.05"),
                PURE_CREDIT: Decimal("0.05"),
                IP_PLEDGE: Decimal("0.05"),
            },
            "max_coverage": Decimal("0.80"),
            "require_candidate_pool": True,
        },
        overrides,
    )


# --- claims -------------------------------------------------------------------------------------


class ClaimInput(_Strict):
    """The facts of one defaulted loan that a claim assessment needs."""

    principal_loss: AmountJson
    #: loan tags that may earn bonus points (first_loan, pure_credit, ip_pledge, …)
    tags: Tags = frozenset()
    guaranteed: bool = False
    enterprise_kind: str | None = None
    #: the loan product's tags, checked against `PoolRules.eligible_product_tags`
    product_tags: Tags = frozenset()
    in_candidate_pool: bool = False
    #: covered amounts of the lending institution's earlier claims on this pool this year
    already_claimed_this_year_by_institution: AmountJson = Decimal("0.00")


class ClaimAssessment(_Strict):
    eligible: bool
    reasons: tuple[ClaimReason, ...]
    #: base (or guaranteed) coverage plus the bonuses, before `max_coverage`
    nominal_rate: Rate
    #: bonus points applied, by tag (sorted)
    bonuses: dict[str, Rate]
    #: min(nominal_rate, max_coverage); 0 when the claim is not eligible
    coverage_rate: Rate
    covered: AmountJson
    retained: AmountJson
    binding_cap: ClaimCap | None
    #: what each contributor pays; adds up to `covered` exactly
    contributions: dict[str, AmountJson]


def _claim_reasons(rules: PoolRules, claim: ClaimInput) -> tuple[ClaimReason, ...]:
    reasons: list[ClaimReason] = []
    kinds = rules.eligible_enterprise_kinds
    if kinds and claim.enterprise_kind not in kinds:
        reasons.append(ClaimReason.ENTERPRISE_KIND_NOT_ELIGIBLE)
    products = rules.eligible_product_tags
    if products and not products & claim.product_tags:
        reasons.append(ClaimReason.PRODUCT_NOT_ELIGIBLE)
    if rules.require_candidate_pool and not claim.in_candidate_pool:
        reasons.append(ClaimReason.NOT_IN_CANDIDATE_POOL)
    return tuple(reasons)


def assess_claim(rules: PoolRules, claim: ClaimInput) -> ClaimAssessment:
    """What the pool covers of `claim`'s principal loss, what the bank keeps, and who pays what
    (see the module docstring for the steps)."""
    reasons = _claim_reasons(rules, claim)
    base = (
        rules.guaranteed_coverage
        if claim.guaranteed and rules.guaranteed_coverage is not None
        else rules.base_coverage
    )
    bonuses = {tag: rules.bonus[tag] for tag in sorted(claim.tags & rules.bonus.keys())}
    nominal = base + sum(bonuses.values(), Decimal(0))
    loss = fen_of(claim.principal_loss)

    covered = 0
    rate = Decimal(0)
    binding: ClaimCap | None = None
    if not reasons:
        rate = min(nominal, rules.max_coverage)
        uncapped = round_half_up(loss * Fraction(nominal))
        limits: list[tuple[ClaimCap, int]] = [
            (ClaimCap.MAX_COVERAGE, math.floor(loss * Fraction(rules.max_coverage)))
        ]
        if rules.cap_per_loan is not None:
            limits.append((ClaimCap.CAP_PER_LOAN, fen_of(rules.cap_per_loan)))
        if rules.cap_per_institution_year is not None:
            left = fen_of(rules.cap_per_institution_year) - fen_of(
                claim.already_claimed_this_year_by_institution
            )
            limits.append((ClaimCap.CAP_PER_INSTITUTION_YEAR, max(0, left)))
        covered = min([uncapped, *(limit for _, limit in limits)])
        binding = next(
            (kind for kind, limit in limits if limit == covered and limit < uncapped), None
        )

    covered_yuan = yuan(covered)
    return ClaimAssessment(
        eligible=not reasons,
        reasons=reasons,
        nominal_rate=nominal,
        bonuses=bonuses,
        coverage_rate=rate,
        covered=covered_yuan,
        retained=yuan(loss - covered),
        binding_cap=binding,
        contributions=split_pro_rata(covered_yuan, rules.contributors),
    )


# --- exact splits -------------------------------------------------------------------------------


def split_recovery(recovery: Decimal, paid: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Return a recovery on a paid claim to the contributors in proportion to what each paid
    (`split_pro_rata`), so no part exceeds what that contributor paid; refuses to return more
    than they paid in total. When nothing was paid (a claim covered 0.00) every part is 0.00."""
    back = fen_arg(recovery, "recovery")
    paid_total = sum((fen_arg(value, "paid") for value in paid.values()), 0)
    if back > paid_total:
        raise _fail(
            "recovery",
            f"{yuan(back)} is more than the contributors paid ({yuan(paid_total)})",
        )
    if paid and paid_total == 0:  # nothing was paid, so nothing comes back
        return {name: yuan(0) for name in paid}
    return split_pro_rata(recovery, paid)


# --- pool funds ---------------------------------------------------------------------------------


def leverage_headroom(
    pool_funds: Decimal, covered_outstanding: Decimal, leverage: Decimal
) -> Decimal:
    """How much more covered credit the leverage limit allows: leverage × pool funds (rounded
    down to the fen) less the covered credit outstanding, never negative."""
    funds = fen_arg(pool_funds, "pool_funds")
    outstanding = fen_arg(covered_outstanding, "covered_outstanding")
    factor = fraction_arg(leverage, "leverage")
    if factor <= 0:
        raise _fail("leverage", f"must be positive, got {leverage}")
    limit = math.floor(funds * factor)
    return yuan(max(0, limit - outstanding))


def check_payout(balance: Decimal, payout: Decimal) -> None:
    """Refuse (`PoolInputError`, a `ValueError`) a payout that would take the pool below zero."""
    have = fen_arg(balance, "balance", signed=True)
    pay = fen_arg(payout, "payout")
    if pay > have:
        raise _fail(
            "payout",
            f"{yuan(pay)} would take the pool balance {yuan(have)} below zero "
            f"(short by {yuan(pay - have)})",
        )
