"""The rows of a bulk batch (`ledger.bulk.record_many`) and its result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from innofin.audit.recorder import Actor
from innofin.ledger.loans.lines_engine import LineSpec
from innofin.ledger.loans.rules_engine import CURRENCY


@dataclass(frozen=True)
class LoanRef:
    """A loan by the bank's own number (the institution's, unique)."""

    institution_id: int
    external_ref: str


@dataclass(frozen=True)
class LineRef:
    """A credit line by the bank's own number."""

    institution_id: int
    external_ref: str


LoanId = int | LoanRef


@dataclass(frozen=True)
class Repayment:
    loan_id: LoanId
    principal: Decimal
    interest: Decimal
    paid_on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class Classification:
    """Classify as of a date (at least `floor`, a bank's own downgrade); an event only when the
    class changes, as `service.classify`."""

    loan_id: LoanId
    as_of: dt.date
    floor: str | None = None


@dataclass(frozen=True)
class Default:
    loan_id: LoanId
    on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class WriteOff:
    loan_id: LoanId
    amount: Decimal
    on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class Recovery:
    loan_id: LoanId
    amount: Decimal
    on: dt.date
    key: str | None = None


@dataclass(frozen=True)
class NewLine:
    """A new credit line: proposed by `maker` and approved by `checker` (as `service.propose_line`
    then `service.approve_line`), or — with neither — a line of a bank's historical book loaded
    by the batch's actor (`service.load_line`, with the bank's `approval_ref`)."""

    spec: LineSpec
    key: str | None = None
    maker: Actor | None = None
    checker: Actor | None = None
    approve_key: str | None = None
    checker_institution_id: int | None = None
    approval_ref: str | None = None


@dataclass(frozen=True)
class Drawdown:
    line: int | LineRef
    amount: Decimal
    drawn_on: dt.date
    external_ref: str
    months: int
    method: str = "equal_principal"
    day_count: str = "ACT/360"
    currency: str = CURRENCY
    key: str | None = None


LoanEvent = Repayment | Classification | Default | WriteOff | Recovery
Row = LoanEvent | NewLine | Drawdown


@dataclass(frozen=True)
class Refused:
    index: int  # the row's position in the input
    field: str
    reason: str
    follows: int | None = None  # cascade: the refused row of the same loan it follows


@dataclass
class BulkResult:
    recorded: int
    replayed: int
    refused: list[Refused]
