"""`innofin monitor …` on a Parquet snapshot of a hand-made ledger: the commands read it, print
its as-of time, give amounts in yuan in JSON, and refuse what is not a dimension (exit 2) or a
programme that does not exist (exit 3); `monitor snapshot --prepare` keeps the programmes' report
figures beside the snapshot, and a report on it reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ledger_world as lw
from innofin.cli import app
from innofin.db import make_engine
from innofin.db.migrate import upgrade
from innofin.monitoring.cube.service import write_snapshot
from innofin.monitoring.cube.store import DERIVED
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


def test_a_prepared_snapshot_keeps_its_programmes_report_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "ledger.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    w = lw.build(eng)
    lw.draw(w, lw.line(w, "L-1"), "300000.00", "LN-1")
    eng.dispose()
    monkeypatch.setenv("INNOFIN_DATABASE_URL", f"sqlite:///{db}")
    folder = tmp_path / "snap"
    result = runner.invoke(app, ["monitor", "snapshot", str(folder), "--prepare"])
    assert result.exit_code == 0, result.output
    assert "report figures of 1 programme(s) kept" in result.output
    (kept,) = (folder / DERIVED).iterdir()
    names = [p.name for p in kept.iterdir()]
    assert "span.json" in names and any(n.startswith("balances-") for n in names)
    assert any(n.startswith("commitment_use-") for n in names)
    # a report on the snapshot reads them
    out = tmp_path / "r.xlsx"
    result = runner.invoke(
        app, ["report", "programme", "PRG-1", "--snapshot", str(folder), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    assert {p.name for p in (folder / DERIVED).iterdir()} == {kept.name}
