"""`innofin db …`: migrations."""

from __future__ import annotations

import typer

from innofin.cli_support import console, engine

app = typer.Typer(help="Database schema: upgrade to the latest migration, show the current one.")


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from innofin.db import migrate

    eng = engine()
    migrate.upgrade(eng, revision)
    console.print(
        f"database {eng.url.render_as_string(hide_password=True)} at {migrate.current(eng)}"
    )


@app.command()
def current() -> None:
    """Print the revision the database is at (and whether it is the latest)."""
    from innofin.db import migrate

    eng = engine()
    rev = migrate.current(eng)
    head = migrate.head()
    state = "latest" if rev == head else f"behind; latest is {head}"
    console.print(f"{rev or 'empty (run: innofin db upgrade)'} ({state})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")
