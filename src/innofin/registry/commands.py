"""`innofin stats`: what the registry holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from innofin.cli_support import console, engine
from innofin.kernel.money import AmountUnit, format_amount

if TYPE_CHECKING:
    from sqlalchemy import Engine


def stats(
    top: int = typer.Option(10, help="How many zones to list, largest first."),
) -> None:
    """Counts per table, enterprises per zone and per key high-tech field."""
    eng = engine()
    try:
        print_stats(eng, top)
    finally:
        eng.dispose()


def print_stats(eng: Engine, top: int) -> None:
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
    fields = Table(title=f"Per key high-tech field (revenue and R&D expense in {year})")
    for col in ("field", "enterprises", "revenue", "R&D expense", "R&D / revenue"):
        fields.add_column(col, justify="left" if col == "field" else "right")
    for row in result.by_field:
        share = f"{row.rd_expense / row.revenue:.1%}" if row.revenue else "-"
        fields.add_row(
            row.name_zh,
            f"{row.enterprises:,}",
            format_amount(row.revenue, AmountUnit.YI),
            format_amount(row.rd_expense, AmountUnit.YI),
            share,
        )
    console.print(tables, zones, fields)


def register(root: typer.Typer) -> None:
    root.command("stats")(stats)
