"""Hand-made ledger readings for the monitoring tests: loans, their events and attributes as
plain rows, turned into the `LedgerFrames` the cube reads, and an independent month-end
computation (a loop over the events, nothing shared with the cube's engine) to check it by."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from innofin.monitoring.cube.service import SCHEMAS, Cube, LedgerFrames

D = dt.date
AS_OF = dt.datetime(2025, 1, 5, 8, 0, tzinfo=dt.UTC)
CLASSES = ("pass", "special_mention", "substandard", "doubtful", "loss")
SIGN = {
    "drawn": 1,
    "repaid": -1,
    "repaid_reversed": 1,
    "written_off": -1,
    "written_off_reversed": 1,
}


@dataclass
class Loan:
    loan_id: int
    institution_id: int = 1
    zone_id: int = 10
    tech_field: str = "electronic_information"
    programme_id: int | None = 1
    tags: Sequence[str] = ("pure_credit",)
    enterprise_id: int | None = None
    drawn_on: dt.date = dt.date(2024, 1, 15)


@dataclass
class Ledger:
    loans: list[Loan] = field(default_factory=list)
    #: (loan_id, kind, day, principal fen or None, category or None)
    events: list[tuple[int, str, dt.date, int | None, str | None]] = field(default_factory=list)
    certifications: list[tuple[int, str, dt.date, dt.date | None]] = field(default_factory=list)
    key_members: list[tuple[str, int, int]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    programmes: list[dict[str, Any]] = field(default_factory=list)

    def frames(self) -> LedgerFrames:
        tables = {name: pl.DataFrame(schema=schema) for name, schema in SCHEMAS.items()}
        firms = {ln.loan_id: ln.enterprise_id or 1000 + ln.loan_id for ln in self.loans}
        tables["loans"] = pl.DataFrame(
            [
                (ln.loan_id, ln.loan_id, ln.institution_id, firms[ln.loan_id], ln.drawn_on, 0)
                for ln in self.loans
            ],
            schema=SCHEMAS["loans"],
            orient="row",
        )
        tables["lines"] = pl.DataFrame(
            [
                (
                    ln.loan_id,
                    ln.institution_id,
                    firms[ln.loan_id],
                    ln.programme_id,
                    None,
                    None,
                    None,
                    "[" + ", ".join(f'"{t}"' for t in ln.tags) + "]",
                    10**9,
                    D(2020, 1, 1),
                    D(2030, 1, 1),
                    None,
                    None,
                    None,
                )
                for ln in self.loans
            ],
            schema=SCHEMAS["lines"],
            orient="row",
        )
        tables["line_events"] = pl.DataFrame(
            [(ln.loan_id, "line_approved", D(2020, 1, 1)) for ln in self.loans],
            schema=SCHEMAS["line_events"],
            orient="row",
        )
        tables["enterprises"] = pl.DataFrame(
            sorted({(firms[ln.loan_id], ln.zone_id, ln.tech_field) for ln in self.loans}),
            schema=SCHEMAS["enterprises"],
            orient="row",
        )
        tables["loan_events"] = pl.DataFrame(
            [(i + 1, *e) for i, e in enumerate(self.events)],
            schema=SCHEMAS["loan_events"],
            orient="row",
        )
        tables["certifications"] = pl.DataFrame(
            self.certifications, schema=SCHEMAS["certifications"], orient="row"
        )
        tables["key_members"] = pl.DataFrame(
            self.key_members, schema=SCHEMAS["key_members"], orient="row"
        )
        tables["programmes"] = pl.DataFrame(
            self.programmes
            or [
                {
                    "programme_id": 1,
                    "code": "P1",
                    "name": "示例计划",
                    "starts_on": D(2023, 1, 1),
                    "ends_on": D(2026, 12, 31),
                    "candidate_list": None,
                }
            ],
            schema=SCHEMAS["programmes"],
        )
        tables["targets"] = pl.DataFrame(self.targets, schema=SCHEMAS["targets"])
        # the loans' principal: what was drawn
        drawn: dict[int, int] = {}
        for loan_id, kind, _, p, _ in self.events:
            if kind == "drawn":
                drawn[loan_id] = drawn.get(loan_id, 0) + (p or 0)
        tables["loans"] = tables["loans"].with_columns(
            principal=pl.col("loan_id").replace_strict(drawn, default=0, return_dtype=pl.Int64)
        )
        return LedgerFrames(AS_OF, tables)

    def cube(self, through: dt.date | None = None) -> Cube:
        return Cube(self.frames(), through=through)


def month_end(day: dt.date) -> dt.date:
    nxt = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def months(first: dt.date, last: dt.date) -> list[dt.date]:
    out, day = [], dt.date(first.year, first.month, 1)
    while day <= last:
        out.append(month_end(day))
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return out


def expected(ledger: Ledger, month: dt.date, keep: Iterable[int] | None = None) -> dict[str, int]:
    """Month-end balances and the month's flows of the loans `keep` (default all), by a plain
    loop: each loan's outstanding is the signed sum of its events up to the month end, its class
    the latest classification up to then, at least substandard once defaulted."""
    ids = set(keep) if keep is not None else {ln.loan_id for ln in ledger.loans}
    out = dict.fromkeys(
        (
            "outstanding",
            "npl",
            "special_mention",
            "substandard",
            "doubtful",
            "loss",
            "new_lending",
            "repaid",
            "written_off",
        ),
        0,
    )
    start = dt.date(month.year, month.month, 1)
    for loan_id in ids:
        events = sorted(
            (
                (day, i, kind, p, cat)
                for i, (lid, kind, day, p, cat) in enumerate(ledger.events)
                if lid == loan_id
            ),
        )
        balance, cls, defaulted = 0, 0, False
        for day, _, kind, p, cat in events:
            if day > month:
                break
            balance += SIGN.get(kind, 0) * (p or 0)
            if kind == "classified":
                cls = CLASSES.index(cat)
            if kind == "defaulted":
                defaulted = True
            if day >= start:
                if kind == "drawn":
                    out["new_lending"] += p or 0
                if kind in ("repaid", "repaid_reversed"):
                    out["repaid"] += -SIGN[kind] * (p or 0)
                if kind in ("written_off", "written_off_reversed"):
                    out["written_off"] += -SIGN[kind] * (p or 0)
        cls = max(cls, 2) if defaulted else cls
        out["outstanding"] += balance
        if cls > 0:
            out[CLASSES[cls]] += balance
        if cls >= 2:
            out["npl"] += balance
    return out
