"""The `innofin` command as a user runs it: help everywhere, exit codes, db commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from innofin.cli import app

runner = CliRunner()


def _all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: TyperCommand | TyperGroup, prefix: list[str]) -> None:
        paths.append(prefix)
        if isinstance(cmd, TyperGroup):
            for name, sub in cmd.commands.items():
                walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "innofin")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    # Each command says what it does, not just its options.
    assert len(result.output.split("Options")[0].strip().splitlines()) >= 2


def _innofin(
    args: list[str], db: Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INNOFIN_DATABASE_URL": f"sqlite:///{db}"}
    # output to a pipe is never wrapped unless COLUMNS says otherwise: a COLUMNS inherited from
    # wherever the suite runs would wrap the demo's tables and split the phrases looked for
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


@pytest.mark.slow
def test_db_upgrade_current_and_stats(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    before = _innofin(["db", "current"], db)
    assert before.returncode == 0 and "empty" in before.stdout
    up = _innofin(["db", "upgrade"], db)
    assert up.returncode == 0, up.stderr
    after = _innofin(["db", "current"], db)
    assert "(latest)" in after.stdout
    stats = _innofin(["stats"], db)
    assert stats.returncode == 0
    assert "tech_field" in stats.stdout and "电子信息" in stats.stdout


def test_usage_error_exits_2_without_traceback(tmp_path: Path) -> None:
    result = _innofin(["db", "upgrade", "--no-such-option"], tmp_path / "x.db")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_run_is_what_make_demo_shows(tmp_path: Path) -> None:
    run = ["demo", "run", "--out", str(tmp_path / "out")]
    result = _innofin(run, tmp_path / "demo.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # Rich wraps long lines
    assert "3,000" in out and "示例" in out  # the small scale, labelled synthetic
    assert out.count("exported again: identical") == 2
    assert "What to look at next" in out
    # matching: a need referred, declined with a reason and re-matched; an allocation run
    assert "declines: risk" in out and "re-match" in out
    assert "allocation run 1: HiGHS" in out and "first-come-first-served" in out
    # monitoring: institution scorecards and three scenario runs of one seed, with their band
    assert "Institution scorecards" in out and "band 5%–95%, seed 42" in out
    assert "run 1: baseline" in out and "run 3: quota and key list +50%" in out
    # monitoring: the programmes' targets with forecasts and odds, one report in each format
    assert "Programme monitoring" in out and "probability" in out
    for fmt in ("xlsx", "pdf", "html"):
        (report,) = (tmp_path / "out").glob(f"report-DEMO-PRG-NATIONAL-*.{fmt}")
        assert report.name in out and report.stat().st_size > 10_000
    for name in ("enterprises.xlsx", "indicators.csv", "年度指标-万元-GBK.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    # a matchmaking meeting planned beside greedy, with what could not be placed, and an agenda
    assert "Timetable 对接日程" in out and "Requests not placed" in out
    assert "agenda of enterprise" in out
    from icalendar import Calendar

    (ics,) = (tmp_path / "out").glob("agenda-DEMO-MEETING-enterprise-*-zh.ics")
    assert Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    again = _innofin(run, tmp_path / "demo.db", cwd=tmp_path)
    assert again.returncode == 4 and "Traceback" not in again.stderr  # one demo per database


def test_version(tmp_path: Path) -> None:
    from innofin import __version__

    result = _innofin(["--version"], tmp_path / "v.db")
    assert result.returncode == 0 and result.stdout.strip() == __version__
