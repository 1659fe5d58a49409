"""`innofin db …`: migrations and the production database roles."""

from __future__ import annotations

import typer

from innofin.cli_support import console, setup_engine

app = typer.Typer(
    help="Database schema: upgrade to the latest migration, show the current one; the roles."
)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from innofin.db import migrate

    eng = setup_engine()
    try:
        migrate.upgrade(eng, revision)
        console.print(
            f"database {eng.url.render_as_string(hide_password=True)} at {migrate.current(eng)}"
        )
    finally:
        eng.dispose()


@app.command()
def current() -> None:
    """Print the revision the database is at (and whether it is the latest)."""
    from innofin.db import migrate
    from innofin.db.engine import database_url, sqlite_file
    from innofin.kernel.settings import Settings

    path = sqlite_file(database_url(Settings.from_env().database_url))
    if path is not None and not path.is_file():
        rev = None  # and no empty file is left behind
    else:
        eng = setup_engine()
        try:
            rev = migrate.current(eng)
        finally:
            eng.dispose()
    head = migrate.head()
    state = "latest" if rev == head else f"behind; latest is {head}"
    console.print(f"{rev or 'empty (run: innofin db upgrade)'} ({state})")


@app.command()
def roles(
    owner: str = typer.Option("innofin_owner", help="The role that owns the schema and migrates."),
    app_role: str = typer.Option(
        "innofin_app", "--app", help="The role innofin serve and the CLI connect as."
    ),
    schema: str = typer.Option("public", help="The schema innofin's tables live in."),
    apply: bool = typer.Option(False, "--apply", help="Run the SQL instead of printing it."),
    owner_url: str | None = typer.Option(
        None,
        "--owner-url",
        envvar="INNOFIN_OWNER_DATABASE_URL",
        help="With --apply: the database URL of the owner (or of a superuser; creating the "
        "roles the first time needs CREATEROLE).",
    ),
) -> None:
    """Print (or --apply) the SQL of the production roles on PostgreSQL: an owner that runs
    migrations, and an application role that is not a superuser and may not UPDATE, DELETE or
    TRUNCATE ledger_event, limit_entry or audit_event. Idempotent: re-run it after each upgrade."""
    from innofin.db import roles as db_roles
    from innofin.kernel.errors import InvalidInput

    sql = db_roles.statements(owner, app_role, schema)
    if not apply:
        typer.echo("".join(f"{statement};\n" for statement in sql), nl=False)
        return
    if not owner_url:
        raise InvalidInput(
            "--apply needs --owner-url (the owner's database URL)", field="owner-url"
        )
    eng = setup_engine(owner_url)
    try:
        if eng.dialect.name != "postgresql":
            raise InvalidInput(
                "database roles are PostgreSQL's; SQLite has none", field="owner-url"
            )
        with eng.begin() as conn:
            db_roles.apply(conn.connection.driver_connection, sql)
    finally:
        eng.dispose()
    console.print(f"roles {owner} (owner) and {app_role} (application) ready in schema {schema}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
