"""`innofin serve`: the REST API under uvicorn (OpenAPI docs at /docs)."""

from __future__ import annotations

import os

import typer

from innofin.cli_support import console, setup_engine


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        min(os.cpu_count() or 1, 8),
        min=1,
        max=64,
        help="Worker processes (default: one per CPU, at most 8). Each keeps "
        "INNOFIN_API_THREADS (16) database connections open.",
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level (info logs every request)."),
) -> None:
    """Serve the web pages at / and the REST API at /api/v1 (INNOFIN_DATABASE_URL). Migrates
    the database first; on first run creates the `admin` user and prints its password once (or
    takes INNOFIN_ADMIN_PASSWORD)."""
    import uvicorn

    from innofin.access.service import ensure_first_admin
    from innofin.audit.recorder import Actor
    from innofin.db import migrate
    from innofin.db.engine import unit_of_work

    _port_is_free(host, port)
    eng = setup_engine()
    try:
        migrate.upgrade(eng)
        with unit_of_work(eng, actor=Actor.cli("first-run administrator")) as session:
            password = ensure_first_admin(session, os.environ.get("INNOFIN_ADMIN_PASSWORD"))
    finally:
        eng.dispose()
    if password is not None:
        shown = (
            "(from INNOFIN_ADMIN_PASSWORD)"
            if os.environ.get("INNOFIN_ADMIN_PASSWORD")
            else password
        )
        console.print(f"first run: created user [bold]admin[/] with password {shown}")
    console.print(
        f"innofin pages on http://{host}:{port}/  (API: http://{host}:{port}/api/v1, "
        f"docs: http://{host}:{port}/docs)"
    )
    uvicorn.run(
        "innofin.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # the client's address is decided by INNOFIN_TRUSTED_PROXIES (`innofin.api.proxies`);
        # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1
        proxy_headers=False,
        server_header=False,
    )


def _port_is_free(host: str, port: int) -> None:
    """Refuse (exit 4) an address another program already listens on, before anything starts."""
    import errno
    import socket

    from innofin.kernel.errors import Conflict, InvalidInput

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidInput(f"--host {host!r} is not an address here: {exc}", field="host") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Conflict(
                    f"port {port} on {host} is in use by another program: stop it, or choose "
                    "another with --port",
                ) from None
            raise InvalidInput(
                f"cannot listen on {host}:{port}: {exc.strerror}", field="port"
            ) from None


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
