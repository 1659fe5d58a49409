"""`innofin user …`: create users, set passwords, list users (recorded in the audit trail)."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from innofin.cli_support import console, engine
from innofin.kernel.codes import OrgKind, Role

app = typer.Typer(help="Users and their roles.", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    value: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    return value


@app.command()
def create(
    username: str = typer.Argument(help="The sign-in name."),
    role: list[Role] = typer.Option(..., "--role", help="A role (repeat for several)."),
    org_kind: OrgKind = typer.Option(
        ..., "--org-kind", help="government, zone, institution or enterprise."
    ),
    org: str | None = typer.Option(
        None,
        "--org",
        help="Zone code, institution code or enterprise USCC; a province for a government body "
        "(omit for the national office).",
    ),
    display_name: str | None = typer.Option(None, help="Name shown in the interface."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    reason: str | None = typer.Option(None, help="Why (kept in the audit trail)."),
) -> None:
    """Create a user in an organisation (created too if it has none yet) with roles."""
    from innofin.access import service
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work

    password = _password(password_stdin)
    eng = engine()
    try:
        with unit_of_work(eng, actor=Actor.cli(reason)) as session:
            user = service.create_user(
                session,
                username=username,
                password=password,
                roles=role,
                org=service.OrgRef(org_kind, org),
                display_name=display_name,
            )
            user_id = user.id
    finally:
        eng.dispose()
    console.print(f"created user {username} (#{user_id}) with roles {', '.join(sorted(role))}")


@app.command()
def passwd(
    username: str = typer.Argument(help="The user."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Set a user's password (exit 3 if there is no such user)."""
    from innofin.access import service
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work

    password = _password(password_stdin)
    eng = engine()
    try:
        with unit_of_work(eng, actor=Actor.cli("password set")) as session:
            service.set_password(session, username, password)
    finally:
        eng.dispose()
    console.print(f"password of {username} set")


@app.command("list")
def list_users() -> None:
    """List users with their organisation and roles."""
    from sqlalchemy import select

    from innofin.access import service
    from innofin.db.engine import unit_of_work
    from innofin.registry.models import Organisation, User

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            rows = session.execute(
                select(User, Organisation.kind, Organisation.name)
                .join(Organisation, Organisation.id == User.organisation_id)
                .order_by(User.id)
            ).all()
            roles = service.roles_of(session, [u.id for u, _, _ in rows])
    finally:
        eng.dispose()
    table = Table(title="users")
    for column in ("#", "user", "organisation", "roles", "sign-in"):
        table.add_column(column)
    for user, kind, name in rows:
        table.add_row(
            str(user.id),
            user.username,
            f"{kind}: {name}",
            ", ".join(roles.get(user.id, [])),
            "yes" if user.password_hash and user.is_active else "no",
        )
    console.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="user")
