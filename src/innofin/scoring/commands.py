"""`innofin score …`, `innofin lists …` and `innofin zones rank`: points, key lists, pilot zones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from innofin.cli_support import console, engine, progress_bar
from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import column_unit, format_amount, format_number

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from innofin.scoring import explaining, lists, pilot, service

score_app = typer.Typer(
    help="Innovation points (创新积分): systems, runs, explanations.", no_args_is_help=True
)
lists_app = typer.Typer(
    help="Key-enterprise lists (重点企业名单): select, show, export, history.", no_args_is_help=True
)
zones_app = typer.Typer(help="Zones: pilot-zone ranking for service centres.", no_args_is_help=True)

YEAR = typer.Option(..., "--year", help="The report year to score, e.g. 2024.", min=1990, max=2100)
SYSTEM = typer.Option(
    "default",
    "--system",
    help="A shipped system (default, tech-sme, zone-example) or the path of a system YAML file.",
)
REASON = typer.Option(None, "--reason", help="Why (kept in the audit trail).")


@contextmanager
def _database() -> Iterator[Engine]:
    eng = engine()
    try:
        yield eng
    finally:
        eng.dispose()


def _points(x: float | None) -> str:
    return "" if x is None else f"{x:,.1f}"


@score_app.command("systems")
def systems() -> None:
    """List the shipped indicator systems with their version, scale and content hash."""
    from innofin.scoring.system import load_system, shipped_systems, system_summary

    table = Table(title="indicator systems")
    for col in ("id", "version", "scale", "indicators per group", "sha256"):
        table.add_column(col)
    for name in shipped_systems():
        s = system_summary(load_system(name))
        groups = ", ".join(f"{g} {n}" for g, n in s["groups"].items())
        table.add_row(s["id"], s["version"], f"{s['scale']:g}", groups, s["sha256"][:16])
    console.print(table)


@score_app.command("check")
def check(path: Path = typer.Argument(help="A system YAML file.")) -> None:
    """Validate a system file (exit 2 with the file and line of the first problem)."""
    from innofin.kernel.yamlfile import load_yaml
    from innofin.scoring.system import compile_system, system_summary

    system = compile_system(load_yaml(path.read_text(encoding="utf-8"), str(path)))
    s = system_summary(system)
    console.print(
        f"{path}: {s['id']} {s['version']}, {len(system.indicators)} indicators, "
        f"scale {s['scale']:g}, sha256 {s['sha256']}"
    )


@score_app.command("reference")
def reference(
    year: int = YEAR,
    system: str = SYSTEM,
    replace: bool = typer.Option(False, "--replace", help="Recompute a stored year."),
    reason: str | None = REASON,
) -> None:
    """Compute and store a year's reference values (参照值) from the national population."""
    from innofin.audit.recorder import Actor
    from innofin.scoring import service

    with _database() as eng:
        r = service.compute_reference(eng, system, year, Actor.cli(reason), replace=replace)
    console.print(
        f"reference values for {r.system} {r.year}: {r.rows} rows from "
        f"{r.enterprises:,} enterprises" + (" (replaced)" if r.replaced else "")
    )


@score_app.command("run")
def run(
    year: int = YEAR,
    system: str = SYSTEM,
    top: int = typer.Option(10, "--top", min=0, help="How many of the best to print."),
    reason: str | None = REASON,
) -> None:
    """Score every enterprise reported for the year and store the run (with its fingerprints)."""
    from innofin.audit.recorder import Actor
    from innofin.scoring import service

    with _database() as eng, progress_bar(f"scoring {year} with {system}", 4) as tick:
        r = service.run(eng, system, year, Actor.cli(reason), progress=lambda _s: tick(1), top=top)
    print_run(r)


def print_run(r: service.RunSummary) -> None:
    secs = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
    console.print(
        f"run #{r.run_id}: {r.system} ({r.sha256[:12]}) for {r.year}, "
        f"{r.enterprises:,} enterprises ({secs})"
    )
    console.print(
        f"inputs {r.input_fingerprint[:16]}, results {r.result_fingerprint[:16]}"
        + ("; reference values computed and stored" if r.reference_computed else "")
    )
    if r.qualified is not None:
        console.print(f"qualified under the rule set: {r.qualified:,}")
    if r.top:
        table = Table(title=f"top {len(r.top)} — {r.system} {r.year}")
        for col in ("#", "enterprise", "name", "zone", "points", "change"):
            table.add_column(col, justify="right" if col in ("#", "points", "change") else "left")
        for i, t in enumerate(r.top, start=1):
            change = "" if t.change is None else f"{t.change:+,.1f}"
            table.add_row(
                str(i), str(t.enterprise_id), t.name, t.zone or "", _points(t.points), change
            )
        console.print(table)


@score_app.command("explain")
def explain(
    enterprise_id: int = typer.Argument(help="The enterprise's id."),
    year: int = YEAR,
    system: str | None = typer.Option(None, "--system", help="Default: the latest run's."),
    lang: str = typer.Option("zh", "--lang", help="zh or en."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Why an enterprise has its points: the breakdown, peer groups, missing data that cost
    points, and the three improvements that would add the most."""
    from innofin.db.engine import unit_of_work
    from innofin.scoring import explaining

    if lang not in ("zh", "en"):
        raise InvalidInput(f"--lang must be zh or en, not {lang!r}", field="lang")
    eng = engine()
    try:
        with unit_of_work(eng) as session:
            x = explaining.explain(session, enterprise_id, year, system)
    finally:
        eng.dispose()
    if as_json:
        typer.echo(json.dumps(asdict(x), ensure_ascii=False, indent=1))
        return
    print_explanation(x, lang)


#: the breakdown's column headers in Chinese (--lang zh)
EXPLAIN_HEADERS = {
    "indicator": "指标",
    "group": "分组",
    "value": "数值",
    "score": "得分",
    "weight": "权重",
    "points": "积分",
    "peer group": "对标组",
}


def print_explanation(x: explaining.Explanation, lang: str = "zh") -> None:
    zh = lang == "zh"
    change = "" if x.previous_points is None else f" ({x.points - x.previous_points:+,.1f})"
    console.print(
        f"[bold]{x.name}[/bold] #{x.enterprise_id} — {x.system} {x.year}, run "
        f"#{x.run_id}, stage {x.stage}"
    )
    console.print(
        f"points {_points(x.points)}{change}; rank national {x.ranks['national']}, "
        f"zone {x.ranks['zone']}, field {x.ranks['field']}, stage {x.ranks['stage']}; "
        f"percentile {x.percentile:.1f}" + (f"; verdict {x.verdict}" if x.verdict else "")
    )
    money = column_unit(
        Decimal(f"{it.raw:.2f}") for it in x.items if it.unit == "yuan" and it.raw is not None
    )
    table = Table(title="积分构成" if zh else "breakdown")
    for key in ("indicator", "group", "value", "score", "weight", "points", "peer group"):
        table.add_column(
            EXPLAIN_HEADERS[key] if zh else key,
            justify="right" if key in ("value", "score", "weight", "points") else "left",
        )
    for it in x.items:
        if it.raw is None:
            value = "缺失" if zh else "missing"
        elif it.unit == "yuan":  # one unit for every amount of the column
            value = format_amount(Decimal(f"{it.raw:.2f}"), money, lang=lang)
        else:
            value = format_number(it.raw)
        table.add_row(
            it.name_zh if zh else it.name_en,
            it.group,
            value,
            f"{it.normalised:.3f}",
            f"{it.weight:g}",
            f"{it.contribution:+.1f}",
            it.peer,
        )
    console.print(table)
    for gid, pts in x.groups.items():
        console.print(f"  {gid}: {pts:,.1f}")
    if x.missing_cost:
        console.print(
            "missing data that cost points: "
            + ", ".join(f"{i} (up to {p:.1f})" for i, p in x.missing_cost)
        )
    for imp in x.improvements:
        label = imp.label_zh if zh else imp.label_en
        console.print(f"  {label} ≈ +{imp.gain:.1f} points")


@lists_app.command("select")
def select_cmd(
    year: int = YEAR,
    rules: Path = typer.Option(
        Path("key-enterprises"),
        "--rules",
        help="Rules YAML (or the shipped example 'key-enterprises').",
    ),
    count: int | None = typer.Option(None, "--count", min=1, help="How many to choose."),
    name: str | None = typer.Option(None, "--name", help="List name (default: the rules')."),
    show: int = typer.Option(10, "--show", min=0, help="Members and near misses to print."),
    reason: str | None = REASON,
) -> None:
    """Choose the key enterprises maximising total points under eligibility and quotas (an
    integer program solved exactly with HiGHS); stores a new version of the list."""
    from innofin.audit.recorder import Actor
    from innofin.scoring import lists

    with _database() as eng:
        r = lists.select_list(eng, rules, year, Actor.cli(reason), count=count, name=name)
    print_list(r, show)


def print_list(r: lists.ListSummary, show: int = 10) -> None:
    s = r.solver
    console.print(
        f"key list {r.name!r} v{r.version} ({r.year}): {r.count} chosen from run "
        f"#{r.run_id}; {s['solver']} {s['status']}, objective {s['objective']:,.1f}, "
        f"gap {s['gap']:.2%}, {s['seconds']} s; entered {r.entered}, left {r.left}"
    )
    for note in r.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    for title, rows in (("members", r.members[:show]), ("near misses", r.near_misses[:show])):
        if not rows:
            continue
        table = Table(title=title)
        for col in ("enterprise", "name", "zone", "points", "why"):
            table.add_column(col, overflow="fold")
        for eid, nm, zone, pts, why in rows:
            table.add_row(str(eid), nm, zone, _points(pts), why)
        console.print(table)


@lists_app.command("export")
def export_cmd(
    name: str = typer.Argument(help="The list's name."),
    out: Path = typer.Argument(help="An .xlsx file."),
    version: int | None = typer.Option(None, "--version", help="Default: the latest."),
) -> None:
    """Write a list's members, near misses, exits and the solver's report to XLSX."""
    from innofin.db.engine import unit_of_work
    from innofin.scoring import lists

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            n = lists.export_list(session, name, version, out)
    finally:
        eng.dispose()
    console.print(f"wrote {n} rows to {out}")


@lists_app.command("history")
def history_cmd(name: str = typer.Argument(help="The list's name.")) -> None:
    """Every version of a list: year, size, who entered and who left, the solver's status."""
    from innofin.db.engine import unit_of_work
    from innofin.scoring import lists

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            rows = lists.history(session, name)
    finally:
        eng.dispose()
    table = Table(title=f"key list {name!r}")
    for col in (
        "version",
        "year",
        "count",
        "entered",
        "left",
        "objective",
        "status",
        "by",
        "created",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["version"]),
            str(r["year"]),
            str(r["count"]),
            str(r["entered"]),
            str(r["left"]),
            _points(r["objective"]),
            str(r["status"]),
            str(r["by"]),
            r["created_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@zones_app.command("rank")
def rank_cmd(
    year: int = YEAR,
    top: int = typer.Option(10, "--top", min=1, help="How many zones to choose."),
    weight: list[str] = typer.Option(
        [],
        "--weight",
        help="criterion=weight (repeatable), e.g. --weight gdp=0.2; 0 drops a criterion. The "
        "weights are then divided by their sum (the output says so when it is not 1).",
    ),
    system: str = typer.Option("default", "--system", help="Whose points to aggregate."),
    reason: str | None = REASON,
) -> None:
    """Rank zones for sci-tech financing service centres with TOPSIS, and report how stable the
    top N is when each weight moves ±20%."""
    from innofin.audit.recorder import Actor
    from innofin.scoring import pilot

    weights = pilot.parse_weights(weight)
    with _database() as eng:
        r = pilot.rank_zones(
            eng, year, Actor.cli(reason), top_n=top, weights=weights, system=system
        )
    print_pilot(r)


def print_pilot(r: pilot.PilotReport) -> None:
    w = ", ".join(f"{k} {v:.2f}" for k, v in r.weights.items())
    table = Table(title=f"pilot zones {r.year} (TOPSIS; weights {w})")
    for col in ("#", "zone", "name", "province", "closeness", "rank ±20%"):
        table.add_column(col)
    for z in r.rows[: r.top_n]:
        lo, hi = z.rank_range
        table.add_row(
            str(z.rank),
            z.code,
            z.name,
            z.province,
            f"{z.closeness:.4f}",
            f"{lo}–{hi}" if lo != hi else str(lo),
        )
    console.print(table)
    total = sum(r.given_weights.values())
    if r.given_weights and abs(total - 1) > 1e-9:
        scaled = ", ".join(
            f"{k} {v:.2f} → {r.weights[k]:.2f}"
            for k, v in r.given_weights.items()
            if k in r.weights
        )
        console.print(
            f"[yellow]note:[/yellow] the weights add up to {total:.2f}, not 1, so each was divided "
            f"by {total:.2f}: {scaled}",
            soft_wrap=True,
        )
    moved = [p for p in r.perturbations if p["entered"] or p["left"]]
    console.print(
        f"top {r.top_n} unchanged under {r.stable_share:.0%} of the ±20% weight "
        f"moves; always in: {', '.join(r.always_in)}"
    )
    for p in moved:
        console.print(
            f"  {p['criterion']} ×{p['factor']:g}: in {', '.join(p['entered'])}; "
            f"out {', '.join(p['left'])}"
        )


def register(root: typer.Typer) -> None:
    root.add_typer(score_app, name="score")
    root.add_typer(lists_app, name="lists")
    root.add_typer(zones_app, name="zones")
