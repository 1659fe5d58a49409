"""The monitor as each caller may see it: balances, growth, programme summaries and quota use,
within the ledger's row scopes, and other institutions only as anonymous aggregates under the
disclosure rule (`kernel.disclosure`).

* Officers see the figures of the loans their scope reaches (`ledger.scopes.loan_scope`: the
  firms of their jurisdiction or zone; the admin and the national office everything).
* An institution sees its own loans' figures (its tree's), and beside them the others' — every
  loan of other institutions — as anonymous cells: a cell is shown only when enough other
  institutions contribute to it and none or two dominate it (institutions are the contributors:
  the rule protects each bank's book), and a lone hidden cell takes another with it. The
  others are never grouped by institution.
* A programme's summary and quota use are programme-wide: an institution taking part sees its
  amounts only when the programme's lenders pass the same rule (else they are withheld and the
  answer says so); its targets themselves are public to whoever sees the programme.

The reading of the ledger (`monitoring.cube`) is kept `CACHE_SECONDS` per database in a
process, and every answer carries its as-of time.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Final

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from innofin.access.policy import institution_limited
from innofin.db.queries import visible
from innofin.kernel.disclosure import CellStats, DisclosureRule, disclosable, protect
from innofin.kernel.errors import InvalidInput
from innofin.kernel.periods import month_end
from innofin.kernel.principal import Principal
from innofin.ledger.models import Loan, Programme
from innofin.ledger.scopes import loan_scope, programme_scope
from innofin.monitoring.cube import engine as ce
from innofin.monitoring.cube import growth as gr
from innofin.monitoring.cube.service import Cube, read_ledger
from innofin.monitoring.targets import service as tg

CACHE_SECONDS: Final = 30
#: what the API groups by (the finer attributes — firms, lines — are not aggregates)
GROUPS: Final = ce.DIMENSIONS
FEN = Decimal("0.01")
_cache: dict[int, tuple[float, Cube]] = {}
_lock = threading.Lock()


def cube_for(engine: Engine) -> Cube:
    """The cube of the latest reading of `engine`'s ledger, at most `CACHE_SECONDS` old."""
    key = id(engine)
    with _lock:
        found = _cache.get(key)
        if found is not None and time.monotonic() - found[0] < CACHE_SECONDS:
            return found[1]
        cube = Cube(read_ledger(engine))
        _cache[key] = (time.monotonic(), cube)
        return cube


def forget() -> None:
    """Drop the kept readings (tests that change the ledger between reads)."""
    with _lock:
        _cache.clear()


def _yuan(fen: Any) -> Decimal | None:
    return None if fen is None else (Decimal(int(fen)) * FEN).quantize(FEN)


def _groups(by: Sequence[str]) -> list[str]:
    unknown = [b for b in by if b not in GROUPS]
    if unknown:
        raise InvalidInput(f"unknown grouping {unknown[0]!r}: use {', '.join(GROUPS)}", field="by")
    return list(dict.fromkeys(by))


def _scoped_ids(session: Session, p: Principal) -> list[int] | None:
    """The loans the caller's scope reaches (None: every loan)."""
    if p.is_admin:
        return None
    return list(session.scalars(select(Loan.id).where(loan_scope(p))))


def _programme(session: Session, p: Principal, programme_id: int | None) -> None:
    if programme_id is not None:
        visible(session, Programme, programme_id, programme_scope(p), "programme")


def _month(cube: Cube, month: dt.date | None) -> dt.date:
    return cube.last_month if month is None else month_end(month)


@dataclass(frozen=True)
class BalanceCell:
    key: dict[str, Any]
    outstanding: Decimal | None
    npl: Decimal | None
    new_lending: Decimal | None
    repaid: Decimal | None
    loans_drawn: int | None


@dataclass(frozen=True)
class BalancesView:
    month: dt.date
    as_of: dt.datetime
    by: list[str]
    programme_id: int | None
    #: the caller sees only its own institution's loans (and the others as `others`)
    own_only: bool
    cells: list[BalanceCell]
    #: other institutions' loans, anonymous (None when the caller sees every loan it may)
    others: list[BalanceCell] | None = None
    others_by: list[str] = field(default_factory=list)


def _cells(frame: pl.DataFrame, by: Sequence[str]) -> list[BalanceCell]:
    return [
        BalanceCell(
            key={b: r[b] for b in by},
            outstanding=_yuan(r["outstanding"]),
            npl=_yuan(r["npl"]),
            new_lending=_yuan(r["new_lending"]),
            repaid=_yuan(r["repaid"]),
            loans_drawn=int(r["drawdowns"]),
        )
        for r in frame.sort(list(by), nulls_last=True).iter_rows(named=True)
    ]


def _anonymous(
    cube: Cube,
    by: Sequence[str],
    where: dict[str, Any],
    own: Sequence[int],
    month: dt.date,
    rule: DisclosureRule,
) -> list[BalanceCell]:
    """The loans of institutions other than `own`, by `by` at `month`, each cell shown only
    under the disclosure rule with institutions as its contributors."""
    others = {**where}
    ids = [i for i in cube.attributes["institution_id"].unique().to_list() if i not in set(own)]
    others["institution_id"] = ids
    frame = cube.balances([*by, "institution_id"], others, dense=False).filter(
        pl.col("month") == month
    )
    if frame.height == 0:
        return []
    values = ("outstanding", "npl", "new_lending", "repaid", "drawdowns")
    cells: dict[tuple[Any, ...], dict[str, list[int]]] = {}
    for r in frame.iter_rows(named=True):
        cell = cells.setdefault(tuple(r[b] for b in by), {v: [] for v in values})
        for v in values:
            cell[v].append(int(r[v]))
    shown: dict[str, dict[tuple[Any, ...], Decimal | None]] = {}
    for v in values:
        stats = {k: CellStats.of(Decimal(x) for x in c[v] if x) for k, c in cells.items()}
        shown[v] = protect(stats, rule)
    # a cell whose balance is hidden hides its other figures too
    out = []
    for k in sorted(cells, key=lambda t: tuple((x is None, x) for x in t)):
        hidden = shown["outstanding"][k] is None
        figure = {v: None if hidden else shown[v][k] for v in values}
        out.append(
            BalanceCell(
                key=dict(zip(by, k, strict=True)),
                outstanding=_yuan(figure["outstanding"]),
                npl=_yuan(figure["npl"]),
                new_lending=_yuan(figure["new_lending"]),
                repaid=_yuan(figure["repaid"]),
                loans_drawn=None if figure["drawdowns"] is None else int(figure["drawdowns"]),
            )
        )
    return out


def balances(
    session: Session,
    engine: Engine,
    p: Principal,
    by: Sequence[str],
    *,
    programme_id: int | None = None,
    month: dt.date | None = None,
    rule: DisclosureRule = DisclosureRule(),
) -> BalancesView:
    """Month-end balances by `by` (of `GROUPS`) at `month` (default the ledger's last), of the
    loans the caller sees — and, for an institution, the others' as anonymous cells."""
    groups = _groups(by)
    _programme(session, p, programme_id)
    cube = cube_for(engine)
    day = _month(cube, month)
    where: dict[str, Any] = {} if programme_id is None else {"programme_id": programme_id}
    limited = institution_limited(p)
    ids = _scoped_ids(session, p)
    frame = cube.balances(groups, where, dense=False, ids=ids).filter(pl.col("month") == day)
    view = BalancesView(day, cube.as_of, groups, programme_id, limited, _cells(frame, groups))
    if not limited:
        return view
    others_by = [g for g in groups if g != "institution_id"]
    others = _anonymous(cube, others_by, where, sorted(p.institution_ids), day, rule)
    return replace(view, others=others, others_by=others_by)


@dataclass(frozen=True)
class GrowthPoint:
    month: dt.date
    outstanding: Decimal | None
    yoy: float | None
    mom: float | None
    new_lending_ytd: Decimal | None
    npl_ratio: float | None
    pure_credit_share: float | None
    first_loan_firms: int | None


@dataclass(frozen=True)
class GrowthView:
    as_of: dt.datetime
    programme_id: int | None
    own_only: bool
    series: list[GrowthPoint]
    #: other institutions' total, anonymous: a month's figures only under the disclosure rule
    others: list[GrowthPoint] | None = None


def _points(frame: pl.DataFrame) -> list[GrowthPoint]:
    return [
        GrowthPoint(
            month=r["month"],
            outstanding=_yuan(r["outstanding"]),
            yoy=r["yoy"],
            mom=r["mom"],
            new_lending_ytd=_yuan(r["new_lending_ytd"]),
            npl_ratio=r["npl_ratio"],
            pure_credit_share=r["pure_credit_share"],
            first_loan_firms=int(r["first_loan_firms"]),
        )
        for r in frame.sort("month").iter_rows(named=True)
    ]


def growth(
    session: Session,
    engine: Engine,
    p: Principal,
    *,
    programme_id: int | None = None,
    months: int = 13,
    rule: DisclosureRule = DisclosureRule(),
) -> GrowthView:
    """The last `months` months of the caller's loans (all, or one programme's): balance, YoY,
    MoM, new lending this year, NPL ratio, pure-credit share, first-loan firms; an institution
    also gets the other institutions' total, each month shown under the disclosure rule."""
    _programme(session, p, programme_id)
    cube = cube_for(engine)
    where: dict[str, Any] = {} if programme_id is None else {"programme_id": programme_id}
    limited = institution_limited(p)
    ids = _scoped_ids(session, p)
    keep = cube.loans(where, ids=ids)
    own = gr.growth(_restricted(cube, keep["loan_id"]), [], where)
    series = _points(own.tail(months))
    if not limited:
        return GrowthView(cube.as_of, programme_id, False, series)
    mine = set(p.institution_ids)
    rest = cube.loans(where).filter(~pl.col("institution_id").is_in(sorted(mine)))
    others = gr.growth(_restricted(cube, rest["loan_id"]), [], where).tail(months)
    by_bank = cube.balances(["institution_id"], where, dense=True, ids=rest["loan_id"].to_list())
    hidden = set()
    for month, group in by_bank.group_by("month"):
        stats = CellStats.of(Decimal(x) for x in group["outstanding"].to_list() if x)
        if not disclosable(stats, rule):
            hidden.add(month[0])
    points = [
        GrowthPoint(pt.month, None, None, None, None, None, None, None)
        if pt.month in hidden
        else pt
        for pt in _points(others)
    ]
    return GrowthView(cube.as_of, programme_id, True, series, points)


class _Restricted(Cube):
    """A cube over some loans only (its attributes filtered; the rest shared)."""

    def __init__(self, cube: Cube, loan_ids: pl.Series) -> None:
        self.__dict__.update(cube.__dict__)
        # its slices are not the whole cube's: derived afresh, kept for its own life only
        self.__dict__["_memo"] = {}
        self.__dict__["store"] = None
        self.__dict__["attributes"] = cube.attributes.filter(
            pl.col("loan_id").is_in(loan_ids.implode())
        )
        self.__dict__["lines"] = cube.lines.filter(
            pl.col("credit_line_id").is_in(self.__dict__["attributes"]["credit_line_id"].implode())
        )


def _restricted(cube: Cube, loan_ids: pl.Series) -> Cube:
    return _Restricted(cube, loan_ids)


# --- programmes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryView:
    summary: tg.ProgrammeSummary
    #: the programme-wide amounts are shown (an institution: only under the disclosure rule)
    disclosed: bool


def _lenders_disclosable(cube: Cube, programme_id: int, rule: DisclosureRule) -> bool:
    frame = cube.balances(["institution_id"], {"programme_id": programme_id}, dense=True)
    last = frame.filter(pl.col("month") == cube.last_month)
    stats = CellStats.of(Decimal(x) for x in last["outstanding"].to_list() if x)
    return disclosable(stats, rule)


def programme_summary(
    session: Session,
    engine: Engine,
    p: Principal,
    programme_id: int,
    rule: DisclosureRule = DisclosureRule(),
) -> SummaryView:
    """A programme's summary and targets (the programme must be visible to the caller). An
    institution sees the programme-wide amounts only when its lenders pass the disclosure
    rule; otherwise the figures are withheld (the targets' goals and dates stay)."""
    _programme(session, p, programme_id)
    cube = cube_for(engine)
    summary = tg.programme_summary(cube, programme_id)
    if not institution_limited(p) or _lenders_disclosable(cube, programme_id, rule):
        return SummaryView(summary, True)
    withheld = [
        replace(t, current=None, progress=None, forecast=None, lower=None, upper=None,
                probability=None, monthly_needed=None, history=[], band=[])
        for t in summary.targets
    ]  # fmt: skip
    zero = Decimal(0)
    hidden = replace(summary, outstanding=zero, yoy=None, new_lending_ytd=zero, npl_ratio=None,
                     pure_credit_share=None, first_loan_firms_ytd=0, targets=withheld)  # fmt: skip
    return SummaryView(hidden, False)


@dataclass(frozen=True)
class QuotaRow:
    target_id: int
    tech_field: str | None
    period_start: dt.date
    due_on: dt.date
    quota: Decimal
    used: Decimal | None
    share: float | None


@dataclass(frozen=True)
class CommitmentRow:
    commitment_id: int
    institution_id: int
    tech_field: str | None
    period_start: dt.date
    period_end: dt.date
    amount: Decimal
    used: Decimal
    share: float | None


@dataclass(frozen=True)
class QuotaView:
    programme_id: int
    as_of: dt.datetime
    own_only: bool
    quotas: list[QuotaRow]
    commitments: list[CommitmentRow]


def quota_use(
    session: Session,
    engine: Engine,
    p: Principal,
    programme_id: int,
    rule: DisclosureRule = DisclosureRule(),
) -> QuotaView:
    """Special credit against each field's quota (programme-wide: an institution sees each
    field's use only under the disclosure rule, the lenders of that field and period being the
    contributors) and each institution's commitments (an institution only its own)."""
    _programme(session, p, programme_id)
    cube = cube_for(engine)
    limited = institution_limited(p)
    quotas = []
    for r in gr.quota_use(cube, programme_id).iter_rows(named=True):
        used: Decimal | None = _yuan(r["used"])
        if limited:
            where: dict[str, Any] = {"programme_id": programme_id}
            if r["tech_field"] is not None:
                where["tech_field"] = r["tech_field"]
            loans = cube.loans(where).filter(
                pl.col("drawn_on").is_between(r["period_start"], r["due_on"])
            )
            amounts = cube.frames["loans"].select("loan_id", "principal")
            by_bank = (
                loans.join(amounts, on="loan_id")
                .group_by("institution_id")
                .agg(pl.col("principal").sum())
            )
            stats = CellStats.of(Decimal(x) for x in by_bank["principal"].to_list() if x)
            if not disclosable(stats, rule):
                used = None
        quotas.append(
            QuotaRow(r["target_id"], r["tech_field"], r["period_start"], r["due_on"],
                     _yuan(r["quota"]) or Decimal(0), used,
                     r["share"] if used is not None else None)
        )  # fmt: skip
    commitments = gr.commitment_use(cube, programme_id)
    if limited:
        commitments = commitments.filter(pl.col("institution_id").is_in(sorted(p.institution_ids)))
    rows = [
        CommitmentRow(r["commitment_id"], r["institution_id"], r["tech_field"], r["period_start"],
                      r["period_end"], _yuan(r["amount"]) or Decimal(0),
                      _yuan(r["used"]) or Decimal(0), r["share"])
        for r in commitments.sort("commitment_id").iter_rows(named=True)
    ]  # fmt: skip
    return QuotaView(programme_id, cube.as_of, limited, quotas, rows)
