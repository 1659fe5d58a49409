"""`innofin score`, `lists` and `zones` as a user runs them: output, files, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

pytestmark = pytest.mark.slow  # the CLI as processes, on a demo database


def _innofin(
    args: list[str], db: Path, cwd: Path, columns: str | None = "200"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INNOFIN_DATABASE_URL": f"sqlite:///{db}"}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scoring-cli")
    db = folder / "demo.db"
    done = _innofin(["demo", "generate", "--scale", "small", "--seed", "3"], db, folder)
    assert done.returncode == 0, done.stderr
    return db


def test_score_run_explain_and_json(demo_db: Path, tmp_path: Path) -> None:
    run = _innofin(["score", "run", "--year", "2024", "--top", "3"], demo_db, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "3,000 enterprises" in run.stdout and "top 3" in run.stdout
    leader = int(run.stdout.split("│ 1 │")[1].split("│")[0])
    shown = _innofin(
        ["score", "explain", str(leader), "--year", "2024", "--json"], demo_db, tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    x = json.loads(shown.stdout)
    assert x["enterprise_id"] == leader and x["ranks"]["national"] == 1
    assert len(x["items"]) == 23 and len(x["improvements"]) <= 3
    text = _innofin(
        ["score", "explain", str(leader), "--year", "2024", "--lang", "en"], demo_db, tmp_path
    )
    assert "R&D expense share of revenue" in text.stdout
    missing = _innofin(["score", "explain", "99999999", "--year", "2024"], demo_db, tmp_path)
    assert missing.returncode == 3 and "not in scoring run" in missing.stderr
    no_year = _innofin(["score", "run", "--year", "2031"], demo_db, tmp_path)
    assert no_year.returncode == 2 and "no indicator reports for 2031" in no_year.stderr


def test_lists_select_export_history_and_infeasible(demo_db: Path, tmp_path: Path) -> None:
    assert (
        _innofin(["score", "run", "--year", "2024", "--top", "0"], demo_db, tmp_path).returncode
        == 0
    )
    chosen = _innofin(
        ["lists", "select", "--year", "2024", "--count", "60", "--show", "2"], demo_db, tmp_path
    )
    assert chosen.returncode == 0, chosen.stderr
    assert "60 chosen" in chosen.stdout and "optimal" in chosen.stdout
    out = tmp_path / "list.xlsx"
    exported = _innofin(["lists", "export", "key-enterprises", str(out)], demo_db, tmp_path)
    assert exported.returncode == 0, exported.stderr
    book = load_workbook(out, read_only=True)
    assert len(list(book.worksheets[0].iter_rows(values_only=True))) == 61
    history = _innofin(["lists", "history", "key-enterprises"], demo_db, tmp_path)
    assert history.returncode == 0 and "optimal" in history.stdout
    rules = tmp_path / "tight.yaml"
    rules.write_text("name: tight\ncount: 100\nzone: {max: 2}\n", encoding="utf-8")
    refused = _innofin(
        ["lists", "select", "--year", "2024", "--rules", str(rules)], demo_db, tmp_path
    )
    assert refused.returncode == 2
    assert "infeasible" in refused.stderr and "zone" in refused.stderr


def test_score_check_names_the_line_and_zones_rank(demo_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\nversion: '1'\nnames: {zh: 坏, en: bad}\nscale: 10\n"
        "groups: [{id: g, names: {zh: 组, en: group}}]\nindicators:\n"
        "  - id: a\n    names: {zh: 甲, en: a}\n    group: g\n    expr: revenue / / 2\n"
        "    normalise: {method: percentile}\n    weights: 10\n",
        encoding="utf-8",
    )
    checked = _innofin(["score", "check", str(bad)], demo_db, tmp_path)
    assert checked.returncode == 2
    assert "line 10" in checked.stderr and "cannot read" in checked.stderr
    assert (
        _innofin(["score", "run", "--year", "2024", "--top", "0"], demo_db, tmp_path).returncode
        == 0
    )
    ranked = _innofin(["zones", "rank", "--year", "2024", "--top", "5"], demo_db, tmp_path)
    assert ranked.returncode == 0, ranked.stderr
    assert "pilot zones 2024" in ranked.stdout and "±20%" in ranked.stdout
    wrong = _innofin(
        ["zones", "rank", "--year", "2024", "--weight", "nonsense=1"], demo_db, tmp_path
    )
    assert wrong.returncode == 2 and "unknown criterion" in wrong.stderr


def test_piped_output_is_whole_lines_without_the_solvers_banner(
    demo_db: Path, tmp_path: Path
) -> None:
    assert (
        _innofin(["score", "run", "--year", "2024", "--top", "0"], demo_db, tmp_path).returncode
        == 0
    )
    chosen = _innofin(
        ["lists", "select", "--year", "2024", "--count", "30", "--show", "1"],
        demo_db,
        tmp_path,
        columns=None,
    )
    assert chosen.returncode == 0, chosen.stderr
    assert "Running HiGHS" not in chosen.stdout and "Copyright" not in chosen.stdout
    # not wrapped at 80 columns: the summary is one line
    summary = next(line for line in chosen.stdout.splitlines() if "30 chosen" in line)
    assert "objective" in summary and "entered" in summary and len(summary) > 80
    ranked = _innofin(
        ["zones", "rank", "--year", "2024", "--top", "3", "--weight", "gdp=0.2"],
        demo_db,
        tmp_path,
        columns=None,
    )
    assert ranked.returncode == 0, ranked.stderr
    note = [line for line in ranked.stdout.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "add up to 1.10" in note[0], ranked.stdout
    assert "gdp 0.20 → 0.18" in note[0] and "tax 0.10 → 0.09" in note[0]
    plain = _innofin(["zones", "rank", "--year", "2024", "--top", "3"], demo_db, tmp_path)
    assert plain.returncode == 0 and "note:" not in plain.stdout  # the defaults add up to 1


def test_explain_in_chinese_shows_money_in_one_unit_and_no_exponent(
    demo_db: Path, tmp_path: Path
) -> None:
    run = _innofin(["score", "run", "--year", "2024", "--top", "1"], demo_db, tmp_path)
    assert run.returncode == 0, run.stderr
    leader = run.stdout.split("│ 1 │")[1].split("│")[0].strip()
    zh = _innofin(["score", "explain", leader, "--year", "2024", "--lang", "zh"], demo_db, tmp_path)
    assert zh.returncode == 0, zh.stderr
    for header in ("指标", "分组", "数值", "得分", "权重", "积分", "对标组"):
        assert header in zh.stdout
    assert not re.search(r"\de[+-]\d", zh.stdout), zh.stdout  # never 1.843e+07
    rows = [line for line in zh.stdout.split("积分构成")[1].splitlines() if "│" in line]
    money = re.findall(r"\d(元|万元|亿元)", "\n".join(rows))
    assert money and len(set(money)) == 1, money  # the amounts of the column share one unit
    en = _innofin(["score", "explain", leader, "--year", "2024", "--lang", "en"], demo_db, tmp_path)
    assert "indicator" in en.stdout and "指标" not in en.stdout
    bad = _innofin(
        ["score", "explain", leader, "--year", "2024", "--lang", "fr"], demo_db, tmp_path
    )
    assert bad.returncode == 2 and "--lang" in bad.stderr
