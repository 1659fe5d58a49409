"""The programme report (项目监测报告): the figures of one programme as a `reports.model.Report`,
which `reports.xlsx`, `reports.pdf` and `reports.html` render.

`build_report` reads one `Cube` (a reading of the ledger, whose as-of time every figure
carries) and, when given, the programme's funnel (`funnel.funnel_summary`):

* key figures — the balance at the last month end, its year-on-year growth, new lending this
  year, the NPL ratio, the pure-credit share, first-loan firms this year;
* targets — progress, the forecast on the due date with its 10–90 % interval, the probability
  of reaching it and the monthly growth still needed (`targets.programme_summary`), in one
  table per kind of figure (amounts, counts of firms, growth rates);
* the balance against each balance target, month by month, with the forecast and its band;
* the balance by zone and by institution at the last month end (with growth and NPL);
* the programme's monthly growth table (the last `MONTHS` months);
* special-credit quota use (by field) and each institution's commitment use;
* the five-category balances and the NPL ratio;
* the funnel (needs → drawdowns), its median times and the reasons for declines;
* the risk pools' positions.

The report is the operator's (every row of the programme); pages that show figures to an
institution apply the disclosure rule themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import yuan
from innofin.monitoring.cube import growth as gr
from innofin.monitoring.reports.model import (
    N_,
    Cell,
    Chart,
    Column,
    Fact,
    Kind,
    Line,
    Msg,
    Report,
    Section,
    Table,
    Words,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from innofin.kernel.principal import Principal
    from innofin.monitoring.cube.service import Cube
    from innofin.monitoring.funnel.service import FunnelSummary
    from innofin.monitoring.targets.service import ProgrammeSummary, TargetStatus

#: months of history the growth table and the charts show
MONTHS: Final = 24

TARGET_KINDS: Final = {
    "financing_balance": N_("Financing balance"),
    "new_credit": N_("New special credit"),
    "key_enterprises": N_("Key enterprises served"),
    "balance_growth": N_("Balance growth year on year"),
}
CLASSES: Final = {
    "pass": N_("Pass"),
    "special_mention": N_("Special mention"),
    "substandard": N_("Substandard"),
    "doubtful": N_("Doubtful"),
    "loss": N_("Loss"),
}
STEPS: Final = {
    "needs": N_("Financing needs"),
    "referred": N_("Referred to institutions"),
    "answered": N_("Answered"),
    "opted_in": N_("Opted in"),
    "approved": N_("Approved"),
    "credit_lines": N_("Credit lines"),
    "drawn": N_("Drawn"),
}
DECLINES: Final = {
    "too_young": N_("The firm is too young"),
    "revenue_too_low": N_("Revenue too low"),
    "outside_fields": N_("Outside the institution's fields"),
    "amount_too_large": N_("Amount too large"),
    "risk": N_("Risk too high"),
    "incomplete_documents": N_("Incomplete documents"),
    "other": N_("Other"),
}
ALL_FIELDS = N_("All fields")

# column and figure titles
BALANCE = N_("Balance")
YOY = N_("Year on year")
MOM = N_("Month on month")
NEW_LENDING = N_("New lending in the month")
NEW_LENDING_YTD = N_("New lending this year")
NPL = N_("Non-performing balance")
NPL_RATIO = N_("NPL ratio")
PURE_CREDIT = N_("Pure-credit share")
FIRST_LOANS = N_("First-loan firms this year")
LOANS = N_("Loans")
MONTH = N_("Month")
TARGET = N_("Target")
FIELD = N_("Technology field")
DUE_ON = N_("Due on")
GOAL = N_("Goal")
CURRENT = N_("Now")
PROGRESS = N_("Progress")
FORECAST = N_("Forecast on the due date")
LOWER = N_("Lower bound (10%)")
UPPER = N_("Upper bound (90%)")
PROBABILITY = N_("Probability of reaching it")
NEEDED_GROWTH = N_("Monthly growth needed")
NEEDED_AMOUNT = N_("Needed each month")
MODEL = N_("Forecast model")
ZONE = N_("Zone")
INSTITUTION = N_("Institution")
QUOTA = N_("Quota")
USED = N_("Used")
USE = N_("Use")
PERIOD_START = N_("From")
COMMITMENT = N_("Commitment")
LOAN_CLASS = N_("Loan class")
SHARE = N_("Share of the balance")
STEP = N_("Step")
COUNT = N_("Count")
FIRMS = N_("Firms")
AMOUNT = N_("Amount")
REASON = N_("Reason")
DECLINED = N_("Declined")
POOL = N_("Risk pool")
CONTRIBUTED = N_("Contributed")
CLAIMS_PAID = N_("Claims paid")
RECOVERED = N_("Recoveries")
POOL_BALANCE = N_("Pool balance")
EXPOSURE = N_("Covered balance")
LEVERAGE = N_("Covered balance per yuan of the pool")
TARGET_LINE = N_("Target")
FORECAST_LINE = N_("Forecast")
LOWER_LINE = N_("Lower bound (10%)")
UPPER_LINE = N_("Upper bound (90%)")
DAYS_TO_ANSWER = N_("Median days to an answer")
DAYS_TO_APPROVAL = N_("Median days to approval")
DAYS_TO_CREDIT = N_("Median days to the first drawdown")

#: the pages' comparison of an institution with the others
YOUR_INSTITUTION = N_("Your institution")
OTHER_INSTITUTIONS = N_("Other institutions (anonymous)")
BALANCE_BY_MONTH = N_("Balance by month")

HIDDEN = N_("A blank figure is hidden under the disclosure rule (too few firms, or one dominates).")
BAND_NOTE = N_(
    "The forecast band is the 10th to 90th percentile of simulated paths of the model chosen "
    "by back-test on the series itself."
)


def _yuan(fen: Any) -> Decimal | None:
    return None if fen is None else yuan(int(fen))


def _dec(value: float | None, places: int = 4) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, places)))


def _money(value: Any) -> Decimal | None:
    """A target's figure in yuan (Decimal already, or a float of the forecast)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(str(round(float(value), 2)))


def _month_label(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


def _names(frame: pl.DataFrame, key: str) -> dict[int, str]:
    return {int(k): str(v) for k, v in frame.select(key, "name").iter_rows() if k is not None}


# --------------------------------------------------------------------------- sections


def _facts(summary: ProgrammeSummary) -> tuple[Fact, ...]:
    facts = [
        Fact(BALANCE, summary.outstanding, Kind.AMOUNT),
        Fact(YOY, _dec(summary.yoy), Kind.RATIO),
        Fact(NEW_LENDING_YTD, summary.new_lending_ytd, Kind.AMOUNT),
        Fact(NPL_RATIO, _dec(summary.npl_ratio), Kind.RATIO),
        Fact(PURE_CREDIT, _dec(summary.pure_credit_share), Kind.RATIO),
        Fact(FIRST_LOANS, summary.first_loan_firms_ytd, Kind.COUNT),
    ]
    return tuple(facts)


def _target_tables(targets: Iterable[TargetStatus]) -> tuple[Table, ...]:
    amounts: list[tuple[Cell, ...]] = []
    counts: list[tuple[Cell, ...]] = []
    rates: list[tuple[Cell, ...]] = []
    for t in targets:
        head: tuple[Cell, ...] = (
            Msg(TARGET_KINDS.get(t.kind, t.kind)),
            t.tech_field if t.tech_field else Msg(ALL_FIELDS),
            t.due_on,
        )
        odds = (_dec(t.probability), t.model)
        if t.kind in ("financing_balance", "new_credit"):
            needed = t.monthly_needed
            amounts.append(
                (
                    *head,
                    _money(t.goal),
                    _money(t.current),
                    _dec(t.progress),
                    _money(t.forecast),
                    _money(t.lower),
                    _money(t.upper),
                    *odds[:1],
                    _money(needed) if t.kind == "new_credit" else None,
                    _dec(float(needed)) if t.kind != "new_credit" and needed is not None else None,
                    odds[1],
                )
            )
        elif t.kind == "key_enterprises":
            counts.append(
                (
                    *head,
                    *(None if v is None else int(v) for v in (t.goal, t.current)),
                    _dec(t.progress),
                    *(None if v is None else int(v) for v in (t.forecast, t.lower, t.upper)),
                    *odds[:1],
                    _dec(None if t.monthly_needed is None else float(t.monthly_needed)),
                    odds[1],
                )
            )
        else:
            rates.append(
                (
                    *head,
                    *(_dec(None if v is None else float(v)) for v in (t.goal, t.current)),
                    _dec(t.progress),
                    *(
                        _dec(None if v is None else float(v))
                        for v in (t.forecast, t.lower, t.upper)
                    ),
                    *odds[:1],
                    odds[1],
                )
            )

    def columns(kind: Kind, *tail: Column) -> tuple[Column, ...]:
        """A target table's columns: its figures in `kind`, then what that kind adds."""
        return (
            Column(TARGET), Column(FIELD), Column(DUE_ON, Kind.DATE),
            Column(GOAL, kind), Column(CURRENT, kind), Column(PROGRESS, Kind.RATIO),
            Column(FORECAST, kind), Column(LOWER, kind), Column(UPPER, kind),
            Column(PROBABILITY, Kind.RATIO), *tail, Column(MODEL),
        )  # fmt: skip

    needed_growth = Column(NEEDED_GROWTH, Kind.RATIO)
    out = []
    if amounts:
        cols = columns(Kind.AMOUNT, Column(NEEDED_AMOUNT, Kind.AMOUNT), needed_growth)
        out.append(Table("targets-amounts", N_("Targets in amounts"), cols, tuple(amounts)))
    if counts:
        cols = columns(Kind.COUNT, needed_growth)
        out.append(Table("targets-firms", N_("Targets in firms served"), cols, tuple(counts)))
    if rates:
        cols = columns(Kind.RATIO)
        out.append(Table("targets-growth", N_("Targets in growth"), cols, tuple(rates)))
    return tuple(out)


def balance_charts(
    targets: Iterable[TargetStatus],
    months: list[dt.date],
    balances: list[Decimal | None],
) -> tuple[Chart, ...]:
    """The balance month by month (`months`, `balances`) and, for each balance target, its goal,
    the forecast to its due date and the band (also the pages' chart)."""
    charts = []
    for t in targets:
        if t.kind != "financing_balance" or t.current is None:
            continue
        band = list(t.band)
        x = [_month_label(m) for m in months] + [_month_label(m) for m, *_ in band]
        pad: list[Decimal | None] = [None] * len(band)
        before: list[Decimal | None] = [None] * (len(months) - 1)
        last = balances[-1:] if balances else []
        mean = [_money(v) for _m, v, _lo, _up in band]
        lower = [_money(lo) for _m, _v, lo, _up in band]
        upper = [_money(up) for _m, _v, _lo, up in band]
        lines = [
            Line(BALANCE, tuple(balances + pad)),
            Line(TARGET_LINE, tuple([_money(t.goal)] * len(x)), "dashed"),
        ]
        if band:  # the forecast starts from the last balance
            lines.append(Line(FORECAST_LINE, tuple(before + last + mean), "dashed"))
            lines.append(Line(LOWER_LINE, tuple(before + last + lower), "lower"))
            lines.append(Line(UPPER_LINE, tuple(before + last + upper), "upper"))
        charts.append(
            Chart(
                f"balance-{t.target_id}",
                N_("Balance against the target due %(due)s"),
                tuple(x),
                tuple(lines),
                args=(("due", t.due_on.isoformat()),),
            )
        )
    if not charts:
        charts.append(
            Chart(
                "balance",
                BALANCE_BY_MONTH,
                tuple(_month_label(m) for m in months),
                (Line(BALANCE, tuple(balances)),),
            )
        )
    return tuple(charts)


def _slice_at_month_end(cube: Cube, programme_id: int, by: str) -> pl.DataFrame:
    """The slices by `by` at the cube's last month end: balance, NPL, its growth on a year
    earlier and this year's new lending, from one reading of the balances (`gr.growth` would
    add credit-line use and pure-credit shares, which these tables do not show, at several
    times the cost on a national ledger)."""
    from innofin.kernel.periods import add_months, month_end

    last = cube.last_month
    year_ago = month_end(add_months(last.replace(day=1), -12))
    frame = cube.balances([by], {"programme_id": programme_id}, dense=True)
    earlier = frame.filter(pl.col("month") == year_ago).select(by, before="outstanding")
    ytd = (
        frame.filter((pl.col("month").dt.year() == last.year) & (pl.col("month") <= last))
        .group_by(by)
        .agg(new_lending_ytd=pl.col("new_lending").sum())
    )
    at = frame.filter(pl.col("month") == last).select(by, "outstanding", "npl")
    out = (
        at.join(earlier, on=by, how="left", nulls_equal=True)
        .join(ytd, on=by, how="left", nulls_equal=True)
        .with_columns(
            yoy=pl.when(pl.col("before") > 0).then(
                pl.col("outstanding").cast(pl.Float64) / pl.col("before") - 1
            ),
            npl_ratio=pl.when(pl.col("outstanding") != 0).then(
                pl.col("npl").cast(pl.Float64) / pl.col("outstanding")
            ),
        )
    )
    return out.filter(pl.col("outstanding") != 0).sort("outstanding", descending=True)


def _slice_table(
    cube: Cube, programme_id: int, by: str, names: Mapping[int, str], title: str, key: str
) -> Table:
    frame = _slice_at_month_end(cube, programme_id, by)
    rows = tuple(
        (
            names.get(int(r[by]), str(r[by])) if r[by] is not None else "",
            _yuan(r["outstanding"]),
            _dec(r["yoy"]),
            _yuan(r["new_lending_ytd"]),
            _yuan(r["npl"]),
            _dec(r["npl_ratio"]),
        )
        for r in frame.iter_rows(named=True)
    )
    return Table(
        key,
        title,
        (
            Column(ZONE if by == "zone_id" else INSTITUTION),
            Column(BALANCE, Kind.AMOUNT),
            Column(YOY, Kind.RATIO),
            Column(NEW_LENDING_YTD, Kind.AMOUNT),
            Column(NPL, Kind.AMOUNT),
            Column(NPL_RATIO, Kind.RATIO),
        ),
        rows,
    )


def _growth_table(history: pl.DataFrame) -> Table:
    shown = history.tail(MONTHS)
    rows = tuple(
        (
            _month_label(r["month"]),
            _yuan(r["outstanding"]),
            _dec(r["mom"]),
            _dec(r["yoy"]),
            _yuan(r["new_lending"]),
            _yuan(r["new_lending_ytd"]),
            _dec(r["npl_ratio"]),
            _dec(r["pure_credit_share"]),
            int(r["first_loan_firms"] or 0),
        )
        for r in shown.iter_rows(named=True)
    )
    return Table(
        "growth",
        N_("Growth by month"),
        (
            Column(MONTH),
            Column(BALANCE, Kind.AMOUNT),
            Column(MOM, Kind.RATIO),
            Column(YOY, Kind.RATIO),
            Column(NEW_LENDING, Kind.AMOUNT),
            Column(NEW_LENDING_YTD, Kind.AMOUNT),
            Column(NPL_RATIO, Kind.RATIO),
            Column(PURE_CREDIT, Kind.RATIO),
            Column(N_("First-loan firms"), Kind.COUNT),
        ),
        rows,
    )


def _quota_tables(
    cube: Cube, programme_id: int, institutions: Mapping[int, str]
) -> tuple[Table, ...]:
    quotas = gr.quota_use(cube, programme_id).sort("target_id")
    quota_rows = tuple(
        (
            r["tech_field"] or Msg(ALL_FIELDS),
            r["period_start"],
            r["due_on"],
            _yuan(r["quota"]),
            _yuan(r["used"]),
            _dec(r["share"]),
        )
        for r in quotas.iter_rows(named=True)
    )
    commitments = gr.commitment_use(cube, programme_id).sort("institution_id", "commitment_id")
    commitment_rows = tuple(
        (
            institutions.get(int(r["institution_id"]), str(r["institution_id"])),
            r["tech_field"] or Msg(ALL_FIELDS),
            r["period_start"],
            r["period_end"],
            _yuan(r["amount"]),
            _yuan(r["used"]),
            _dec(r["share"]),
        )
        for r in commitments.iter_rows(named=True)
    )
    return (
        Table(
            "quota",
            N_("Special-credit quota use"),
            (
                Column(FIELD),
                Column(PERIOD_START, Kind.DATE),
                Column(DUE_ON, Kind.DATE),
                Column(QUOTA, Kind.AMOUNT),
                Column(USED, Kind.AMOUNT),
                Column(USE, Kind.RATIO),
            ),
            quota_rows,
        ),
        Table(
            "commitments",
            N_("Institutions' commitments"),
            (
                Column(INSTITUTION),
                Column(FIELD),
                Column(PERIOD_START, Kind.DATE),
                Column(N_("Until"), Kind.DATE),
                Column(COMMITMENT, Kind.AMOUNT),
                Column(USED, Kind.AMOUNT),
                Column(USE, Kind.RATIO),
            ),
            commitment_rows,
        ),
    )


def _npl_table(history: pl.DataFrame) -> Table:
    last = history.tail(1)
    rows: list[tuple[Cell, ...]] = []
    if last.height:
        r = last.row(0, named=True)
        total = int(r["outstanding"] or 0)
        sorted_classes = sum(int(r[c] or 0) for c in CLASSES if c != "pass")
        values = {
            "pass": total - sorted_classes,
            **{c: int(r[c] or 0) for c in CLASSES if c != "pass"},
        }
        for code, name in CLASSES.items():
            rows.append(
                (Msg(name), _yuan(values[code]), _dec(values[code] / total if total else None))
            )
        rows.append((Msg(NPL), _yuan(r["npl"]), _dec(r["npl_ratio"])))
    return Table(
        "npl",
        N_("Balance by loan class"),
        (Column(LOAN_CLASS), Column(BALANCE, Kind.AMOUNT), Column(SHARE, Kind.RATIO)),
        tuple(rows),
    )


def _funnel_section(funnel: FunnelSummary) -> Section:
    steps = Table(
        "funnel",
        N_("Funnel"),
        (
            Column(STEP),
            Column(COUNT, Kind.COUNT),
            Column(FIRMS, Kind.COUNT),
            Column(AMOUNT, Kind.AMOUNT),
        ),
        tuple(
            (Msg(STEPS.get(s.step, s.step)), s.count, s.enterprises, s.amount) for s in funnel.steps
        ),
        note=HIDDEN if funnel.own_only else None,
    )
    times = Table(
        "funnel-times",
        N_("Time to an answer and to credit"),
        (Column(N_("Measure")), Column(N_("Days"), Kind.NUMBER)),
        (
            (Msg(DAYS_TO_ANSWER), _dec(funnel.median_days_to_response, 1)),
            (Msg(DAYS_TO_APPROVAL), _dec(funnel.median_days_to_approval, 1)),
            (Msg(DAYS_TO_CREDIT), _dec(funnel.median_days_to_credit, 1)),
        ),
    )
    declines = Table(
        "declines",
        N_("Reasons for declines"),
        (Column(REASON), Column(DECLINED, Kind.COUNT)),
        tuple(
            (Msg(DECLINES[code]) if code in DECLINES else code, count)
            for code, count in sorted(funnel.declines.items())
        ),
    )
    return Section("funnel", N_("Funnel"), tables=(steps, times, declines))


def _pool_table(cube: Cube, programme_id: int) -> Table:
    pools = cube.frames["pools"].filter(pl.col("programme_id") == programme_id)
    codes = {int(k): str(v) for k, v in pools.select("pool_id", "code").iter_rows()}
    rows: list[tuple[Cell, ...]] = []
    if codes:
        frame = cube.pools(list(codes))
        if "pool_id" in frame.columns:
            frame = frame.filter(pl.col("pool_id").is_in(list(codes)))
            totals = frame.group_by("pool_id").agg(
                *(
                    pl.col(c).sum()
                    for c in ("contributed", "claims_paid", "recoveries")
                    if c in frame.columns
                )
            )
            at_end = frame.filter(pl.col("month") == cube.last_month)
            for pool_id, code in sorted(codes.items()):
                total = totals.filter(pl.col("pool_id") == pool_id)
                end = at_end.filter(pl.col("pool_id") == pool_id)

                def get(f: pl.DataFrame, name: str) -> int:
                    return int(f[name][0] or 0) if f.height and name in f.columns else 0

                balance = get(end, "balance")
                exposure = get(end, "exposure")
                rows.append(
                    (
                        code,
                        _yuan(get(total, "contributed")),
                        _yuan(get(total, "claims_paid")),
                        _yuan(get(total, "recoveries")),
                        _yuan(balance),
                        _yuan(exposure),
                        _dec(exposure / balance, 2) if balance > 0 else None,
                    )
                )
    return Table(
        "pools",
        N_("Risk pools"),
        (
            Column(POOL),
            Column(CONTRIBUTED, Kind.AMOUNT),
            Column(CLAIMS_PAID, Kind.AMOUNT),
            Column(RECOVERED, Kind.AMOUNT),
            Column(POOL_BALANCE, Kind.AMOUNT),
            Column(EXPOSURE, Kind.AMOUNT),
            Column(LEVERAGE, Kind.NUMBER),
        ),
        tuple(rows),
    )


# --------------------------------------------------------------------------- the report


def build_report(
    cube: Cube,
    programme_id: int,
    *,
    funnel: FunnelSummary | None = None,
    summary: ProgrammeSummary | None = None,
    generated_at: dt.datetime | None = None,
) -> Report:
    """The report of one programme from one reading of the ledger (and its funnel)."""
    from innofin.monitoring.targets.service import programme_summary

    summary = summary or programme_summary(cube, programme_id)
    where = {"programme_id": programme_id}
    history = gr.growth(cube, [], where).sort("month")
    history = history.filter(pl.col("month") <= cube.last_month)
    shown = history.tail(MONTHS)
    zones = _names(cube.frames["zones"], "zone_id")
    institutions = _names(cube.frames["institutions"], "institution_id")
    sections = [
        Section("targets", N_("Targets"), tables=_target_tables(summary.targets), text=BAND_NOTE),
        Section(
            "balance",
            N_("Balance against target"),
            charts=balance_charts(
                summary.targets,
                shown["month"].to_list(),
                [_yuan(v) for v in shown["outstanding"].to_list()],
            ),
        ),
        Section(
            "slices",
            N_("Balance by zone and by institution"),
            tables=(
                _slice_table(cube, programme_id, "zone_id", zones, N_("Balance by zone"), "zones"),
                _slice_table(
                    cube,
                    programme_id,
                    "institution_id",
                    institutions,
                    N_("Balance by institution"),
                    "institutions",
                ),
            ),
        ),
        Section("growth", N_("Growth by month"), tables=(_growth_table(history),)),
        Section(
            "quota",
            N_("Quota and commitment use"),
            tables=_quota_tables(cube, programme_id, institutions),
        ),
        Section("npl", N_("Non-performing loans"), tables=(_npl_table(history),)),
    ]
    if funnel is not None:
        sections.append(_funnel_section(funnel))
    sections.append(Section("pools", N_("Risk pools"), tables=(_pool_table(cube, programme_id),)))
    return Report(
        programme_code=summary.code,
        programme_name=summary.name,
        as_of=cube.as_of,
        period_end=cube.last_month,
        generated_at=generated_at or dt.datetime.now(dt.UTC),
        facts=_facts(summary),
        sections=tuple(sections),
    )


def programme_report(
    engine: Engine,
    programme: int,
    *,
    cube: Cube | None = None,
    principal: Principal | None = None,
    generated_at: dt.datetime | None = None,
) -> Report:
    """The report of a programme: the cube read from the database (unless one is given) and
    the programme's funnel as `principal` sees it (the operator at the machine by default)."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.cube.service import load
    from innofin.monitoring.funnel.service import funnel_summary

    cube = cube or load(engine)
    with unit_of_work(engine) as session:
        funnel = funnel_summary(session, principal or OPERATOR, programme)
    return build_report(cube, programme, funnel=funnel, generated_at=generated_at)


def render(report: Report, fmt: str, words: Words) -> bytes:
    """The report as a file of `fmt` (xlsx, pdf or html)."""
    if fmt == "xlsx":
        from innofin.monitoring.reports.xlsx import render_xlsx

        return render_xlsx(report, words)
    if fmt == "pdf":
        from innofin.monitoring.reports.pdf import render_pdf

        return render_pdf(report, words)
    if fmt == "html":
        from innofin.monitoring.reports.html import render_html

        return render_html(report, words)
    raise InvalidInput(f"a report is xlsx, pdf or html, not {fmt!r}", field="format")
