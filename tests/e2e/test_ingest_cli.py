"""`innofin import` / `innofin export` through Typer: exit codes, messages, help."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from ingest_helpers import BAD_USCC, USCC, counts, every_table, seed_enterprises, write_csv
from innofin.ingest import commands
from innofin.ingest.commands import register


@pytest.fixture
def cli(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """A root command with only import/export, on the test database."""
    monkeypatch.setenv("INNOFIN_DATABASE_URL", sqlite_engine.url.render_as_string(False))
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """innofin (test)."""

    register(app)
    return app


runner = CliRunner()


@pytest.fixture
def cli_on(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The same root command on the `engine` fixture's database (SQLite, and PostgreSQL when
    tests have one)."""
    monkeypatch.setattr(commands, "engine", lambda: engine)
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """innofin (test)."""

    register(app)
    return app


def test_import_succeeds_with_exit_code_0(
    cli: typer.Typer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    seed_enterprises(sqlite_engine, 1)
    path = write_csv(tmp_path / "d.csv", [["identifier", "year", "revenue"], [USCC[0], 2023, 1]])
    result = runner.invoke(cli, ["import", "indicators", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 1 indicators rows from d.csv" in result.output
    assert counts(sqlite_engine)["indicator_report"] == 1


def test_rejected_rows_exit_2_and_write_nothing(
    cli: typer.Typer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    seed_enterprises(sqlite_engine, 1)
    path = write_csv(
        tmp_path / "d.csv", [["identifier", "year"], [USCC[0], 2023], [BAD_USCC, 2023]]
    )
    result = runner.invoke(cli, ["import", "indicators", str(path)])
    assert result.exit_code == 2
    assert "1 of 2 rows rejected, nothing imported" in result.output
    assert "bad check character" in result.output  # the preview of the rejects
    assert counts(sqlite_engine)["indicator_report"] == 0
    assert (tmp_path / "d.rejects.csv").is_file()


def test_skip_invalid_exits_0_and_counts_the_rejects(
    cli: typer.Typer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    seed_enterprises(sqlite_engine, 1)
    path = write_csv(
        tmp_path / "d.csv", [["identifier", "year"], [USCC[0], 2023], [BAD_USCC, 2023]]
    )
    rejects = tmp_path / "r.csv"
    result = runner.invoke(
        cli, ["import", "indicators", str(path), "--skip-invalid", "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    assert "1 rows rejected" in result.output
    assert counts(sqlite_engine)["indicator_report"] == 1
    assert rejects.is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["import", "indicators", "missing.csv"], "missing.csv: no such file"),
        (["import", "indicators", "{empty}"], "is empty"),
        (["import", "indicators", "{gbk}", "--encoding", "utf-8"], "is not valid utf-8-sig text"),
        (["import", "indicators", "{gbk}", "--mapping", "nothing.yaml"], "cannot read mapping"),
        (["export", "zones", "{dir}/zones.txt"], "export writes .csv or .xlsx"),
    ],
)
def test_file_errors_are_one_line_with_exit_code_2(
    cli: typer.Typer, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    write_csv(tmp_path / "gbk.csv", [["统一社会信用代码", "年度"], [USCC[0], 2023]], "gbk")
    names = {"empty": tmp_path / "empty.csv", "gbk": tmp_path / "gbk.csv", "dir": tmp_path}
    argv = [a.format(**names) for a in args]
    result = runner.invoke(cli, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1


def test_export_writes_the_file(cli: typer.Typer, sqlite_engine: Engine, tmp_path: Path) -> None:
    seed_enterprises(sqlite_engine, 2)
    result = runner.invoke(cli, ["export", "enterprises", str(tmp_path / "e.xlsx")])
    assert result.exit_code == 0, result.output
    assert "exported 2 enterprises rows" in result.output
    assert (tmp_path / "e.xlsx").stat().st_size > 0


def test_unknown_kind_is_a_usage_error(cli: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["import", "loans", str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "loans" in result.output


@pytest.mark.parametrize("command", ["import", "export"])
def test_help_describes_every_argument(cli: typer.Typer, command: str) -> None:
    result = runner.invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    for word in ("KIND", "FILE", "zone-stats"):
        assert word in result.output
    if command == "import":
        for option in ("--mapping", "--encoding", "--skip-invalid", "--rejects"):
            assert option in result.output


@pytest.mark.parametrize("encoding", ["rot13", "base64", "zlib", "hex", "uu", "punycode"])
def test_an_encoding_that_is_not_a_character_set_exits_2_naming_it(
    cli: typer.Typer, tmp_path: Path, encoding: str
) -> None:
    path = write_csv(tmp_path / "d.csv", [["identifier", "year"], [USCC[0], 2023]])
    result = runner.invoke(cli, ["import", "indicators", str(path), "--encoding", encoding])
    assert result.exit_code == 2, result.output
    assert f"encoding '{encoding}' is not a character set of text files" in result.output
    assert "Traceback" not in result.output


def test_an_extra_column_names_the_option_that_ignores_it(
    cli: typer.Typer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "z.csv",
        [
            ["code", "name_zh", "province", "city", "level", "备注"],
            ["Z9", "园区", "江苏", "苏州", "national", "x"],
        ],
    )
    refused = runner.invoke(cli, ["import", "zones", str(path)])
    assert refused.exit_code == 2
    assert "column '备注' is not in the mapping" in refused.output
    assert "--ignore-extra" in refused.output
    assert counts(sqlite_engine)["zone"] == 0
    taken = runner.invoke(cli, ["import", "zones", str(path), "--ignore-extra"])
    assert taken.exit_code == 0, taken.output
    assert counts(sqlite_engine)["zone"] == 1


def test_excel_unicode_text_imports(
    cli: typer.Typer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    """Excel's "Save as Unicode text": UTF-16LE with a BOM, TAB separators, CRLF."""
    seed_enterprises(sqlite_engine, 1)
    path = tmp_path / "d.txt.csv"
    path.write_bytes(
        f"identifier\tyear\trevenue\r\n{USCC[0]}\t2023\t１２５００００\r\n".encode("utf-16")
    )
    result = runner.invoke(cli, ["import", "indicators", str(path)])
    assert result.exit_code == 0, result.output
    assert counts(sqlite_engine)["indicator_report"] == 1


def test_check_of_a_valid_file_exits_0_says_how_many_rows_and_writes_nothing(
    cli_on: typer.Typer, engine: Engine, tmp_path: Path
) -> None:
    seed_enterprises(engine, 3)
    rows = [["identifier", "year", "revenue"], *[[USCC[i], 2023, i + 1] for i in range(3)]]
    path = write_csv(tmp_path / "d.csv", rows)
    before = every_table(engine)
    checked = runner.invoke(cli_on, ["import", "indicators", str(path), "--check"])
    assert checked.exit_code == 0, checked.output
    assert "checked d.csv: 3 indicators rows would be imported" in checked.output
    assert "nothing was written" in checked.output
    assert every_table(engine) == before
    done = runner.invoke(cli_on, ["import", "indicators", str(path)])
    assert done.exit_code == 0, done.output
    assert "imported 3 indicators rows from d.csv" in done.output
    assert every_table(engine)["indicator_report"] == before["indicator_report"] + 3


def test_check_of_rejected_rows_exits_2_with_the_imports_report_and_writes_nothing(
    cli_on: typer.Typer, engine: Engine, tmp_path: Path
) -> None:
    seed_enterprises(engine, 2)
    rows = [
        ["identifier", "year", "revenue"],
        [USCC[0], 2023, 1],
        [BAD_USCC, 2023, 2],
        [USCC[5], 2023, 3],  # no such enterprise
        [USCC[1], 2023, -4],
    ]
    path = write_csv(tmp_path / "d.csv", rows)
    before = every_table(engine)
    argv = ["import", "indicators", str(path), "--rejects"]
    checked = runner.invoke(cli_on, [*argv, str(tmp_path / "checked.csv"), "--check"])
    assert checked.exit_code == 2, checked.output
    assert "3 of 4 rows rejected, nothing imported" in checked.output
    assert every_table(engine) == before
    imported = runner.invoke(cli_on, [*argv, str(tmp_path / "imported.csv")])
    assert imported.exit_code == 2, imported.output
    assert every_table(engine) == before
    # the same rows named, for the same reasons, in the report and on the screen
    report = (tmp_path / "checked.csv").read_text(encoding="utf-8-sig")
    assert report == (tmp_path / "imported.csv").read_text(encoding="utf-8-sig")
    assert report.count("\n") == 4  # the header and the three rejected rows
    shown = [line for line in checked.output.splitlines() if line.startswith("  row ")]
    assert len(shown) == 3
    assert shown == [line for line in imported.output.splitlines() if line.startswith("  row ")]
    # --skip-invalid: the check passes (exit 0) and says what would be left out
    kept = runner.invoke(cli_on, [*argv, str(tmp_path / "k.csv"), "--check", "--skip-invalid"])
    assert kept.exit_code == 0, kept.output
    assert "1 indicators rows would be imported" in kept.output
    assert "3 rows would be rejected" in kept.output
    assert every_table(engine) == before


def test_help_documents_the_check_and_its_exit_codes(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["import", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--check" in text and "roll it back" in text
    assert "Exit codes: 0" in text and "2 when rows are rejected" in text
