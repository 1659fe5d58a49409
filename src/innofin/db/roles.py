"""Production database roles on PostgreSQL: an owner that runs migrations and an application role.

The application role (what `innofin serve` and the day-to-day CLI connect as) is not a superuser
and does not own the tables, so it cannot switch triggers off; it may read every table, insert
into every table, update and delete the ordinary ones, and may not UPDATE, DELETE or TRUNCATE
the append-only history (`APPEND_ONLY`). Every statement is idempotent and safe to run while
another session runs it too (role creation tolerates a concurrent creator), so `innofin db roles
--apply` can be re-run after each `innofin db upgrade`.
"""

from __future__ import annotations

import re

#: the tables whose rows are never changed or removed
APPEND_ONLY = ("ledger_event", "limit_entry", "audit_event")

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _ident(name: str, what: str) -> str:
    """`name` quoted for SQL; only plain lower-case identifiers are accepted."""
    if not _NAME.fullmatch(name):
        from innofin.kernel.errors import InvalidInput

        raise InvalidInput(
            f"{what} {name!r} must be a lower-case identifier (letters, digits, _)", field=what
        )
    return f'"{name}"'


def create_role(name: str, *, app: bool) -> str:
    """Create the login role `name` unless it exists (a concurrent creator is tolerated). An
    existing application role that is a superuser, or may bypass row security, is refused, not
    silently kept."""
    role = _ident(name, "app role" if app else "owner role")
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS" if app else "LOGIN"
    check = (
        f"""
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}' AND (rolsuper OR rolbypassrls))
  THEN RAISE EXCEPTION 'role {name} is a superuser or bypasses row security: '
    'the application role must be neither';
  END IF;"""
        if app
        else ""
    )
    return f"""DO $$
BEGIN
  BEGIN
    CREATE ROLE {role} {attributes};
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;{check}
END $$"""


def grants(app: str, schema: str = "public", *, owner: str | None = None) -> list[str]:
    """What the application role may do in `schema` (tables that exist now; with `owner`, also
    the tables and sequences the owner creates later), and what it may not."""
    role = _ident(app, "app role")
    space = _ident(schema, "schema")
    statements = [
        f"GRANT USAGE ON SCHEMA {space} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {space} TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {space} TO {role}",
    ]
    if owner is not None:
        by = _ident(owner, "owner role")
        statements += [
            f"GRANT USAGE, CREATE ON SCHEMA {space} TO {by}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {by} IN SCHEMA {space} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {by} IN SCHEMA {space} "
            f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
        ]
    tables = ", ".join(f"'{t}'" for t in APPEND_ONLY)
    statements.append(
        f"""DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[{tables}] LOOP
    IF to_regclass(format('%I.%I', '{schema}', t)) IS NOT NULL THEN
      EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I.%I FROM PUBLIC, %I',
                     '{schema}', t, '{app}');
    END IF;
  END LOOP;
  IF to_regclass(format('%I.chain_head', '{schema}')) IS NOT NULL THEN
    EXECUTE format('REVOKE DELETE, TRUNCATE ON %I.chain_head FROM PUBLIC, %I', '{schema}', '{app}');
  END IF;
END $$"""
    )
    return statements


def statements(
    owner: str = "innofin_owner", app: str = "innofin_app", schema: str = "public"
) -> list[str]:
    """The whole SQL: both roles, then the application role's grants and revocations."""
    if owner == app:
        from innofin.kernel.errors import InvalidInput

        raise InvalidInput("the owner and the application role must differ", field="app")
    parts = [create_role(owner, app=False), create_role(app, app=True)]
    return parts + grants(app, schema, owner=owner)


def apply(driver_connection: object, sql: list[str]) -> None:
    """Run `sql` on a DB-API connection, one statement at a time and without parameters (the
    statements contain `%` of PostgreSQL's `format`)."""
    cursor = driver_connection.cursor()  # type: ignore[attr-defined]
    try:
        for statement in sql:
            cursor.execute(statement)
    finally:
        cursor.close()
