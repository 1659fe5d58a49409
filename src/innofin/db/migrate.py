"""Alembic, driven from code: one migration history for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine

from innofin.kernel.errors import InvalidInput, NotMigrated

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    try:
        command.upgrade(alembic_config(engine), revision)
    except CommandError as exc:  # an unknown or ambiguous revision
        known = ", ".join(s.revision for s in ScriptDirectory(str(MIGRATIONS)).walk_revisions())
        raise InvalidInput(
            f"cannot upgrade to {revision!r}: {exc} (revisions: {known}, or head)",
            field="revision",
        ) from None


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def require_latest(engine: Engine) -> None:
    """Refuse (`NotMigrated`, exit 2) a database whose schema is not the latest migration."""
    found, latest = current(engine), head()
    if found == latest:
        return
    where = engine.url.render_as_string(hide_password=True)
    if found is None:
        raise NotMigrated(
            f"the database {where} has no schema yet: run `innofin db upgrade` first "
            "(or `innofin demo run` for a demo database)",
            field="INNOFIN_DATABASE_URL",
        )
    raise NotMigrated(
        f"the database {where} is at revision {found}, this version of innofin needs {latest}: "
        "run `innofin db upgrade` first",
        field="INNOFIN_DATABASE_URL",
    )
