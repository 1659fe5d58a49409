"""The rules of new credit lines (pure): the checks every new line passes, a line proposed by its
maker or loaded from a bank's historical book, and the checker's approval — with the states and
outcomes of `rules_engine`, called by the services (`service.propose_line`, `load_line`,
`approve_line`) and by the bulk path's new lines alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from innofin.ledger.loans.rules_engine import (
    CURRENCY,
    Entry,
    Event,
    LineState,
    Outcome,
    Refused,
    evolve,
)

__all__ = [
    "HISTORICAL",
    "CommitmentState",
    "LineFacts",
    "LineSpec",
    "approve_line",
    "load_line",
    "propose_line",
]

_ZERO: Final = Decimal("0.00")
#: who a historical credit line names as its maker: the officer who loaded it
HISTORICAL: Final = "historical:"


@dataclass(frozen=True)
class CommitmentState:
    """A commitment with what the rules read of its agreement."""

    agreement: str
    agreement_status: str
    institution_id: int
    currency: str
    tech_field: str | None
    period_start: dt.date
    period_end: dt.date
    amount: Decimal
    used: Decimal


# --------------------------------------------------------------------------- credit lines


@dataclass(frozen=True)
class LineSpec:
    institution_id: int
    external_ref: str
    enterprise_id: int
    limit_amount: Decimal
    opens_on: dt.date
    matures_on: dt.date
    rate: Decimal
    rate_kind: str = "fixed"
    spread_bp: int = 0
    revolving: bool = False
    currency: str = CURRENCY
    programme_id: int | None = None
    commitment_id: int | None = None
    product_id: int | None = None
    risk_pool_id: int | None = None
    #: what a risk pool's rules read: first_loan, pure_credit, ip_pledge, guaranteed
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LineFacts:
    """What a new line's checks read of the database, under the access policy: the enterprise's
    field (`enterprise` False when it does not exist), whether the institution exists, whether
    its number is taken, whether the line may name its product and pool (`line_product_scope`,
    `line_pool_scope`), the pool's currency, and the commitment it draws on (None when it does
    not exist)."""

    enterprise: bool
    tech_field: str | None
    institution: bool
    ref_taken: bool
    product_nameable: bool = True
    pool_nameable: bool = True
    pool_currency: str | None = None
    commitment: CommitmentState | None = None


def _check_line(spec: LineSpec, limit: Decimal, facts: LineFacts) -> None:
    """The checks every new credit line passes, in the order the user meets them."""
    if spec.matures_on <= spec.opens_on:
        raise Refused("invalid", "matures_on", "matures_on must be after opens_on")
    if spec.rate_kind not in ("fixed", "lpr_spread"):
        raise Refused("invalid", "rate_kind", "rate_kind must be fixed or lpr_spread")
    if not isinstance(spec.rate, Decimal) or not Decimal(0) <= spec.rate < 1:
        raise Refused("invalid", "rate", "rate is an annual fraction (0.0345) as a Decimal")
    if not facts.enterprise:
        raise Refused("not_found", "enterprise", f"enterprise {spec.enterprise_id} does not exist")
    if not facts.institution:
        raise Refused(
            "not_found", "institution", f"institution {spec.institution_id} does not exist"
        )
    if facts.ref_taken:
        raise Refused(
            "conflict",
            "external_ref",
            f"credit line {spec.external_ref!r} exists already for this institution",
        )
    if spec.product_id is not None and not facts.product_nameable:
        # another institution's product reads as one that does not exist
        raise Refused("not_found", "product_id", f"product {spec.product_id} does not exist")
    if spec.risk_pool_id is not None:
        if not facts.pool_nameable or facts.pool_currency is None:
            # so does a pool of a programme the institution is not in
            raise Refused(
                "not_found", "risk_pool_id", f"risk pool {spec.risk_pool_id} does not exist"
            )
        if facts.pool_currency != spec.currency:
            raise Refused(
                "invalid",
                "currency",
                f"currency {spec.currency} does not match the pool's {facts.pool_currency}",
            )
    if spec.commitment_id is not None:
        c = facts.commitment
        if c is None or c.institution_id != spec.institution_id:
            # another bank's commitment: as if none
            raise Refused(
                "not_found", "commitment_id", f"commitment {spec.commitment_id} does not exist"
            )
        _check_commitment(c, spec, limit, facts.tech_field)


def _check_commitment(
    c: CommitmentState, spec: LineSpec, limit: Decimal, tech_field: str | None
) -> None:
    if c.agreement_status != "signed":
        reason = f"agreement {c.agreement} is {c.agreement_status}"
        raise Refused("conflict", "commitment_id", reason)
    if c.currency != spec.currency:
        raise Refused(
            "invalid",
            "currency",
            f"currency {spec.currency} does not match the agreement's {c.currency}",
        )
    if not c.period_start <= spec.opens_on <= c.period_end:
        raise Refused(
            "invalid",
            "opens_on",
            f"opens_on {spec.opens_on} is outside the commitment's period "
            f"{c.period_start}–{c.period_end}",
        )
    if c.tech_field is not None and tech_field != c.tech_field:
        raise Refused(
            "invalid",
            "commitment_id",
            f"the commitment is for field {c.tech_field}; the enterprise is in {tech_field}",
        )
    if c.used + limit > c.amount:
        raise Refused(
            "conflict",
            "commitment_id",
            f"the commitment has {c.amount - c.used} left; the line asks for {limit}",
        )


def _new_line(spec: LineSpec, limit: Decimal, status: str) -> LineState:
    return LineState(
        spec.institution_id, spec.enterprise_id, spec.external_ref, status, spec.currency,
        spec.opens_on, spec.matures_on, limit, _ZERO, spec.rate, spec.spread_bp, spec.revolving,
        spec.risk_pool_id,
    )  # fmt: skip


def propose_line(spec: LineSpec, limit: Decimal, facts: LineFacts) -> tuple[LineState, Outcome]:
    """A credit line entered by its maker (status pending, event ``line_proposed``); a
    commitment it draws on is reserved at once, so two lines can never promise the same
    committed yuan."""
    _check_line(spec, limit, facts)
    entries: tuple[Entry, ...] = ()
    if spec.commitment_id is not None:
        entries = (Entry("commitment", "reserve", limit, "credit_line"),)
    event = Event("line_proposed", spec.opens_on, amount=limit, by="maker")
    used = limit if entries else _ZERO
    return _new_line(spec, limit, "pending"), Outcome(None, (event,), entries, commitment_used=used)


def load_line(
    spec: LineSpec, limit: Decimal, facts: LineFacts, approval_ref: str | None
) -> tuple[LineState, Outcome]:
    """A credit line of a bank's historical book (历史存量): approved at once (event
    ``line_loaded``); a commitment it draws on is consumed."""
    _check_line(spec, limit, facts)
    entries: tuple[Entry, ...] = ()
    if spec.commitment_id is not None:
        entries = (Entry("commitment", "consume", limit, "credit_line"),)
    event = Event(
        "line_loaded",
        spec.opens_on,
        amount=limit,
        data={"historical": True, "approval_ref": approval_ref},
    )
    used = limit if entries else _ZERO
    outcome = Outcome(None, (event,), entries, commitment_used=used)
    return _new_line(spec, limit, "approved"), outcome


def approve_line(
    line: LineState,
    *,
    maker: str,
    checker: str,
    checker_institution_id: int | None,
    has_commitment: bool,
    approve: bool = True,
) -> tuple[LineState, Outcome]:
    """The checker's decision on a pending line. The maker may not check its own line; a
    checker of another institution may not either. Approval turns the commitment's
    reservation into consumption; rejection releases it."""
    if line.status != "pending":
        raise Refused(
            "conflict", "line", f"credit line {line.external_ref} is {line.status}, not pending"
        )
    if checker == maker:
        raise Refused(
            "forbidden",
            "checker",
            f"maker-checker: {checker} entered credit line {line.external_ref} and may "
            "not also approve it",
            code="same_maker_and_checker",
        )
    if checker_institution_id is not None and checker_institution_id != line.institution_id:
        raise Refused("forbidden", "checker", "the checker must belong to the line's institution")
    kind = "line_approved" if approve else "line_rejected"
    event = Event(kind, line.opens_on, amount=line.limit, by="checker")
    entries: tuple[Entry, ...] = ()
    used = _ZERO
    if has_commitment:
        entries = (Entry("commitment", "release", line.limit, "credit_line"),)
        if approve:
            entries += (Entry("commitment", "consume", line.limit, "credit_line"),)
        else:
            used = -line.limit
    status = "approved" if approve else "rejected"
    return evolve(line, status=status), Outcome(None, (event,), entries, commitment_used=used)
