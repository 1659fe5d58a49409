"""A user's mistakes get a message and the right exit code, never a traceback: a database that
was never migrated, a database URL that cannot work, a missing file, a port in use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from innofin.cli import InnofinGroup, explain_failure
from innofin.db.engine import database_url
from innofin.kernel.errors import NotFound


def _innofin(args: list[str], url: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "innofin", *args],
        env={**os.environ, "INNOFIN_DATABASE_URL": url, **env},
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def _refused(done: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.startswith("error: ")
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.mark.slow  # runs innofin as a process
@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["audit", "show", "enterprise", "1"],
        ["user", "list"],
        ["score", "run", "--year", "2024"],
        ["ledger", "check"],
        ["ledger", "programme", "list"],
        ["lists", "history", "key-enterprises"],
        ["export", "zones", "zones.csv"],
    ],
    ids=" ".join,
)
def test_a_database_never_migrated_is_refused_and_not_created(
    args: list[str], tmp_path: Path
) -> None:
    db = tmp_path / "innofin.db"
    done = _innofin(args, f"sqlite:///{db}", tmp_path)
    _refused(done, 2, "innofin db upgrade")
    assert not db.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow  # runs innofin as a process
def test_an_empty_or_older_database_is_refused_until_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "innofin.db"
    url = f"sqlite:///{db}"
    db.touch()  # e.g. left behind by an older innofin
    _refused(_innofin(["stats"], url, tmp_path), 2, "has no schema yet", "innofin db upgrade")
    _refused(_innofin(["db", "upgrade", "3"], url, tmp_path), 2, "'3'", "0003")
    assert _innofin(["db", "upgrade", "0003"], url, tmp_path).returncode == 0
    _refused(_innofin(["stats"], url, tmp_path), 2, "at revision 0003", "innofin db upgrade")
    assert _innofin(["db", "upgrade"], url, tmp_path).returncode == 0
    assert _innofin(["stats"], url, tmp_path).returncode == 0


@pytest.mark.slow  # runs innofin as a process
def test_db_current_on_no_database_creates_nothing(tmp_path: Path) -> None:
    done = _innofin(["db", "current"], f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    assert done.returncode == 0 and "empty (run: innofin db upgrade)" in done.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # runs innofin as a process
def test_a_database_in_a_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'innofin.db'}"
    _refused(_innofin(["db", "upgrade"], url, tmp_path), 2, "does not exist", "no/such")
    _refused(_innofin(["stats"], url, tmp_path), 2, "does not exist")
    _refused(_innofin(["demo", "generate"], url, tmp_path), 2, "does not exist")


def test_postgres_urls_mean_psycopg() -> None:
    for written in ("postgres://u:p@h:5433/db", "postgresql://u:p@h:5433/db"):
        url = database_url(written)
        assert (url.drivername, url.host, url.port, url.database) == (
            "postgresql+psycopg",
            "h",
            5433,
            "db",
        )
    assert database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


@pytest.mark.slow  # runs innofin as a process
def test_a_postgres_url_is_accepted_and_an_unreachable_server_named(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _innofin(["stats"], f"postgres://nobody@127.0.0.1:{port}/none", tmp_path)
    _refused(done, 1, "could not be reached", "INNOFIN_DEBUG")


@pytest.mark.slow  # runs innofin as a process
@pytest.mark.skipif(
    not os.environ.get("INNOFIN_TEST_DATABASE_URL"), reason="needs the PostgreSQL test server"
)
def test_a_postgres_url_works(tmp_path: Path) -> None:
    url = os.environ["INNOFIN_TEST_DATABASE_URL"].replace("postgresql+psycopg://", "postgres://")
    done = _innofin(["db", "current"], url, tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow  # runs innofin as a process
@pytest.mark.parametrize("url", ["mysql://u@h/db", "nonsense", "innofin.db"])
def test_a_url_innofin_cannot_use(url: str, tmp_path: Path) -> None:
    _refused(_innofin(["db", "upgrade"], url, tmp_path), 2, "sqlite:///", "postgresql+psycopg://")


@pytest.mark.slow  # runs innofin as a process
def test_score_check_on_a_missing_file(tmp_path: Path) -> None:
    done = _innofin(["score", "check", "nope.yaml"], "sqlite:///x.db", tmp_path)
    _refused(done, 2, "nope.yaml", "No such file")


@pytest.mark.slow  # runs innofin as a process
def test_serve_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _innofin(
            ["serve", "--port", str(port), "--workers", "1"],
            f"sqlite:///{tmp_path / 'api.db'}",
            tmp_path,
        )
    _refused(done, 4, f"port {port}", "--port")
    assert "innofin pages on" not in done.stdout
    assert not (tmp_path / "api.db").exists()  # refused before anything was set up


def _failing_app(error: Exception) -> typer.Typer:
    app = typer.Typer(cls=InnofinGroup)

    @app.callback()
    def root() -> None:
        """A root."""

    @app.command()
    def fail() -> None:
        """Fail."""
        raise error

    return app


def test_an_unexpected_error_is_one_line_and_a_traceback_only_when_debugging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner = CliRunner()
    app = _failing_app(RuntimeError("boom"))
    monkeypatch.delenv("INNOFIN_DEBUG", raising=False)
    result = runner.invoke(app, ["fail"])
    assert result.exit_code == 1
    assert "unexpected RuntimeError: boom" in result.output and "INNOFIN_DEBUG=1" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("INNOFIN_DEBUG", "1")
    debugging = runner.invoke(app, ["fail"])
    assert isinstance(debugging.exception, RuntimeError)  # Typer's runner holds the traceback
    known = runner.invoke(_failing_app(NotFound("no loan 7")), ["fail"])
    assert known.exit_code == 3 and "error: no loan 7" in known.output


def test_what_each_failure_says() -> None:
    missing = FileNotFoundError(2, "No such file or directory", "a.yaml")
    assert explain_failure(missing) == ("a.yaml: No such file or directory", 2)
    assert explain_failure(NotFound("x")) == ("x", 3)
    message, code = explain_failure(ValueError("odd"))
    assert code == 1 and message.startswith("unexpected ValueError: odd")
