"""Bank returns (银行报送): new credit lines, drawdowns, repayments, classifications, defaults,
write-offs and recoveries reported in bulk as CSV or XLSX.

The file is read with the importer's machinery (mappings with Chinese headers and 万元, GBK or
UTF-8, per-cell errors naming row and column), then every row is applied through the ledger's
own actions, in file order, in ONE transaction: a row that breaks a ledger rule (a repayment
larger than the balance, a drawdown over the limit, an unknown loan or credit line, dates out of
order) is reported with its row, column and reason, and unless ``skip_invalid`` nothing at all
is written. Each row carries an idempotency key made of the institution, the bank's own loan
number, the event and its date, so a re-sent return changes nothing (and a re-sent row with a
different amount is refused: corrections are reversals).

Credit lines (event ``credit_line``, 授信 / 新增授信) are rows of the same file, so a later
drawdown row may draw on a line entered earlier in it. Their columns:

* ``line_ref`` — the bank's own credit-line number, the line's natural key (``loan_ref`` is not
  used); ``enterprise`` — the borrower's USCC (统一社会信用代码);
* ``limit`` — the line's limit (授信额度), a column of its own (``principal`` stays the amount
  of drawdowns and repayments), > 0;
* ``date`` — the line's start; ``end_date`` or ``months`` — its end (both: they must agree);
* ``rate`` — the annual rate in % (3.45), to a basis point; ``rate_kind`` — ``fixed`` (the
  default) or ``lpr_spread`` (LPR加点: ``rate`` is then the LPR in force and ``spread_bp`` the
  spread in basis points, which may be negative); ``revolving`` — yes/no (是/否, default no);
* optional codes: ``product``, ``programme``, ``agreement`` (the line draws on the agreement's
  commitment whose period holds the start, for the enterprise's technology field or for any
  field) and ``pool`` (the risk-compensation pool covering its loans), and ``tags`` for the
  pool's rules (``first_loan;pure_credit``; 首贷, 纯信用, 知识产权质押, 担保);
* ``maker`` and ``checker`` — the user names of the two officers who entered and approved the
  line in the bank.

Maker-checker: a return reports lines the bank has already approved internally, so it names
both officers, and innofin enters the line exactly as its own screens do — proposed by the maker
(`service.propose_line`), approved by the checker (`service.approve_line`) — with the same
rules: both must be active institution officers of the row's institution, and different users.
The ledger's events name them (``return:<user name>`` and their user id) with the file and its
uploader as the reason; the audit trail records the uploader, who vouches for the file.

Re-sends: a line the ledger has already (the institution and ``line_ref``) is not entered
again. If its terms (enterprise, limit, dates, pricing, revolving, product, programme,
commitment, pool, tags) are the row's, the row counts as replayed; if any differs, each
differing column is a row error (a change of terms is not made by a return). The officers are
checked only when a line is entered, so a re-send survives an officer leaving the bank. The
propose and approve requests also carry idempotency keys (institution + ``line_ref`` + event +
start), so two concurrent uploads of the same return meet at the keys' unique index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, record
from innofin.db.engine import unit_of_work
from innofin.ingest import (
    PROBLEM_SCHEMA,
    Binding,
    BoundFile,
    Checked,
    FieldSpec,
    FieldType,
    IngestError,
    KindSpec,
    Mapping,
    RawBatch,
    RowHandler,
    load_mapping,
    register_foreign_kind,
    run_pipeline,
    table_of,
)
from innofin.ingest import summary_path as summary_path  # the rejects by kind (tests, tools)
from innofin.kernel.ids import IdScheme
from innofin.kernel.money import AmountUnit
from innofin.kernel.progress import ProgressCallback
from innofin.ledger import bulk
from innofin.ledger.models import CATEGORIES, METHODS, LedgerEvent
from innofin.ledger.return_lines import (
    LINE_FIELDS,
    SCALED,
    CreditLines,
    Problem,
    cell,
    money,
    return_key,
)
from innofin.registry.models import Institution

EVENTS = (
    "credit_line",
    "drawdown",
    "repayment",
    "classification",
    "default",
    "write_off",
    "recovery",
)
KIND = "loan-events"

LOAN_EVENTS = KindSpec(
    name=KIND,
    table=table_of(LedgerEvent),
    fields=(
        FieldSpec("institution", FieldType.TEXT, required=True, max_length=30),
        # required by every event but credit_line (checked row by row)
        FieldSpec("loan_ref", FieldType.TEXT, max_length=60),
        FieldSpec(
            "event",
            FieldType.CODE,
            required=True,
            choices=EVENTS,
            aliases={
                "授信": "credit_line",
                "新增授信": "credit_line",
                "授信登记": "credit_line",
                "放款": "drawdown",
                "提款": "drawdown",
                "还款": "repayment",
                "分类": "classification",
                "五级分类": "classification",
                "违约": "default",
                "核销": "write_off",
                "收回": "recovery",
                "追偿": "recovery",
            },
        ),
        FieldSpec("date", FieldType.DATE, required=True),
        FieldSpec("line_ref", FieldType.TEXT, max_length=60),
        FieldSpec("principal", FieldType.MONEY),
        FieldSpec("interest", FieldType.MONEY),
        FieldSpec("months", FieldType.INT),
        FieldSpec(
            "method",
            FieldType.CODE,
            choices=METHODS,
            aliases={
                "等额本息": "equal_instalment",
                "等额本金": "equal_principal",
                "按月付息到期还本": "interest_bullet",
                "随借随还": "revolving",
            },
        ),
        FieldSpec("day_count", FieldType.CODE, choices=("ACT/360", "ACT/365", "30/360")),
        FieldSpec(
            "category",
            FieldType.CODE,
            choices=CATEGORIES,
            aliases={
                "正常": "pass",
                "关注": "special_mention",
                "次级": "substandard",
                "可疑": "doubtful",
                "损失": "loss",
            },
        ),
        # credit lines (see the module docstring)
        FieldSpec("enterprise", FieldType.TEXT, max_length=64),
        FieldSpec("limit", FieldType.MONEY),
        FieldSpec("end_date", FieldType.DATE),
        FieldSpec("rate", FieldType.QUANTITY),  # % a year
        FieldSpec(
            "rate_kind",
            FieldType.CODE,
            choices=("fixed", "lpr_spread"),
            aliases={
                "固定": "fixed",
                "固定利率": "fixed",
                "lpr": "lpr_spread",
                "lpr加点": "lpr_spread",
                "浮动利率": "lpr_spread",
            },
        ),
        FieldSpec("spread_bp", FieldType.INT, signed=True),
        FieldSpec("revolving", FieldType.BOOL),
        FieldSpec("product", FieldType.TEXT, max_length=40),
        FieldSpec("programme", FieldType.TEXT, max_length=40),
        FieldSpec("agreement", FieldType.TEXT, max_length=40),
        FieldSpec("pool", FieldType.TEXT, max_length=40),
        FieldSpec("tags", FieldType.LIST),
        FieldSpec("maker", FieldType.TEXT, max_length=80),
        FieldSpec("checker", FieldType.TEXT, max_length=80),
        # the borrower's identifier scheme (the registry's: uscc, lei, ein, duns, other)
        FieldSpec(
            "id_scheme",
            FieldType.CODE,
            choices=tuple(s.value for s in IdScheme),
            aliases={"统一社会信用代码": "uscc", "信用代码": "uscc"},
        ),
        # historical loads: the bank's own approval reference of the line
        FieldSpec("approval_ref", FieldType.TEXT, max_length=80),
        # a borrower the registry does not have, registered when the row's programme allows it
        FieldSpec("enterprise_name", FieldType.TEXT, max_length=200),
        FieldSpec("region", FieldType.TEXT, max_length=6),
        FieldSpec("industry_code", FieldType.TEXT, max_length=16),
        FieldSpec("employees", FieldType.INT),
        # the currency the row's amounts are in, where the file says so (ISO 4217)
        FieldSpec("currency", FieldType.TEXT, max_length=3),
    ),
    key=("institution", "loan_ref", "event", "date"),
    db_key=("institution", "loan_ref", "event", "date"),
)
register_foreign_kind(LOAN_EVENTS)


def shipped_returns() -> list[str]:
    folder = resources.files("innofin.ledger") / "mappings"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def shipped_mapping_path(name: str) -> Path:
    """The file of a shipped return mapping (to copy and adapt)."""
    path = Path(str(resources.files("innofin.ledger") / "mappings" / f"{name}.yaml"))
    if not path.is_file():
        raise IngestError(f"no shipped mapping {name!r}: use one of {', '.join(shipped_returns())}")
    return path


def _mapping(mapping: Path | str | None) -> Mapping:
    folder = resources.files("innofin.ledger") / "mappings"
    name = "loan-events" if mapping is None else str(mapping)
    shipped = folder / f"{Path(name).stem}.yaml"
    if (mapping is None or not Path(name).exists()) and shipped.is_file():
        with resources.as_file(shipped) as path:
            return load_mapping(path, KIND)
    return load_mapping(Path(name), KIND)


@dataclass(frozen=True)
class ReturnResult:
    path: Path
    rows: int
    applied: int
    replayed: int
    rejected: int
    rejects_path: Path | None
    #: the problems grouped by kind, with counts (`problem_kinds`)
    problem_kinds: list[str] = field(default_factory=list)


class _Applier:
    """Turns the rows of one return into `ledger.bulk` rows, in file order, and applies them in
    batches; remembers lookups, per-loan dates and the loans with a rejected row."""

    def __init__(
        self, session: Session, actor: Actor, binding: Binding, source: str, historical: bool
    ) -> None:
        self.session = session
        self.actor = actor
        self.lines = CreditLines(session, actor, source, historical=historical)
        self.headers = {c.field: c.header for c in binding.columns}
        #: the currency the amount columns are read in (converted to yuan at the mapping's rate)
        self.currency = next(
            (c.currency for c in binding.columns if c.field in ("principal", "limit")), "CNY"
        )
        self.units = {c.field: c.unit for c in binding.columns}
        self.institutions: dict[str, int | None] = {}
        self.last_date: dict[tuple[int, str], dt.date] = {}
        self.applied = self.replayed = 0
        self.pending: list[tuple[dict[str, Any], bulk.Row]] = []
        #: loans (institution, loan_ref) with a rejected row: their later rows are rejected too
        self.rejected_loans: dict[tuple[int, str], int] = {}

    def institution(self, code: str) -> int | None:
        if code not in self.institutions:
            self.institutions[code] = self.session.scalars(
                select(Institution.id).where(Institution.code == code)
            ).first()
        return self.institutions[code]

    def unreadable(self, batch: RawBatch, problems: pl.DataFrame, binding: Binding) -> None:
        """Rows the validator rejected (a blank date, an amount that is not one) reject the
        later rows of their loan too: a loan's history is applied up to its first problem."""
        bad = set(problems["row"].to_list())
        where = {c.field: c.index for c in binding.columns}
        inst_at, ref_at = where.get("institution"), where.get("loan_ref")
        if not bad or inst_at is None or ref_at is None:
            return
        cells = zip(
            batch.rows.to_list(),
            batch.frame[f"c{inst_at}"].to_list(),
            batch.frame[f"c{ref_at}"].to_list(),
            strict=True,
        )
        for n, code, ref in cells:
            if n in bad and code and ref and code.strip() and ref.strip():
                inst = self.institution(code.strip())
                if inst is not None:
                    key = (inst, ref.strip())
                    self.rejected_loans[key] = min(self.rejected_loans.get(key, n), n)

    def prefetch(self, rows: list[dict[str, Any]]) -> None:
        self.lines.prefetch(rows, self.institution)

    def apply(self, row: dict[str, Any]) -> list[Problem]:
        """Gather one row (applied in bulk by `flush`); the problems found now."""
        n: int = row["__row"]
        inst = self.institution(row["institution"])
        if inst is None:
            return [(n, "institution", row["institution"], "unknown institution code")]
        event, on = row["event"], row["date"]
        currency = (row.get("currency") or "").upper()
        if currency and currency != self.currency:
            reason = (
                f"amounts in {currency}, but the mapping reads this file's amounts as "
                f"{self.currency}: declare the amount columns' currency and its rate (rates:) "
                "in the mapping; amounts are never read as yuan by default"
            )
            if row.get("loan_ref"):
                self.rejected_loans.setdefault((inst, row["loan_ref"]), n)
            return [(n, "currency", currency, reason)]
        if event == "credit_line":
            problems, replayed, new = self.lines.apply(inst, row["institution"], row)
            self.replayed += replayed and not problems
            if new is not None:
                self.pending.append((row, new))
            return problems
        ref: str | None = row["loan_ref"]
        if not ref:
            reason = f"a {event} needs loan_ref, the bank's own loan number"
            return [(n, "loan_ref", "", reason)]
        first = self.rejected_loans.get((inst, ref))
        if first is not None and first < n:
            reason = f"an earlier row of loan {ref} was rejected (row {first})"
            return [(n, "loan_ref", ref, reason)]
        last = self.last_date.get((inst, ref))
        if last is not None and on < last:
            reason = f"dates out of order: {on} comes after {last} for loan {ref}"
            self.rejected_loans[(inst, ref)] = n
            return [(n, "date", str(on), reason)]
        try:
            bulk_row = self._row(inst, row, return_key(row["institution"], ref, event, on))
        except IngestError as exc:
            field = exc.field or "event"
            self.rejected_loans[(inst, ref)] = n
            return [(n, field, cell(row.get(field), field), str(exc))]
        self.last_date[(inst, ref)] = on
        self.pending.append((row, bulk_row))
        return self.flush() if len(self.pending) >= 20_000 else []

    def _row(self, inst: int, row: dict[str, Any], key: str) -> bulk.Row:
        event, on, ref = row["event"], row["date"], row["loan_ref"]
        loan = bulk.LoanRef(inst, ref)
        principal = money(row.get("principal"))
        if event == "classification":
            return bulk.Classification(loan, on, row.get("category") or None)
        if event == "default":
            return bulk.Default(loan, on, key)
        if event == "repayment":
            zero = Decimal("0.00")
            return bulk.Repayment(
                loan, principal or zero, money(row.get("interest")) or zero, on, key
            )
        if event == "drawdown":
            line_ref = row.get("line_ref")
            if not line_ref:
                raise IngestError("a drawdown needs line_ref", field="line_ref")
            if principal is None:
                raise IngestError("a drawdown needs principal", field="principal")
            if row.get("months") is None:
                raise IngestError("a drawdown needs months, its term", field="months")
            return bulk.Drawdown(
                bulk.LineRef(inst, line_ref), principal, on, ref, int(row["months"]),
                row.get("method") or "equal_principal", row.get("day_count") or "ACT/360",
                key=key,
            )  # fmt: skip
        if principal is None:
            what = "the amount written off" if event == "write_off" else "the amount recovered"
            raise IngestError(f"a {event} needs principal, {what}", field="principal")
        if event == "write_off":
            return bulk.WriteOff(loan, principal, on, key)
        return bulk.Recovery(loan, principal, on, key)

    def flush(self) -> list[Problem]:
        """Apply the gathered rows in one go (`ledger.bulk`)."""
        if not self.pending:
            return []
        rows, self.pending = self.pending, []
        with self.session.begin_nested():
            result = bulk.record_many(self.session, self.actor, [r for _, r in rows], cascade=True)
        self.applied += result.recorded
        self.replayed += result.replayed
        out: list[Problem] = []
        for refused in result.refused:
            row, kind = rows[refused.index]
            if isinstance(kind, bulk.NewLine):
                field = LINE_FIELDS.get(refused.field, "line_ref")
            else:
                field = _FIELDS.get(refused.field, refused.field)
            reason = refused.reason
            if refused.follows is not None:
                first = rows[refused.follows][0]["__row"]
                reason = f"an earlier row of loan {row['loan_ref']} was rejected (row {first})"
            if not isinstance(kind, bulk.NewLine) and row.get("loan_ref"):
                inst = self.institution(row["institution"])
                assert inst is not None
                first = self.rejected_loans.get((inst, row["loan_ref"]), row["__row"])
                self.rejected_loans[(inst, row["loan_ref"])] = min(first, row["__row"])
                if first < row["__row"]:
                    reason = f"an earlier row of loan {row['loan_ref']} was rejected (row {first})"
            out.append((row["__row"], field, cell(row.get(field), field), reason))
        return out


#: the return's column that a refusal of `ledger.bulk` names
_FIELDS = {
    "paid_on": "date",
    "on": "date",
    "drawn_on": "date",
    "loan_id": "loan_ref",
    "floor": "category",
    "line": "line_ref",
    "amount": "principal",
    "external_ref": "loan_ref",
    "idempotency_key": "event",
}


class _Return(RowHandler):
    """The row handler of a bank return: its rows go through `_Applier` in the ORM session of one
    unit of work (the uploader is the audit trail's actor); a kept return is one audit row."""

    def __init__(self, actor: Actor, historical: bool, mapping: Mapping) -> None:
        self.actor, self.historical, self.mapping = actor, historical, mapping
        self.session: Session

    @contextmanager
    def begin(self, engine: Engine) -> Iterator[Connection]:
        with unit_of_work(engine, immediate=True, actor=self.actor) as session:
            self.session = session
            yield session.connection()

    def start(self, file: BoundFile) -> None:
        source = f"bank return {file.path.name} (sha256 {file.info.sha256[:12]})"
        self.applier = _Applier(self.session, self.actor, file.binding, source, self.historical)
        self.binding = file.binding

    def take(self, batch: RawBatch, checked: Checked, doomed: bool) -> pl.DataFrame:
        """Every good row is applied, even when the return is doomed, so that the rejects report
        names each row that breaks a ledger rule."""
        applier = self.applier
        applier.unreadable(batch, checked.problems, self.binding)
        found = []
        good = list(checked.good.iter_rows(named=True))
        applier.prefetch(good)
        for row in good:
            found += applier.apply(row)
        found += applier.flush()
        return pl.concat(
            [pl.DataFrame(schema=PROBLEM_SCHEMA)] + [_problem(applier, *p) for p in found]
        )

    def finish(self, file: BoundFile, rows: int, rejected: int) -> None:
        applier = self.applier
        record(
            self.session,
            self.actor,
            action="import",
            entity="bank_return",
            entity_id=file.info.sha256[:16],
            after={
                "file": file.path.name,
                "sha256": file.info.sha256,
                "rows": rows,
                "applied": applier.applied,
                "replayed": applier.replayed,
                "rejected": rejected,
                "mode": "historical" if self.historical else "maker-checker",
                "registered_borrowers": applier.lines.registered,
                "uploaded_by": self.actor.label,
                "rates": {
                    code: {"rate": str(r.rate), "date": r.date.isoformat()}
                    for code, r in self.mapping.rates.items()
                },
            },
        )


def import_return(
    engine: Engine,
    path: Path,
    *,
    mapping: Path | str | None = None,
    encoding: str | None = None,
    skip_invalid: bool = False,
    ignore_extra: bool = False,
    rejects: Path | None = None,
    actor: Actor,
    historical: bool = False,
    check_only: bool = False,
    progress: ProgressCallback | None = None,
) -> ReturnResult:
    """Apply a bank return; all or nothing unless `skip_invalid` (see the module docstring).

    The ingest pipeline reads and checks the file; the rows are applied by `_Return`. A bank's
    file is read as written (no formula quotes removed: innofin does not write returns), and its
    rejects are also grouped by kind (`summary_path`). `check_only`: every row applied as the
    return would be, then rolled back (`run_pipeline`): the result counts what would be applied
    and replayed, and nothing is kept — no event, line, loan or audit row.
    """
    chosen = _mapping(mapping)
    handler = _Return(actor, historical, chosen)
    outcome = run_pipeline(
        engine,
        Path(path),
        chosen,
        handler,
        encoding=encoding,
        skip_invalid=skip_invalid,
        check_only=check_only,
        ignore_extra=ignore_extra,
        rejects=rejects,
        progress=progress,
        csv_quotes=False,
        by_kind=True,
        verb="applied",
    )
    return ReturnResult(
        outcome.path,
        outcome.rows,
        handler.applier.applied,
        handler.applier.replayed,
        outcome.rejected,
        outcome.rejects_path,
        outcome.problem_kinds,
    )


def _in_header_unit(applier: _Applier, field: str, value: str) -> str:
    """An amount the rejects report echoes (yuan) in the unit of its column's header: a
    ``本金（万元）`` column shows 万元, as the bank wrote it."""
    unit = applier.units.get(field)
    if not isinstance(unit, AmountUnit) or unit is AmountUnit.YUAN or SCALED.get(field) != 2:
        return value
    try:
        yuan = Decimal(value)
    except InvalidOperation:
        return value
    return format((yuan / unit.factor).normalize(), "f")


def _problem(applier: _Applier, row: int, field: str, value: str, reason: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row": [row],
            "order": [0],
            "column": [applier.headers.get(field, field)],
            "value": [_in_header_unit(applier, field, value)],
            "reason": [reason],
        },
        schema=PROBLEM_SCHEMA,
    )
