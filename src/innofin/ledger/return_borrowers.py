"""The borrower of a credit-line row in a bank return: found by the registry's identifier schemes
(``id_scheme``: uscc by default; lei, ein, duns, other), each identifier checked once per file,
or registered from the row when the row's programme lets returns register borrowers. A part of
`ledger.return_lines.CreditLines`, which holds the session and the file's look-ups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.kernel.errors import InvalidIdentifier
from innofin.kernel.ids import normalise_identifier
from innofin.ledger.models import Programme
from innofin.registry.models import Enterprise, IndicatorReport


class Borrowers:
    """Borrowers by identifier, with the look-ups of one return (see `CreditLines`)."""

    session: Session
    registered: int  # borrowers registered by this return
    _identifiers: dict[tuple[str, str], str | InvalidIdentifier]
    _cache: dict[tuple[str, str], Any]

    def _lookup(self, what: str, code: str, load: Callable[[], Any]) -> Any:
        if (what, code) not in self._cache:
            self._cache[(what, code)] = load()
        return self._cache[(what, code)]

    def _identifier(self, scheme: str, text: str) -> str | InvalidIdentifier:
        """The canonical identifier (or why it is not one), checked once per file."""
        if (scheme, text) not in self._identifiers:
            try:
                self._identifiers[(scheme, text)] = normalise_identifier(text, scheme)
            except InvalidIdentifier as exc:
                self._identifiers[(scheme, text)] = exc
        return self._identifiers[(scheme, text)]

    def _enterprise(
        self,
        scheme: str,
        text: str | None,
        bad: Callable[[str, str], None],
        row: dict[str, Any],
        programme: int | None,
    ) -> Enterprise | None:
        """The borrower by the registry's identifier schemes: ``id_scheme`` (uscc by default;
        lei, ein, duns, other) and ``enterprise``, the identifier."""
        if not text:
            bad(
                "enterprise",
                "a credit line needs enterprise, the borrower's identifier (USCC, "
                "统一社会信用代码, unless id_scheme names another scheme)",
            )
            return None
        ident = self._identifier(scheme, text)
        if isinstance(ident, InvalidIdentifier):
            bad("id_scheme" if ident.field == "id_scheme" else "enterprise", str(ident))
            return None
        found: Enterprise | None = self._lookup(
            "enterprise",
            f"{scheme}:{ident}",
            lambda: self.session.scalars(
                select(Enterprise).where(
                    Enterprise.id_scheme == scheme, Enterprise.identifier == ident
                )
            ).first(),
        )
        if found is None:
            found = self._register(scheme, ident, row, programme, bad)
        return found

    def _register(
        self,
        scheme: str,
        ident: str,
        row: dict[str, Any],
        programme: int | None,
        bad: Callable[[str, str], None],
    ) -> Enterprise | None:
        """A borrower the registry does not have, registered from the row (name, region,
        industry code, employees) when the row's programme allows it (`register_borrowers`)."""
        what = "USCC" if scheme == "uscc" else scheme
        prog: Programme | None = (
            None if programme is None else self.session.get(Programme, programme)
        )
        if prog is None or not prog.register_borrowers:
            hint = (
                f"; programme {prog.code} does not let returns register borrowers"
                if prog is not None
                else ""
            )
            bad("enterprise", f"no enterprise with {what} {ident} is registered{hint}")
            return None
        name = row.get("enterprise_name")
        if not name:
            bad(
                "enterprise_name",
                f"no enterprise with {what} {ident} is registered: give enterprise_name to "
                "register it",
            )
            return None
        firm = Enterprise(
            id_scheme=scheme,
            identifier=ident,
            name=name,
            region_code=row.get("region"),
            industry_code=row.get("industry_code"),
        )
        self.session.add(firm)
        self.session.flush()
        employees = row.get("employees")
        if employees is not None:
            start: dt.date = row["date"]
            self.session.add(
                IndicatorReport(
                    enterprise_id=firm.id, year=start.year, employees=int(employees), as_of=start
                )
            )
            self.session.flush()
        self._cache[("enterprise", f"{scheme}:{ident}")] = firm
        self.registered += 1
        return firm
