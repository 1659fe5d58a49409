"""`innofin demo …`: fill a database with realistic synthetic data."""

from __future__ import annotations

import typer
from rich.table import Table

from innofin.cli_support import console, engine, progress_bar
from innofin.db import migrate
from innofin.demo import service
from innofin.demo.engine import SCALES, ScaleName

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

    The database is migrated first if it is empty; it must not already hold demo data.
    """
    eng = engine()
    try:
        if migrate.current(eng) is None:
            migrate.upgrade(eng)
        chosen = SCALES[scale]
        steps = service.STEPS
        with progress_bar(f"generating {chosen.name} (seed {seed})", total=len(steps)) as advance:
            data = service.generate_data(chosen, seed, on_step=lambda _name: advance(1))
        with progress_bar("writing rows", total=sum(data.counts().values())) as advance:
            summary = service.write_data(eng, data, progress=advance)
    finally:
        eng.dispose()
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


def register(root: typer.Typer) -> None:
    """Add the `demo` command group to the root CLI."""
    root.add_typer(app, name="demo")
