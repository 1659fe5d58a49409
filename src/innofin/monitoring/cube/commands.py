"""`innofin monitor …` (added to the group of `monitoring.commands`): the balance cube and its
slices, growth, quota use, key-enterprise coverage, programme targets with forecasts, the
forecaster's back-test, and Parquet snapshots.

Every command reads the ledger from the database, or from a snapshot with ``--snapshot DIR``
(`innofin monitor snapshot DIR` writes one), and prints the reading's as-of time with its
figures. Polars, NumPy, statsmodels and the database are imported inside the commands, so
`innofin --help` stays quick.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from innofin.cli_support import UNIT, console, engine, table
from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import parse_unit_option

if TYPE_CHECKING:
    import polars as pl

    from innofin.monitoring.cube.service import Cube

SNAPSHOT = typer.Option(
    None, "--snapshot", help="Read a Parquet snapshot folder instead of the database."
)
BY = typer.Option(
    "",
    "--by",
    help="Group by these attributes, comma-separated: institution_id, zone_id, tech_field, "
    "enterprise_category, financing_mode, product_kind, programme_id, risk_pool_id, "
    "commitment_id (none: the total).",
)
WHERE = typer.Option(
    None,
    "--where",
    help="Keep loans whose attribute has this value, as NAME=VALUE (repeatable; VALUE may be "
    "a comma-separated list).",
)
MONTH = typer.Option(None, "--month", help="The month, YYYY-MM (default: the ledger's last).")
JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
PROGRAMME = typer.Option(None, "--programme", help="A programme's code or id (default: all).")
#: attributes whose values are ids
_ID_ATTRIBUTES = (
    "institution_id",
    "zone_id",
    "programme_id",
    "risk_pool_id",
    "commitment_id",
    "credit_line_id",
    "enterprise_id",
)


def _cube(snapshot: Path | None) -> Cube:
    from innofin.monitoring.cube.service import Cube, load, read_ledger

    if snapshot is not None:
        return load(snapshot=snapshot)  # what it derives is kept beside it
    eng = engine()
    try:
        return Cube(read_ledger(eng))
    finally:
        eng.dispose()


def _programme(cube: Cube, text: str | None) -> int | None:
    """A programme by its id or its code (None: every programme)."""
    if text is None:
        return None
    import polars as pl

    from innofin.kernel.errors import NotFound

    programmes = cube.frames["programmes"]
    found = programmes.filter(pl.col("code") == text.strip())
    if found.height == 0 and text.strip().isdigit():
        found = programmes.filter(pl.col("programme_id") == int(text.strip()))
    if found.height == 0:
        raise NotFound(f"no programme {text!r} (give its code or its id)")
    return int(found["programme_id"][0])


def _by(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _where(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidInput(f"--where takes NAME=VALUE, not {item!r}", field="where")
        values: list[Any] = [v.strip() for v in value.split(",")]
        if name in _ID_ATTRIBUTES:
            try:
                values = [None if v in ("", "none") else int(v) for v in values]
            except ValueError:
                raise InvalidInput(
                    f"--where {name} takes ids, not {value!r}", field="where"
                ) from None
        out[name] = values
    return out


def _month(text: str | None, cube: Cube) -> dt.date:
    from innofin.kernel.periods import month_end

    if text is None:
        return cube.last_month
    try:
        year, month = (int(x) for x in text.split("-"))
        return month_end(dt.date(year, month, 1))
    except ValueError:
        raise InvalidInput(f"--month must be YYYY-MM, not {text!r}", field="month") from None


def _yuan(fen: Any) -> Decimal | None:
    return None if fen is None else (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def _pct(value: Any) -> str:
    return "" if value is None else f"{value:.2%}"


def _echo_json(payload: Any) -> None:
    from innofin.audit.recorder import jsonable

    typer.echo(json.dumps(jsonable(payload), ensure_ascii=False, default=str))


def _frame_json(frame: pl.DataFrame, cube: Cube) -> dict[str, Any]:
    money = {
        "outstanding",
        "special_mention",
        "substandard",
        "doubtful",
        "loss",
        "npl",
        "pass",
        "new_lending",
        "repaid",
        "written_off",
        "recovered",
        "new_lending_ytd",
        "limit",
        "pure_credit_outstanding",
        "quota",
        "used",
        "amount",
        "exposure",
        "contributed",
        "claims_paid",
        "recoveries",
        "balance",
    }
    rows = []
    for row in frame.drop("as_of", strict=False).iter_rows(named=True):
        rows.append(
            {k: (str(_yuan(v)) if k in money and v is not None else v) for k, v in row.items()}
        )
    return {"as_of": cube.as_of.isoformat(), "unit": "yuan", "rows": rows}


def slice_(
    by: str = BY,
    where: list[str] | None = WHERE,
    month: str | None = MONTH,
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = JSON,
    unit: str | None = UNIT,
) -> None:
    """Month-end balances of one month by the chosen attributes: outstanding, NPL (by class),
    the month's new lending and repayments."""
    import polars as pl

    chosen = parse_unit_option(unit)
    cube = _cube(snapshot)
    day = _month(month, cube)
    frame = cube.balances(_by(by), _where(where), dense=False).filter(pl.col("month") == day)
    frame = frame.sort("outstanding", descending=True)
    if as_json:
        _echo_json(_frame_json(frame, cube))
        return
    names = _by(by)
    columns = (*names, "outstanding", "NPL", "NPL ratio", "new lending", "repaid", "drawdowns")
    rows = [
        (
            *(r[n] for n in names),
            _yuan(r["outstanding"]),
            _yuan(r["npl"]),
            _pct(r["npl"] / r["outstanding"] if r["outstanding"] else None),
            _yuan(r["new_lending"]),
            _yuan(r["repaid"]),
            f"{r['drawdowns']:,}",
        )
        for r in frame.iter_rows(named=True)
    ]
    title = f"balances at {day} (as of {cube.as_of:%Y-%m-%d %H:%M} UTC)"
    console.print(
        table(
            title, columns, rows, money=("outstanding", "NPL", "new lending", "repaid"), unit=chosen
        )
    )


def cube_(
    out: Path = typer.Argument(..., help="The file to write: .parquet or .csv."),
    snapshot: Path | None = SNAPSHOT,
) -> None:
    """Write the whole cube — every month × institution × zone × field × enterprise category ×
    financing mode × product kind × programme with a balance or a flow — to a file (fen)."""
    import time

    cube = _cube(snapshot)
    start = time.perf_counter()
    frame = cube.balances()
    seconds = time.perf_counter() - start
    if out.suffix == ".csv":
        frame.write_csv(out)
    elif out.suffix == ".parquet":
        frame.write_parquet(out)
    else:
        raise InvalidInput(f"{out}: write .parquet or .csv", field="out")
    console.print(
        f"{frame.height:,} rows written to {out} (as of {cube.as_of.isoformat()}, "
        f"built in {seconds:.2f} s; amounts in fen)"
    )


def growth(
    by: str = BY,
    where: list[str] | None = WHERE,
    months: int = typer.Option(13, "--months", help="How many of the last months to show."),
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = JSON,
    unit: str | None = UNIT,
) -> None:
    """Growth of a slice month by month: balance, YoY and MoM, new lending this year, NPL ratio,
    pure-credit share, first-loan firms, credit-line utilisation."""
    import polars as pl

    from innofin.monitoring.cube import growth as gr

    chosen = parse_unit_option(unit)
    cube = _cube(snapshot)
    names = _by(by)
    frame = gr.growth(cube, names, _where(where))
    months_shown = frame["month"].unique().sort().tail(months)
    frame = frame.filter(pl.col("month").is_in(months_shown.implode()))
    if as_json:
        _echo_json(_frame_json(frame, cube))
        return
    has_use = "utilisation" in frame.columns
    columns = (
        *names,
        "month",
        "outstanding",
        "YoY",
        "MoM",
        "new lending YTD",
        "NPL ratio",
        "pure credit",
        "first loans",
        *(("utilisation",) if has_use else ()),
    )
    rows = [
        (
            *(r[n] for n in names),
            r["month"].isoformat(),
            _yuan(r["outstanding"]),
            _pct(r["yoy"]),
            _pct(r["mom"]),
            _yuan(r["new_lending_ytd"]),
            _pct(r["npl_ratio"]),
            _pct(r["pure_credit_share"]),
            f"{r['first_loan_firms']:,}",
            *((_pct(r["utilisation"]),) if has_use else ()),
        )
        for r in frame.iter_rows(named=True)
    ]
    title = f"growth (as of {cube.as_of:%Y-%m-%d %H:%M} UTC)"
    console.print(
        table(title, columns, rows, money=("outstanding", "new lending YTD"), unit=chosen)
    )


def quota(
    programme: str | None = PROGRAMME,
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = JSON,
    unit: str | None = UNIT,
) -> None:
    """Special credit against each field's quota and each institution's commitment."""
    from innofin.monitoring.cube import growth as gr

    chosen = parse_unit_option(unit)
    cube = _cube(snapshot)
    chosen_id = _programme(cube, programme)
    quotas = gr.quota_use(cube, chosen_id)
    commitments = gr.commitment_use(cube, chosen_id)
    if as_json:
        _echo_json(
            {
                "as_of": cube.as_of.isoformat(),
                "quotas": _frame_json(quotas, cube)["rows"],
                "commitments": _frame_json(commitments, cube)["rows"],
            }
        )
        return
    stamp = f"as of {cube.as_of:%Y-%m-%d %H:%M} UTC"
    console.print(
        table(
            f"quotas by field ({stamp})",
            ("programme", "field", "period", "quota", "used", "share"),
            [
                (
                    r["programme_id"],
                    r["tech_field"] or "(all)",
                    f"{r['period_start']}–{r['due_on']}",
                    _yuan(r["quota"]),
                    _yuan(r["used"]),
                    _pct(r["share"]),
                )
                for r in quotas.iter_rows(named=True)
            ],
            money=("quota", "used"),
            unit=chosen,
        )
    )
    console.print(
        table(
            f"commitments by institution ({stamp})",
            ("programme", "institution", "field", "period", "committed", "used", "share"),
            [
                (
                    r["programme_id"],
                    r["institution_id"],
                    r["tech_field"] or "(all)",
                    f"{r['period_start']}–{r['period_end']}",
                    _yuan(r["amount"]),
                    _yuan(r["used"]),
                    _pct(r["share"]),
                )
                for r in commitments.iter_rows(named=True)
            ],
            money=("committed", "used"),
            unit=chosen,
        )
    )


def coverage(
    year: int | None = typer.Option(None, "--year", help="The key list's year (default: last)."),
    list_name: str | None = typer.Option(
        None, "--list", help="The key list's name (default: all)."
    ),
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = JSON,
) -> None:
    """Key-enterprise coverage: members of the year's key list with credit, and amounts."""
    from dataclasses import asdict

    from innofin.monitoring.cube import growth as gr

    cube = _cube(snapshot)
    found = gr.key_coverage(cube, year, list_name)
    if as_json:
        _echo_json(asdict(found))
        return
    console.print(
        f"key list {found.year}{' ' + found.list_name if found.list_name else ''} at "
        f"{found.month}: {found.with_credit:,} of {found.members:,} members with credit "
        f"({_pct(found.share)}); balance {_yuan(found.outstanding)} yuan, new lending this "
        f"year {_yuan(found.new_lending_ytd)} yuan (as of {cube.as_of:%Y-%m-%d %H:%M} UTC)"
    )


def targets(
    programme: str | None = PROGRAMME,
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = JSON,
    unit: str | None = UNIT,
) -> None:
    """Each programme's summary and targets: progress, forecast with its 80 % interval, the
    probability of reaching the target by its date, and the monthly growth still needed."""
    from innofin.monitoring.targets import service as tg

    chosen = parse_unit_option(unit)
    cube = _cube(snapshot)
    chosen_id = _programme(cube, programme)
    summaries = (
        [tg.programme_summary(cube, chosen_id)]
        if chosen_id is not None
        else tg.programme_summaries(cube)
    )
    if as_json:
        _echo_json([s.as_json() for s in summaries])
        return
    for s in summaries:
        print_summary(s, chosen)


def print_summary(s: Any, unit: Any = None) -> None:
    """A programme summary (`monitoring.targets.ProgrammeSummary`) as a line and a table."""
    console.print(
        f"[bold]{s.code}[/bold] {s.name} at {s.month}: balance {s.outstanding} yuan, YoY "
        f"{_pct(s.yoy)}, new lending this year {s.new_lending_ytd} yuan, NPL {_pct(s.npl_ratio)}, "
        f"pure credit {_pct(s.pure_credit_share)}, first-loan firms this year "
        f"{s.first_loan_firms_ytd:,} (as of {s.as_of:%Y-%m-%d %H:%M} UTC)"
    )
    rows = []
    for t in s.targets:
        money = isinstance(t.goal, Decimal)
        rate = t.kind == "balance_growth"

        def show(v: Any, money: bool = money, rate: bool = rate) -> Any:
            if v is None:
                return None if money else ""
            if money:
                return v
            return _pct(v) if rate else f"{v:,}"

        needed = t.monthly_needed
        rows.append(
            (
                t.target_id,
                t.kind,
                t.tech_field or "",
                str(t.due_on),
                show(t.goal) if not money else "",
                t.goal if money else None,
                t.current if money else None,
                "" if money else show(t.current),
                _pct(t.progress),
                t.forecast if money else None,
                t.lower if money else None,
                t.upper if money else None,
                ""
                if money
                else f"{show(t.forecast)} [{show(t.lower)}, {show(t.upper)}]"
                if t.forecast is not None
                else "",
                _pct(t.probability),
                (f"{needed} /month" if isinstance(needed, Decimal) else _pct(needed))
                if needed is not None
                else "",
                t.model or ("settled" if t.settled else ""),
            )
        )
    columns = (
        "id",
        "kind",
        "field",
        "due",
        "goal",
        "goal amount",
        "current amount",
        "current",
        "progress",
        "forecast amount",
        "low",
        "high",
        "forecast",
        "probability",
        "still needed",
        "model",
    )
    console.print(
        table(
            f"targets of {s.code}",
            columns,
            rows,
            money=("goal amount", "current amount", "forecast amount", "low", "high"),
            unit=unit,
        )
    )


def backtest(
    programme: str | None = PROGRAMME,
    origins: int = typer.Option(12, "--origins", help="Forecast origins: the last N months."),
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = JSON,
) -> None:
    """Back-test the forecaster on the ledger's history against the naive baseline (last
    year's growth carried forward): error (WAPE) over forecasts 1–12 months ahead."""
    from innofin.monitoring.targets import backtest as bt

    cube = _cube(snapshot)
    rows = bt.backtest_programmes(cube, _programme(cube, programme), origins=origins)
    if as_json:
        _echo_json({"as_of": cube.as_of.isoformat(), "rows": [r.as_json() for r in rows]})
        return
    console.print(
        table(
            f"forecast back-test, {origins} origins × 1–12 months "
            f"(as of {cube.as_of:%Y-%m-%d %H:%M} UTC)",
            ("programme", "series", "months", "model", "model WAPE", "naive WAPE", "better"),
            [
                (
                    r.programme_code,
                    r.series,
                    r.months,
                    r.model,
                    _pct(r.model_error),
                    _pct(r.naive_error),
                    "yes" if r.model_error < r.naive_error else "no",
                )
                for r in rows
            ],
        )
    )


def pools(
    months: int = typer.Option(1, "--months", help="How many of the last months to show."),
    snapshot: Path | None = SNAPSHOT,
    as_json: bool = JSON,
    unit: str | None = UNIT,
) -> None:
    """Risk pools by month: exposure (the covered loans' balance), contributions, claims paid,
    recoveries shared and the pool's balance."""
    import polars as pl

    chosen = parse_unit_option(unit)
    cube = _cube(snapshot)
    frame = cube.pools()
    shown = frame["month"].unique().sort().tail(months)
    frame = frame.filter(pl.col("month").is_in(shown.implode())).sort("pool_id", "month")
    if as_json:
        _echo_json(_frame_json(frame, cube))
        return
    codes = dict(cube.frames["pools"].select("pool_id", "code").iter_rows())
    columns = ("pool", "month", "exposure", "contributed", "claims paid", "recoveries", "balance")
    rows = [
        (
            codes.get(r["pool_id"], r["pool_id"]),
            r["month"].isoformat(),
            _yuan(r.get("exposure")),
            _yuan(r.get("contributed")),
            _yuan(r.get("claims_paid")),
            _yuan(r.get("recoveries")),
            _yuan(r.get("balance")),
        )
        for r in frame.iter_rows(named=True)
    ]
    title = f"risk pools (as of {cube.as_of:%Y-%m-%d %H:%M} UTC)"
    money = ("exposure", "contributed", "claims paid", "recoveries", "balance")
    console.print(table(title, columns, rows, money=money, unit=chosen))


def snapshot(
    folder: Path = typer.Argument(..., help="The folder to write (created if missing)."),
    prepare: bool = typer.Option(
        False,
        "--prepare",
        help="Then derive every programme's report figures and forecasts and keep them beside "
        "the snapshot, so its reports start from them.",
    ),
) -> None:
    """Write a Parquet snapshot of the ledger's columns the cube reads, with its as-of time;
    every `innofin monitor` command and `innofin report programme` read it with --snapshot.
    What they derive from it is kept beside it (``DIR/derived/``) for the next command;
    --prepare derives the programme reports' figures at once (the nightly step)."""
    from innofin.monitoring.cube.service import load, read_ledger, write_snapshot

    eng = engine()
    try:
        frames = read_ledger(eng)
    finally:
        eng.dispose()
    path = write_snapshot(frames, folder)
    rows = sum(t.height for t in frames.tables.values())
    console.print(
        f"snapshot as of {frames.as_of.isoformat()} written to {path.parent} "
        f"({rows:,} rows in {len(frames.tables)} tables)"
    )
    if prepare:
        from innofin.monitoring.reports.service import build_report

        cube = load(snapshot=path.parent)
        ids = cube.frames["programmes"].sort("programme_id")["programme_id"].to_list()
        with console.status("deriving the programmes' report figures…"):
            for programme_id in ids:
                build_report(cube, programme_id)
        where = cube.store.folder if cube.store is not None else path.parent
        console.print(f"report figures of {len(ids)} programme(s) kept in {where}")


def add_to(app: typer.Typer) -> None:
    app.command("slice")(slice_)
    app.command("cube")(cube_)
    app.command("growth")(growth)
    app.command("quota")(quota)
    app.command("coverage")(coverage)
    app.command("targets")(targets)
    app.command("backtest")(backtest)
    app.command("pools")(pools)
    app.command("snapshot")(snapshot)
