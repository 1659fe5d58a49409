"""A hand-made programme report (the model only, no database) for the renderers' tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from innofin.monitoring.reports.model import (
    Chart,
    Column,
    Fact,
    Kind,
    Line,
    Msg,
    Report,
    Section,
    Table,
)

MONTHS = tuple(f"2025-{m:02d}" for m in range(1, 13)) + tuple(f"2026-{m:02d}" for m in range(1, 7))
#: balances of 12 months, then 6 months of forecast (mean, lower, upper)
BALANCES = tuple(Decimal(1_000_000_000 + 80_000_000 * i) for i in range(12))
MEAN = tuple(Decimal(1_960_000_000 + 80_000_000 * i) for i in range(6))
LOWER = tuple(m - Decimal(30_000_000 * (i + 1)) for i, m in enumerate(MEAN))
UPPER = tuple(m + Decimal(30_000_000 * (i + 1)) for i, m in enumerate(MEAN))
NONE12: tuple[None, ...] = (None,) * 12
#: zone → (balance, new lending, YoY growth)
ZONES = (
    ("苏州工业园区", Decimal("1234567890.12"), Decimal("345678901.23"), 0.187),
    ("南京高新区", Decimal("765432109.88"), Decimal("123456789.00"), 0.2737),
    ("无锡高新区", None, None, None),  # hidden under the disclosure rule
)


def sample_report() -> Report:
    balance = Chart(
        "balance",
        "Balance against target",
        MONTHS,
        (
            Line("Balance", BALANCES + (None,) * 6),
            Line("Forecast", NONE12 + MEAN, "dashed"),
            Line("Lower bound", NONE12 + LOWER, "lower"),
            Line("Upper bound", NONE12 + UPPER, "upper"),
            Line("Target", (Decimal(2_500_000_000),) * 18, "dashed"),
        ),
    )
    zones = Table(
        "zones",
        "Balance by zone",
        (
            Column("Zone"),
            Column("Balance", Kind.AMOUNT),
            Column("New lending", Kind.AMOUNT),
            Column("Year on year", Kind.RATIO),
        ),
        tuple(
            (name, bal, new, None if g is None else Decimal(str(g))) for name, bal, new, g in ZONES
        ),
        note="Blank cells are hidden under the disclosure rule.",
    )
    npl = Table(
        "npl",
        "Non-performing loans",
        (Column("Loan class"), Column("Balance", Kind.AMOUNT), Column("Loans", Kind.COUNT)),
        (
            (Msg("Pass"), Decimal("1900000000.00"), 812),
            (Msg("Substandard"), Decimal("12500000.50"), 7),
            (Msg("Loss"), Decimal("3000000.00"), 2),
        ),
    )
    return Report(
        programme_code="JS-2025",
        programme_name="江苏科技金融专项",
        as_of=dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.UTC),
        period_end=dt.date(2025, 12, 31),
        generated_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        facts=(
            Fact("Balance", BALANCES[-1], Kind.AMOUNT),
            Fact("Target", Decimal(2_500_000_000), Kind.AMOUNT),
            Fact("Progress", Decimal("0.7520"), Kind.RATIO),
            Fact("Probability of reaching the target", Decimal("0.83"), Kind.RATIO),
            Fact("Loans", 821, Kind.COUNT),
        ),
        sections=(
            Section("balance", "Balance against target", charts=(balance,)),
            Section("zones", "Balance by zone", tables=(zones,)),
            Section("npl", "Non-performing loans", tables=(npl,)),
        ),
    )
