"""`innofin stats`: what the registry holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from innofin.cli_support import UNIT, console, engine, table
from innofin.kernel.money import AmountUnit, parse_unit_option

if TYPE_CHECKING:
    from sqlalchemy import Engine


def stats(
    top: int = typer.Option(10, help="How many zones to list, largest first."),
    unit: str | None = UNIT,
) -> None:
    """Counts per table, enterprises per zone and per key high-tech field."""
    chosen = parse_unit_option(unit)
    eng = engine()
    try:
        print_stats(eng, top, chosen)
    finally:
        eng.dispose()


def print_stats(eng: Engine, top: int, unit: AmountUnit | None = None) -> None:
    """Print the registry's tables, largest zones and per-field totals."""
    from innofin.registry import service

    result = service.stats(eng, top_zones=top)
    tables = Table(title="Rows per table")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    for name, count in result.tables.items():
        tables.add_row(name, f"{count:,}")
    zones = Table(title=f"Largest {top} zones by enterprises")
    for col in ("zone", "name", "enterprises"):
        zones.add_column(col, justify="right" if col == "enterprises" else "left")
    for code, name, count in result.by_zone:
        zones.add_row(code, name, f"{count:,}")
    year = result.year if result.year is not None else "-"
    fields = table(
        f"Per key high-tech field (revenue and R&D expense in {year})",
        ("field", "enterprises", "revenue", "R&D expense", "R&D / revenue"),
        [
            (
                row.name_zh,
                f"{row.enterprises:,}",
                row.revenue,
                row.rd_expense,
                f"{row.rd_expense / row.revenue:.1%}" if row.revenue else "-",
            )
            for row in result.by_field
        ],
        money=("revenue", "R&D expense"),
        unit=unit,
    )
    console.print(tables, zones, fields)


def register(root: typer.Typer) -> None:
    root.command("stats")(stats)
