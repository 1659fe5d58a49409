"""The loan rules (pure): what a drawdown, a repayment, a classification, a default, a write-off,
a recovery or a reversal does to a loan's state, written once.

Each rule takes the state it needs (`LoanState`, `LineState`, `PoolState`, and for new lines
`lines_engine.CommitmentState`:
plain values the caller read under its locks) and one command, and returns an `Outcome` — the
new state, the events to record (`Event`) and the limit entries to write (`Entry`), and how the
line's use, the pool's covered credit and the commitment's use change — or raises `Refused`
naming the field and the reason. The one-by-one services (`ledger.loans.service`) call a rule
per request and turn a refusal into its error (`Refused.error`); the bulk path (`ledger.bulk`)
calls the same rules row after row on its running state and reports a refusal against the row.
The rules of new credit lines and their approval are in `lines_engine`, on the same states and
outcomes. Neither path re-states a rule: `tests/integration/test_ledger_bulk.py` and
`test_ledger_properties.py` prove the two paths equal; `tests/unit/test_ledger_rules.py` tests
the rules with no database.

Amounts are `Decimal` yuan to the fen, already parsed by the caller (`money_arg`); the rules
never round. Imports only `kernel` and the schedule engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar, get_args

from innofin.kernel.errors import Conflict, Forbidden, InnofinError, InvalidInput, NotFound
from innofin.ledger.loans import engine as sched

__all__ = [
    "CURRENCY",
    "METHODS",
    "Entry",
    "Event",
    "LineState",
    "LoanState",
    "NewLoan",
    "Outcome",
    "PoolState",
    "Refused",
    "classify",
    "days_past_due",
    "default",
    "disbursement_outside",
    "draw",
    "evolve",
    "recover",
    "repay",
    "reverse",
    "write_off",
    "write_off_too_large",
]

CURRENCY: Final = "CNY"
METHODS: Final[tuple[str, ...]] = get_args(sched.RepaymentMethod)
_ZERO: Final = Decimal("0.00")
_SUBSTANDARD: Final = sched.CATEGORIES.index("substandard")

ErrorKind = Literal["invalid", "conflict", "not_found", "forbidden"]
_ERRORS: Final[dict[str, type[InnofinError]]] = {
    "conflict": Conflict,
    "not_found": NotFound,
}


class Refused(Exception):
    """A rule's refusal: `field` names what is at fault (the bulk path reports it against the
    row), `kind` which error the services raise for it (`error`)."""

    def __init__(
        self,
        kind: ErrorKind,
        field: str,
        reason: str,
        *,
        code: str = "forbidden",
        named: bool = True,
    ) -> None:
        super().__init__(reason)
        self.kind, self.field, self.reason, self.code = kind, field, reason, code
        #: whether the services' error names the field (a bad term found by the schedule
        #: engine is reported against the line's row in bulk, without a field one by one)
        self.named = named

    def error(self) -> InnofinError:
        """The error a service raises: bad input names its field; a conflict, a missing row or
        a forbidden step says why (as before the rules were shared)."""
        if self.kind == "invalid":
            return InvalidInput(self.reason, field=self.field if self.named else None)
        if self.kind == "forbidden":
            return Forbidden(self.reason, code=self.code)
        return _ERRORS[self.kind](self.reason)


# --------------------------------------------------------------------------- states and outcomes

_S = TypeVar("_S")


def evolve(state: _S, **changes: Any) -> _S:
    """A copy of a frozen state with `changes` (as `dataclasses.replace`, which costs ~9 µs a
    call — a tenth of a bulk row's whole cost — because it re-runs the generated ``__init__``)."""
    new = object.__new__(type(state))
    values = new.__dict__
    values.update(state.__dict__)
    if not changes.keys() <= values.keys():
        raise TypeError(f"{type(state).__name__} has no field {sorted(changes - values.keys())}")
    values.update(changes)
    return new


@dataclass(frozen=True)
class LoanState:
    """What the rules read and change of a loan (its cached columns)."""

    external_ref: str
    principal: Decimal
    drawn_on: dt.date
    status: str = "active"
    category: str = "pass"
    defaulted_on: dt.date | None = None
    outstanding: Decimal = _ZERO
    repaid: Decimal = _ZERO
    interest_paid: Decimal = _ZERO
    written_off: Decimal = _ZERO
    recovered: Decimal = _ZERO


@dataclass(frozen=True)
class LineState:
    """What the rules read of a credit line."""

    institution_id: int
    enterprise_id: int
    external_ref: str
    status: str
    currency: str
    opens_on: dt.date
    matures_on: dt.date
    limit: Decimal
    used: Decimal
    rate: Decimal
    spread_bp: int
    revolving: bool
    pool_id: int | None


@dataclass(frozen=True)
class PoolState:
    """A line's risk pool: what its leverage limit leaves of new covered credit (`headroom`,
    from `ledger.pools.engine.leverage_headroom`; None without a limit), and what the refusal
    names."""

    code: str
    balance: Decimal
    leverage: int | None
    headroom: Decimal | None


@dataclass(frozen=True)
class Event:
    """A ledger event to record (the caller adds who, when, the key and the request)."""

    kind: str
    on: dt.date
    amount: Decimal | None = None
    principal: Decimal | None = None
    interest: Decimal | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    #: the maker's event of a new line, or the checker's
    by: Literal["actor", "maker", "checker"] = "actor"


@dataclass(frozen=True)
class Entry:
    """A limit entry: on the line (``credit_line``) or its commitment (``commitment``); its
    source is the event that records it (``event``), the new loan (``loan``) or the line
    (``credit_line``); `event` is the index in `Outcome.events` of the event that records it."""

    account: Literal["credit_line", "commitment"]
    kind: Literal["reserve", "consume", "release"]
    amount: Decimal
    source: Literal["event", "loan", "credit_line"]
    event: int = 0


@dataclass(frozen=True)
class Outcome:
    """What a rule decided: the loan's new state (None when it changes no loan), the events in
    order, the limit entries, and the changes of the line's use, the pool's covered credit
    outstanding and the commitment's use."""

    loan: LoanState | None
    events: tuple[Event, ...] = ()
    entries: tuple[Entry, ...] = ()
    line_used: Decimal = _ZERO
    covered: Decimal = _ZERO
    commitment_used: Decimal = _ZERO


def _status(outstanding: Decimal, written_off: Decimal) -> str:
    if outstanding > 0:
        return "active"
    return "written_off" if written_off > 0 else "closed"


def _open(loan: LoanState) -> None:
    if loan.status != "active" or loan.outstanding == 0:
        status = "closed" if loan.outstanding == 0 and loan.status == "active" else loan.status
        raise Refused("conflict", "loan_id", f"loan {loan.external_ref} is {status}")


# --------------------------------------------------------------------------- drawdowns


def disbursement_outside(drawn_on: dt.date, opens_on: dt.date, matures_on: dt.date) -> str | None:
    """Why a drawdown on `drawn_on` falls outside a line's period (None if it does not)."""
    if drawn_on < opens_on:
        return (
            f"disbursement before the line's start (its approval): drawn_on {drawn_on} is "
            f"before {opens_on}"
        )
    if drawn_on > matures_on:
        return f"disbursement after the line's end: drawn_on {drawn_on} is after {matures_on}"
    return None


@dataclass(frozen=True)
class NewLoan:
    """A drawdown's loan (借据): its state, terms and planned schedule."""

    state: LoanState
    currency: str
    months: int
    method: str
    day_count: str
    annual_rate: Decimal
    matures_on: dt.date
    schedule: tuple[sched.Instalment, ...]


def draw(
    line: LineState,
    line_id: int,
    pool: PoolState | None,
    *,
    principal: Decimal,
    drawn_on: dt.date,
    external_ref: str,
    months: int,
    method: str,
    day_count: str,
    currency: str,
    ref_taken: bool,
) -> tuple[NewLoan, Outcome]:
    """A drawdown (提款): a new loan within the line's available limit, with its schedule, its
    terms copied from the line; new covered credit is refused past the pool's leverage limit
    (`pool`: the line's risk pool, None when it has none). `ref_taken`: the institution has a
    loan of that number already."""
    if method not in METHODS:
        raise Refused("invalid", "method", f"method must be one of {', '.join(METHODS)}")
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise Refused("invalid", "months", f"a term of {months} months: months must be ≥ 1")
    if line.status != "approved":
        raise Refused(
            "conflict", "line", f"credit line {line.external_ref} is {line.status}, not approved"
        )
    if currency != line.currency:
        raise Refused(
            "invalid",
            "currency",
            f"currency {currency} does not match the credit line's {line.currency}",
        )
    if (problem := disbursement_outside(drawn_on, line.opens_on, line.matures_on)) is not None:
        raise Refused("invalid", "drawn_on", problem)
    available = line.limit - line.used
    if principal > available:
        raise Refused(
            "invalid",
            "amount",
            f"the drawdown of {principal} exceeds the line's available {available}",
        )
    if ref_taken:
        raise Refused(
            "conflict", "external_ref", f"loan {external_ref!r} exists already for this institution"
        )
    rate = line.rate + Decimal(line.spread_bp) / Decimal(10_000)
    try:
        schedule = sched.build_schedule(principal, rate, drawn_on, months, method, day_count)  # type: ignore[arg-type]
    except ValueError as exc:
        where = "day_count" if "basis" in str(exc) else "line"
        raise Refused("invalid", where, str(exc), named=where == "day_count") from None
    if pool is not None and pool.headroom is not None:
        headroom = pool.headroom
        if principal > headroom:
            raise Refused(
                "conflict",
                "line",
                f"risk pool {pool.code}: the leverage limit ({pool.leverage} × its balance "
                f"{pool.balance}) leaves {headroom} of new covered credit; the drawdown is "
                f"{principal}",
            )
    state = LoanState(external_ref, principal, drawn_on, outstanding=principal)
    loan = NewLoan(state, currency, months, method, day_count, rate, schedule[-1].due, schedule)
    event = Event("drawn", drawn_on, principal=principal, data={"credit_line_id": line_id})
    entry = Entry("credit_line", "consume", principal, "loan")
    covered = principal if pool is not None else _ZERO
    return loan, Outcome(state, (event,), (entry,), line_used=principal, covered=covered)


# --------------------------------------------------------------------------- loan events


def repay(
    loan: LoanState,
    *,
    revolving: bool,
    covered: bool,
    principal: Decimal,
    interest: Decimal,
    paid_on: dt.date,
) -> Outcome:
    """A repayment (partial, early or late) of principal and interest. On a revolving line the
    repaid principal becomes available again; covered credit falls with it."""
    if principal == 0 and interest == 0:
        raise Refused("invalid", "principal", "a repayment needs principal or interest")
    _open(loan)
    if paid_on < loan.drawn_on:
        raise Refused(
            "invalid", "paid_on", f"paid_on {paid_on} is before the drawdown on {loan.drawn_on}"
        )
    if principal > loan.outstanding:
        raise Refused(
            "invalid",
            "principal",
            f"the repayment of {principal} exceeds the outstanding principal {loan.outstanding}",
        )
    event = Event("repaid", paid_on, principal=principal, interest=interest)
    return _repayment(loan, event, revolving=revolving, covered=covered, sign=1)


def _repayment(
    loan: LoanState, event: Event, *, revolving: bool, covered: bool, sign: int
) -> Outcome:
    p, i = event.principal or _ZERO, event.interest or _ZERO
    outstanding = loan.outstanding - sign * p
    state = evolve(
        loan,
        repaid=loan.repaid + sign * p,
        interest_paid=loan.interest_paid + sign * i,
        outstanding=outstanding,
        status=_status(outstanding, loan.written_off),
    )
    entries: tuple[Entry, ...] = ()
    used = _ZERO
    if revolving and p > 0:
        entries = (Entry("credit_line", "release" if sign > 0 else "consume", p, "event"),)
        used = -sign * p
    return Outcome(
        state, (event,), entries, line_used=used, covered=-sign * p if covered else _ZERO
    )


def days_past_due(
    loan: LoanState,
    schedule: Sequence[sched.Instalment],
    payments: Sequence[tuple[dt.date, Decimal]],
    as_of: dt.date,
) -> int:
    """Days past due from the planned schedule and the live repayments (principal + interest);
    0 once the principal is repaid (a loan repaid early owes none of the schedule's later
    interest)."""
    if loan.outstanding == 0:
        return 0
    return sched.days_past_due(schedule, payments, as_of)


def classify(
    loan: LoanState,
    *,
    as_of: dt.date,
    days_past_due: int,
    floor: str | None = None,
    rules: sched.ClassificationRules | None = None,
) -> Outcome:
    """The five-category class of the loan `days_past_due` days overdue on `as_of`, at least
    `floor` (a bank's own downgrade); a defaulted loan stays non-performing. An event only when
    the class changes (`Outcome.events` empty otherwise)."""
    if floor is not None and floor not in sched.CATEGORIES:
        raise Refused("invalid", "floor", f"floor must be one of {', '.join(sched.CATEGORIES)}")
    if loan.defaulted_on is not None and (
        floor is None or sched.CATEGORIES.index(floor) < _SUBSTANDARD
    ):
        floor = "substandard"
    category = sched.classify(days_past_due, rules or sched.ClassificationRules(), floor)  # type: ignore[arg-type]
    if category == loan.category:
        return Outcome(loan)
    event = Event(
        "classified",
        as_of,
        data={"category": category, "previous": loan.category, "days_past_due": days_past_due},
    )
    return Outcome(evolve(loan, category=category), (event,))


def default(loan: LoanState, *, on: dt.date) -> Outcome:
    """Default (违约): the loan becomes at least substandard and may be claimed on."""
    _open(loan)
    if loan.defaulted_on is not None:
        raise Refused(
            "conflict", "on", f"loan {loan.external_ref} defaulted on {loan.defaulted_on} already"
        )
    if on < loan.drawn_on:
        raise Refused("invalid", "on", f"on {on} is before the drawdown on {loan.drawn_on}")
    category = loan.category
    if sched.CATEGORIES.index(category) < _SUBSTANDARD:
        category = "substandard"
    event = Event("defaulted", on, principal=loan.outstanding)
    return Outcome(evolve(loan, defaulted_on=on, category=category), (event,))


def write_off_too_large(amount: Decimal, principal: Decimal, outstanding: Decimal) -> str:
    """Why a write-off of `amount` is refused (it is above what is outstanding)."""
    if amount > principal:
        return f"a charge-off above the loan's principal: {amount} > {principal}"
    return f"the write-off of {amount} exceeds the outstanding principal {outstanding}"


def write_off(loan: LoanState, *, covered: bool, amount: Decimal, on: dt.date) -> Outcome:
    """Write off (核销) principal of a defaulted loan."""
    _open(loan)
    if loan.defaulted_on is None:
        raise Refused(
            "conflict",
            "loan_id",
            f"loan {loan.external_ref} has not defaulted; it cannot be written off",
        )
    if amount > loan.outstanding:
        raise Refused(
            "invalid", "amount", write_off_too_large(amount, loan.principal, loan.outstanding)
        )
    written = loan.written_off + amount
    outstanding = loan.outstanding - amount
    state = evolve(
        loan, written_off=written, outstanding=outstanding, status=_status(outstanding, written)
    )
    event = Event("written_off", on, principal=amount)
    return Outcome(state, (event,), covered=-amount if covered else _ZERO)


def recover(loan: LoanState, *, amount: Decimal, on: dt.date) -> Outcome:
    """A recovery (追偿回收) on written-off principal."""
    if amount > loan.written_off - loan.recovered:
        raise Refused(
            "invalid",
            "amount",
            f"the recovery of {amount} exceeds the unrecovered write-off "
            f"{loan.written_off - loan.recovered}",
        )
    event = Event("recovered", on, principal=amount)
    return Outcome(evolve(loan, recovered=loan.recovered + amount), (event,))


#: events that can be reversed, and the kind of their reversal
REVERSIBLE: Final = {
    "repaid": "repaid_reversed",
    "written_off": "written_off_reversed",
    "recovered": "recovered_reversed",
}


def reverse(
    loan: LoanState,
    *,
    revolving: bool,
    covered: bool,
    kind: str,
    principal: Decimal,
    interest: Decimal,
    on: dt.date,
) -> Outcome:
    """A correction: the reversal of a repayment, write-off or recovery (of `kind`, one of
    `REVERSIBLE`, with its `principal` and `interest`, effective `on` its date)."""
    event = Event(REVERSIBLE[kind], on, principal=principal, interest=interest)
    if kind == "repaid":
        if loan.status == "written_off":
            raise Refused(
                "conflict",
                "event_id",
                "the loan has been written off since; reverse the write-off first",
            )
        return _repayment(loan, event, revolving=revolving, covered=covered, sign=-1)
    if kind == "written_off":
        if principal > loan.written_off - loan.recovered:
            raise Refused(
                "conflict",
                "event_id",
                "recoveries exceed what would remain written off; reverse them first",
            )
        written = loan.written_off - principal
        outstanding = loan.outstanding + principal
        state = evolve(
            loan, written_off=written, outstanding=outstanding, status=_status(outstanding, written)
        )
        return Outcome(state, (event,), covered=principal if covered else _ZERO)
    return Outcome(evolve(loan, recovered=loan.recovered - principal), (event,))
