"""Slowing password guessers down without locking the owner out (NIST SP 800-63B, 5.2.2).

Each try is counted *before* its password is checked, under a lock on its counters, and given
back if it succeeds: so 30 tries at once against a limit of 5 check 5 passwords, not 20. Three
counters hold a try:

- the user name from this address: after `login_max_failures` failures, each further try waits a
  delay that doubles (15 s, 30 s, 1 min, … up to the window) — the owner, signing in from
  elsewhere, is not held up by a guesser's failures;
- this address over all user names, at four times the limit (one address trying many names);
- the user name over all addresses, at 100 failures (NIST's ceiling for one account), for
  guessers that rotate through many addresses.

A counter is forgiven after a quiet window (`login_window_minutes`) with no failure and no delay
running. The client address is the peer's, or the one a trusted proxy forwarded
(`innofin.api.proxies`); IPv6 addresses count by their /64 network, which one machine can rotate
through.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from dataclasses import dataclass

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from innofin.access.models import LoginThrottle
from innofin.kernel.errors import RateLimited
from innofin.kernel.settings import Settings

#: an address may fail this many times the per-user limit (it may serve many users)
CLIENT_FACTOR = 4
#: failures of one account from all addresses before every try waits
ACCOUNT_LIMIT = 100
FIRST_DELAY = dt.timedelta(seconds=15)
ANY = ""


@dataclass(frozen=True, order=True)
class Counter:
    username: str
    client: str
    limit: int


def client_key(host: str) -> str:
    """The address a counter is kept for: IPv4 as is, IPv6 by its /64 network."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def counters(settings: Settings, username: str, client: str) -> list[Counter]:
    """The counters of one try, in the order their rows are locked (the same for every try,
    so two tries never wait on each other in a circle)."""
    name, address = username[:80], client_key(client)
    limit = settings.login_max_failures
    return sorted(
        [
            Counter(name, address, limit),
            Counter(ANY, address, limit * CLIENT_FACTOR),
            Counter(name, ANY, ACCOUNT_LIMIT),
        ]
    )


def delay(failures: int, limit: int, window: dt.timedelta) -> dt.timedelta | None:
    """How long tries wait after `failures` failures: nothing below the limit, then 15 s doubling
    with each failure, at most the window."""
    if failures < limit:
        return None
    return min(window, FIRST_DELAY * (1 << min(failures - limit, 16)))


def _key(counter: Counter) -> ColumnElement[bool]:
    return and_(LoginThrottle.username == counter.username, LoginThrottle.client == counter.client)


def _lock(
    session: Session, counter: Counter, now: dt.datetime
) -> tuple[int, dt.datetime | None, dt.datetime]:
    """Create the counter's row if needed and lock it: its failures, delay and last failure."""
    values = {"username": counter.username, "client": counter.client, "last_failure_at": now}
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    session.execute(insert(LoginThrottle).values(failures=0, **values).on_conflict_do_nothing())
    row = session.execute(
        select(LoginThrottle.failures, LoginThrottle.last_failure_at, LoginThrottle.blocked_until)
        .where(_key(counter))
        .with_for_update()
    ).one()
    return int(row.failures), row.blocked_until, row.last_failure_at


def claim(
    session: Session, settings: Settings, username: str, client: str, now: dt.datetime
) -> None:
    """Count a try as failed before its password is checked, or refuse it (`RateLimited`, with
    the seconds to wait) while one of its counters is delaying tries."""
    window = dt.timedelta(minutes=settings.login_window_minutes)
    found = []
    wait = dt.timedelta(0)
    for counter in counters(settings, username, client):
        failures, until, last = _lock(session, counter, now)
        if max(last, until or last) + window <= now:  # a quiet window forgives
            failures, until = 0, None
        if until is not None and until > now:
            wait = max(wait, until - now)
        found.append((counter, failures))
    if wait:
        raise RateLimited(
            "too many failed sign-ins; try again later",
            retry_after=max(1, math.ceil(wait.total_seconds())),
        )
    for counter, failures in found:
        pause = delay(failures + 1, counter.limit, window)
        session.execute(
            update(LoginThrottle)
            .where(_key(counter))
            .values(
                failures=failures + 1,
                last_failure_at=now,
                blocked_until=now + pause if pause is not None else None,
            )
        )


def forget_stale(session: Session, settings: Settings, now: dt.datetime) -> None:
    """Remove counters a quiet window has forgiven (`claim` treats them as zero anyway), so
    that guesses sprayed over many names and addresses do not pile up rows."""
    window = dt.timedelta(minutes=settings.login_window_minutes)
    cutoff = now - 2 * window  # the longest delay is one window, then a quiet one
    session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < cutoff))


def give_back(session: Session, settings: Settings, username: str, client: str) -> None:
    """A claimed try succeeded: its user name starts afresh from this address, and the
    counters it shares with other tries lose the failure it was counted as."""
    for counter in counters(settings, username, client):
        if counter.username != ANY and counter.client != ANY:
            session.execute(delete(LoginThrottle).where(_key(counter)))
            continue
        session.execute(
            update(LoginThrottle)
            .where(_key(counter), LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1)
        )
        session.execute(
            update(LoginThrottle)
            .where(_key(counter), LoginThrottle.failures < counter.limit)
            .values(blocked_until=None)
        )
