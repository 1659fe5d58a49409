"""`innofin demo …`: fill a database with realistic synthetic data; `demo run` is what `make demo`
shows — every capability that exists, on fresh demo data: it builds the database, prints what it
holds, exports the files people circulate and imports one back to show a re-sent file changes
nothing."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from innofin.cli_support import console, progress_bar, section, setup_engine
from innofin.demo.scales import SCALES, Scale, ScaleName
from innofin.kernel.errors import InnofinError
from innofin.kernel.money import AmountUnit
from innofin.registry.commands import print_stats
from innofin.scoring import commands as scoring_cli

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from innofin.demo import service

app = typer.Typer(
    help="Synthetic demo data: deterministic by seed, realistic, every name marked 示例/Demo.",
    no_args_is_help=True,
)


@app.command()
def generate(
    scale: ScaleName = typer.Option(
        ScaleName.SMALL,
        help="small: 30 zones, 3,000 enterprises (seconds); medium: 170 zones, 50,000; "
        "national: 170 zones, 500,000 enterprises, 100 institutions, 1,000 products (minutes).",
        case_sensitive=False,
    ),
    seed: int = typer.Option(0, min=0, help="Random seed: the same seed gives the same data."),
) -> None:
    """Generate zones, enterprises with 3 years of annual reports and certifications,
    institutions, products, organisations and users into the database (INNOFIN_DATABASE_URL).

    The database is migrated to the latest schema first; it must not already hold demo data.
    """
    eng = setup_engine()
    try:
        summary = generate_with_progress(eng, SCALES[scale], seed)
    finally:
        eng.dispose()
    print_summary(summary, eng)


def generate_with_progress(eng: Engine, chosen: Scale, seed: int) -> service.DemoSummary:
    from innofin.audit.recorder import Actor
    from innofin.db import migrate
    from innofin.demo import service

    migrate.upgrade(eng)
    steps = service.STEPS
    with progress_bar(f"generating {chosen.name} (seed {seed})", total=len(steps)) as advance:
        data = service.generate_data(chosen, seed, on_step=lambda _name: advance(1))
    with progress_bar("writing rows", total=sum(data.counts().values())) as advance:
        return service.write_data(eng, data, progress=advance, actor=Actor.cli())


def print_summary(summary: service.DemoSummary, eng: Engine) -> None:
    table = Table(title=f"Demo data: scale {summary.scale}, seed {summary.seed}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(
        f"generated in {summary.generate_seconds:.1f} s, written in {summary.write_seconds:.1f} s "
        f"to {eng.url.render_as_string(hide_password=True)} (data source #{summary.source_id})"
    )


EXPORTS = (
    ("zones", "zones.xlsx"),
    ("enterprises", "enterprises.xlsx"),
    ("indicators", "indicators.csv"),
    ("institutions", "institutions.xlsx"),
    ("products", "products.xlsx"),
)


@app.command()
def run(
    scale: ScaleName = typer.Option(ScaleName.SMALL, help="Demo scale.", case_sensitive=False),
    seed: int = typer.Option(42, min=0, help="Random seed: the same seed gives the same data."),
    out: Path = typer.Option(Path("demo-out"), help="Folder for the exported files."),
) -> None:
    """Build the demo database, show what it holds, export it and re-import a file.

    Uses INNOFIN_DATABASE_URL (SQLite ./innofin.db by default); the database must be empty.
    """
    eng = setup_engine()
    try:
        section("[bold]1. Demo data")
        print_summary(generate_with_progress(eng, SCALES[scale], seed), eng)
        section("[bold]2. The registry")
        print_stats(eng, top=10)
        section("[bold]3. Export and re-import")
        _export_and_reimport(eng, out)
        section("[bold]4. Who sees what (the API's access policy)")
        _print_visibility(eng)
        top = _points_lists_and_zones(eng, SCALES[scale], out)
        _print_ledger(eng)
        from innofin.matching.commands import print_demo

        print_demo(eng, SCALES[scale].years[-1])
        from innofin.events.commands import print_demo as print_meeting

        print_meeting(eng, out)
        from innofin.monitoring.scenarios.commands import print_demo as print_scenarios

        print_scenarios(eng, seed)
        from innofin.monitoring.reports.commands import print_demo as monitoring_demo

        monitoring_demo(eng, out)
        credentials = _demo_credentials(eng)
    finally:
        eng.dispose()
    url = eng.url.render_as_string(hide_password=True)
    last = SCALES[scale].years[-1]
    section("[bold]What to look at next")
    hints = [
        *_activate_hint(),
        (f"export INNOFIN_DATABASE_URL={url}", "this database"),
        ("innofin stats", "what the registry holds"),
        ("", f"{out}/enterprises.xlsx and the other files people circulate"),
        (
            "innofin import indicators examples/年度指标.xlsx --mapping indicators-zh",
            "a zone's file: Chinese headers, amounts in 万元",
        ),
        (
            "innofin serve",
            "the web pages at http://127.0.0.1:8000/ (sign in as a demo user "
            "below), the REST API beside them, docs at /docs",
        ),
        ("innofin audit show key_list 1", "the audit trail of a record: who chose the list"),
        (f"innofin score explain {top} --year {last}", "why a firm has its points"),
        ("innofin lists history key-enterprises", "the versions of the key list"),
        ("innofin ledger history loan 1", "the story of a loan"),
        ("innofin match recommend 268", "products and lenders for a financing need, and why"),
        ("innofin monitor scenario show 1 --check", "a scenario, recomputed from its seed"),
        (
            "innofin report programme DEMO-PRG-PROVINCE --format pdf --lang en",
            "a programme's report (also xlsx, html)",
        ),
        ("innofin --help", "every command"),
    ]
    width = min(44, max(len(command) for command, _ in hints))  # as shell lines with a comment
    lines = (f"  {c:<{width}}  # {what}" if c else f"  # {what}" for c, what in hints)
    console.print("\n".join(lines), soft_wrap=True, highlight=False, markup=False)
    _print_credentials(credentials)


#: one demo user per role (and a second bank officer, the checker of the first one's lines),
#: given a password by `demo run` so the web pages can be tried at once
DEMO_LOGINS = (
    ("demo.admin", "platform administrator"),
    ("demo.officer", "national programme officer"),
    ("demo.province1", "provincial programme officer"),
    ("demo.zone1", "zone officer"),
    ("demo.bank1", "bank officer (maker)"),
    ("demo.checker1", "bank officer (checker of demo.bank1's lines)"),
    ("demo.firm1", "enterprise user"),
)


def _demo_credentials(eng: Engine) -> list[tuple[str, str, str]]:
    """A fresh random password for each of `DEMO_LOGINS` (user, role, password); the demo
    prints them once — they are this demo database's, nothing else's."""
    import secrets

    from sqlalchemy import select

    from innofin.access.passwords import hash_password
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.registry.models import User

    chosen = [(u, role, secrets.token_urlsafe(12)) for u, role in DEMO_LOGINS]
    hashed = {u: hash_password(pw, u) for u, _, pw in chosen}  # before the write transaction
    with unit_of_work(eng, actor=Actor.cli("demo credentials")) as session:
        for username, _, _ in chosen:
            found = session.scalar(select(User).where(User.username == username))
            if found is None:
                raise InnofinError(f"the demo has no user {username}")
            found.password_hash = hashed[username]
        session.flush()
    return chosen


def _print_credentials(credentials: list[tuple[str, str, str]]) -> None:
    table = Table(
        title="DEMO CREDENTIALS — for this demo database only (new passwords each demo run)",
        title_justify="left",
    )
    for column in ("user name", "role", "password"):
        table.add_column(column)
    for username, role, password in credentials:
        table.add_row(username, role, password)
    console.print(table)
    console.print(
        "  Start the pages with `innofin serve` (after the export above) and open "
        "http://127.0.0.1:8000/ ; sign in with one of these users."
    )


def _activate_hint() -> list[tuple[str, str]]:
    """How to put `innofin` on the PATH, when it runs from a virtual environment."""
    if sys.prefix == sys.base_prefix:
        return []
    venv = Path(sys.prefix)
    with contextlib.suppress(ValueError):
        venv = venv.relative_to(Path.cwd())
    return [(f". {venv / 'bin' / 'activate'}", "innofin on the PATH of this shell")]


def _points_lists_and_zones(eng: Engine, scale: Scale, out: Path) -> int:
    """Score the last two years, pick the key list, rank the pilot zones, print the tops;
    returns the id of the enterprise with the most points."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.scoring import explaining, lists, pilot
    from innofin.scoring import service as scoring

    actor = Actor.cli("demo")
    last = scale.years[-1]
    section(f"[bold]5. Innovation points (default system, {last})")
    scoring.run(eng, "default", last - 1, actor, top=0)
    run = scoring.run(eng, "default", last, actor, top=5)
    scoring_cli.print_run(run)
    sme = scoring.run(eng, "tech-sme", last, actor, top=0)
    console.print(
        f"tech-SME evaluation: {sme.qualified:,} of {sme.enterprises:,} qualify "
        f"(60 points with achievements > 0, or a direct condition)"
    )
    with unit_of_work(eng) as session:
        scoring_cli.print_explanation(
            explaining.explain(session, run.top[0].enterprise_id, last, "default"), "zh"
        )
    section(f"[bold]6. Key-enterprise list {last} (integer program, HiGHS)")
    from innofin.demo.scales import KEY_LIST, key_list_size

    count = key_list_size(scale)
    chosen = lists.select_list(eng, Path(KEY_LIST), last, actor, count=count)
    scoring_cli.print_list(chosen, show=5)
    with unit_of_work(eng) as session:
        lists.export_list(session, chosen.name, chosen.version, out / "key-enterprises.xlsx")
    console.print(f"  written to {out / 'key-enterprises.xlsx'}")
    section("[bold]7. Pilot zones for sci-tech financing service centres (TOPSIS)")
    scoring_cli.print_pilot(pilot.rank_zones(eng, last, actor, top_n=10))
    return run.top[0].enterprise_id


def _yi(amount: Decimal) -> str:
    """An amount in 亿元 (10^8 yuan), two decimals."""
    return f"{amount / 10**8:,.2f}"


def _print_ledger(eng: Engine) -> None:
    """The programme ledger the demo generated: balance, loans, NPL ratio, programmes, pools."""
    from innofin.demo import service

    found = service.ledger_summary(eng)
    section(f"[bold]8. The programme ledger (loans, repayments, defaults to {found.as_of})")
    if not found.loans:
        console.print("  no loans in the ledger")
        return
    npl = found.npl_ratio or Decimal(0)
    console.print(
        f"  {found.loans:,} loans, {found.active:,} active: outstanding "
        f"{_yi(found.outstanding)} 亿元, non-performing {_yi(found.non_performing)} 亿元 "
        f"(NPL ratio {npl:.2%}); written off {_yi(found.written_off)} 亿元, of which "
        f"{_yi(found.recovered)} recovered"
    )
    table = Table(title="programmes: credit outstanding on their lines (亿元)")
    table.add_column("programme")
    for col in ("lines", "outstanding", "balance target"):
        table.add_column(col, justify="right")
    for p in found.programmes:
        target = "" if p.balance_target is None else _yi(p.balance_target)
        table.add_row(p.name, f"{p.lines:,}", _yi(p.outstanding), target)
    console.print(table)
    table = Table(title="risk pools (亿元; covered: credit outstanding on the lines it covers)")
    table.add_column("pool", no_wrap=True)
    for col in ("contributed", "paid out", "balance", "covered", "claims paid"):
        table.add_column(col, justify="right")
    for pool in found.pools:
        table.add_row(
            pool.code, _yi(pool.contributed), _yi(pool.paid_out), _yi(pool.balance),
            _yi(pool.covered_outstanding), f"{pool.claims_paid:,}",
        )  # fmt: skip
    console.print(table)
    console.print(
        "  innofin ledger check  # every cached balance against its events", highlight=False
    )


DEMO_USERS = ("demo.admin", "demo.province1", "demo.zone1", "demo.bank1", "demo.firm1")


def _print_visibility(eng: Engine) -> None:
    from innofin.access import service as access

    table = Table(title="rows each demo user can reach through the API")
    table.add_column("user")
    table.add_column("roles")
    rows = access.visibility(eng, DEMO_USERS)
    kinds = list(rows[0][2]) if rows else []
    for kind in kinds:
        table.add_column(kind, justify="right")
    for username, roles, counts in rows:
        short = ", ".join(r.split("_")[0] for r in roles)
        table.add_row(username, short, *(f"{counts[k]:,}" for k in kinds))
    console.print(table)
    console.print(
        "  firm data = indicator details. A bank sees firms that consented or were referred to it\n"
        "  (details only with consent); a firm sees itself; a zone its own; a province its zones."
    )


def _export_and_reimport(eng: Engine, out: Path) -> None:
    from innofin.ingest import service as ingest

    out.mkdir(parents=True, exist_ok=True)
    for kind, name in EXPORTS:
        total = ingest.export_count(eng, kind)
        with progress_bar(f"export {kind}", total=total) as advance:
            exported = ingest.export_file(eng, kind, out / name, progress=advance)
        console.print(f"  {exported.rows:>9,} {kind:<13} → {exported.path}")
    first = out / "indicators.csv"
    with progress_bar("re-import indicators", total=None) as advance:
        result = ingest.import_file(eng, "indicators", first, progress=advance)
    after = ingest.export_file(eng, "indicators", out / "indicators-after-reimport.csv")
    same = _sha256(first) == _sha256(after.path)
    console.print(
        f"  re-imported {result.rows:,} indicator rows from {first.name} in {result.seconds:.1f} s"
        f" ({result.rejected} rejected); exported again: "
        + ("[green]identical[/]" if same else "[red]DIFFERENT[/]")
    )
    if not same:
        raise InnofinError(f"re-importing {first} changed the data; compare with {after.path}")
    zh = _bank_style_copy(first, out / "年度指标-万元-GBK.csv", rows=500)
    with progress_bar("import Chinese headers (GBK, 万元)", total=None) as advance:
        result = ingest.import_file(eng, "indicators", zh, mapping=Path("indicators-zh"))
    again = ingest.export_file(eng, "indicators", out / "indicators-after-zh-import.csv")
    same = _sha256(first) == _sha256(again.path)
    console.print(
        f"  imported {result.rows:,} rows of {zh.name} (encoding {result.encoding}, Chinese "
        "headers, amounts in 万元) with --mapping indicators-zh; exported again: "
        + ("[green]identical[/]" if same else "[red]DIFFERENT[/]")
    )
    if not same:
        raise InnofinError(f"importing {zh} changed the data; compare with {again.path}")


def _bank_style_copy(source: Path, target: Path, rows: int) -> Path:
    """The first `rows` of an own-format indicators file as a government office would send it:
    GBK, Chinese headers from the shipped `indicators-zh` mapping, amounts in 万元."""
    from innofin.ingest.mapping import load_mapping

    mapping = load_mapping(Path("indicators-zh"), "indicators")
    columns = {c.field: (header, c.unit) for header, c in mapping.columns.items() if c.field}
    with source.open(encoding="utf-8-sig", newline="") as src:
        reader = csv.DictReader(src)
        fields = [f for f in reader.fieldnames or () if f in columns]
        with target.open("w", encoding="gbk", newline="") as dst:
            writer = csv.writer(dst)
            writer.writerow(columns[f][0] for f in fields)
            for row in itertools.islice(reader, rows):
                writer.writerow(_in_unit(row[f], columns[f][1]) for f in fields)
    return target


def _in_unit(text: str, unit: str | None) -> str:
    from innofin.ingest.units import parse_unit

    chosen = parse_unit(unit) if unit else None
    if not text or not isinstance(chosen, AmountUnit):
        return text
    return str(Decimal(text) / chosen.factor)  # exact: a power of ten


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def register(root: typer.Typer) -> None:
    """Add the `demo` command group to the root CLI."""
    root.add_typer(app, name="demo")
