"""`innofin monitor …` on a Parquet snapshot of a hand-made ledger: the commands read it, print
its as-of time, give amounts in yuan in JSON, and refuse what is not a dimension (exit 2) or a
programme that does not exist (exit 3)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from innofin.cli import app
from innofin.monitoring.cube import write_snapshot
from monitoring_frames import D, Ledger, Loan

runner = CliRunner()


def _snapshot(tmp_path: Path) -> Path:
    ledger = Ledger(
        loans=[Loan(1, institution_id=1), Loan(2, institution_id=2, tags=("ip_pledge",))],
        events=[
            (1, "drawn", D(2024, 1, 15), 100_000, None),
            (2, "drawn", D(2024, 2, 3), 50_000, None),
            (1, "repaid", D(2024, 3, 10), 30_000, None),
        ],
    )
    folder = tmp_path / "snap"
    write_snapshot(ledger.frames(), folder)
    return folder


def test_monitor_commands_read_a_snapshot(tmp_path: Path) -> None:
    folder = str(_snapshot(tmp_path))
    result = runner.invoke(
        app, ["monitor", "slice", "--by", "institution_id", "--snapshot", folder, "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["as_of"].startswith("2025-01-05") and body["unit"] == "yuan"
    got = {r["institution_id"]: r["outstanding"] for r in body["rows"]}
    assert got == {1: "700.00", 2: "500.00"}  # 1,000 − 300 and 500 yuan in March
    result = runner.invoke(app, ["monitor", "growth", "--months", "2", "--snapshot", folder])
    assert result.exit_code == 0, result.output
    assert "as of 2025-01-05" in result.output
    for command in ("pools", "quota", "coverage"):
        result = runner.invoke(app, ["monitor", command, "--snapshot", folder])
        assert result.exit_code == 0, (command, result.output)


def test_monitor_refuses_unknown_dimensions_and_programmes(tmp_path: Path) -> None:
    folder = str(_snapshot(tmp_path))
    result = runner.invoke(app, ["monitor", "slice", "--by", "bank", "--snapshot", folder])
    assert result.exit_code == 2
    result = runner.invoke(app, ["monitor", "targets", "--programme", "NOPE", "--snapshot", folder])
    assert result.exit_code == 3
    result = runner.invoke(app, ["monitor", "slice", "--snapshot", str(tmp_path / "none")])
    assert result.exit_code == 3
