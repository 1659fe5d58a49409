"""Ledger events in bulk: new credit lines, drawdowns, repayments, classifications, defaults,
write-offs and recoveries with the same events as the services (`service.propose_line` +
`service.approve_line`, or `service.load_line` for a bank's historical book; `service.draw`,
`service.repay`, `service.classify`, `service.mark_default`, `service.write_off`,
`service.recover`) — both call the same rules, `ledger.loans.rules_engine` — for thousands of
rows in one transaction (a bank return, a nightly feed) with a handful of statements.

Rows may name loans and lines by the bank's own numbers (`LoanRef`, `LineRef`), so that a
drawdown can use a line entered earlier in the same batch and a repayment the loan a drawdown of
the batch made. The loans, lines, pools and commitments involved are locked and read once (with,
for the loans being classified, their schedules and live repayments); every row is checked in
order against the running state; then the new lines and loans are inserted, the events with one
multi-row statement (COPY on PostgreSQL), the schedules and limit entries with one executemany
each, and the caches changed with one UPDATE per row changed. A row with an idempotency key that
was recorded already is replayed (nothing changes); the same key with a different request is
refused. Order within a batch does not change the cost: rows of one loan may be interleaved
(line, drawdown, repayments, default, write-off) or grouped by kind.

With ``cascade`` (bank returns), a row refused makes the later rows of the same loan (and the
drawdowns of a refused line, and their loans' rows) refused too, so that a loan's history is
never applied in part (``--skip-invalid`` on a first load).

The package: `rows` (what a batch holds), `reading` (the state a batch reads and locks once),
`batch` (each row through the loan rules, in order, on the running state; `record_many`),
`writing` (the batch's rows written with a handful of statements).
"""

from innofin.ledger.bulk.batch import record_many, repay_many
from innofin.ledger.bulk.rows import (
    BulkResult,
    Classification,
    Default,
    Drawdown,
    LineRef,
    LoanEvent,
    LoanId,
    LoanRef,
    NewLine,
    Recovery,
    Refused,
    Repayment,
    Row,
    WriteOff,
)

__all__ = [
    "BulkResult",
    "Classification",
    "Default",
    "Drawdown",
    "LineRef",
    "LoanEvent",
    "LoanId",
    "LoanRef",
    "NewLine",
    "Recovery",
    "Refused",
    "Repayment",
    "Row",
    "WriteOff",
    "record_many",
    "repay_many",
]
