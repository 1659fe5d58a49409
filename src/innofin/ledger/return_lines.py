"""Credit lines (授信) in a bank return: resolve a row's codes, check its terms, and enter the line
through the ledger's own maker-checker (`service.propose_line`, then `service.approve_line`).

The columns, the rules and the decisions (officers named in the return, re-sends) are described
in `ledger.returns`; this module holds the credit-line rows' part of them (finding or
registering the borrower: `ledger.return_borrowers`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor
from innofin.kernel.codes import Role
from innofin.kernel.errors import InvalidIdentifier
from innofin.kernel.periods import add_months
from innofin.ledger import bulk, queries
from innofin.ledger.loans import service
from innofin.ledger.models import Agreement, AgreementCommitment, CreditLine, Programme, RiskPool
from innofin.ledger.return_borrowers import Borrowers
from innofin.ledger.scopes import line_pool_scope, line_product_scope
from innofin.registry.models import (
    Enterprise,
    Organisation,
    Product,
    User,
    UserRole,
)

#: a rejected row: its number in the file, the field, the cell as written, the reason
Problem = tuple[int, str, str, str]

#: the tags a risk pool's rules read, with the words banks write for them
TAGS = {
    "first_loan": "first_loan",
    "首贷": "first_loan",
    "pure_credit": "pure_credit",
    "纯信用": "pure_credit",
    "信用": "pure_credit",
    "ip_pledge": "ip_pledge",
    "知识产权质押": "ip_pledge",
    "guaranteed": "guaranteed",
    "担保": "guaranteed",
}

#: a term of `service.LineSpec`, the field (column) of the return that states it
TERMS = {
    "enterprise_id": "enterprise",
    "limit_amount": "limit",
    "opens_on": "date",
    "matures_on": "end_date",
    "rate_kind": "rate_kind",
    "rate": "rate",
    "spread_bp": "spread_bp",
    "revolving": "revolving",
    "product_id": "product",
    "programme_id": "programme",
    "commitment_id": "agreement",
    "risk_pool_id": "pool",
    "tags": "tags",
}


def money(value: Any) -> Decimal | None:
    """A parsed MONEY cell (integer fen) as yuan."""
    return None if value is None else Decimal(int(value)).scaleb(-2)


#: fields read as scaled integers (fen; ten-thousandths of a per cent), by their places
SCALED = {"principal": 2, "interest": 2, "limit": 2, "rate": 4}


def cell(value: Any, field: str | None = None) -> str:
    """A parsed value of `field` as the rejects report shows it (amounts in yuan)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field in SCALED:
        shown = Decimal(int(value)).scaleb(-SCALED[field])
        return format(shown if field != "rate" else shown.normalize(), "f")
    if field == "tags":
        return ";".join(json.loads(value))
    return str(value)


def return_key(institution: str, ref: str, event: str, on: dt.date) -> str:
    """The ledger's idempotency key of one row of a return."""
    text = f"{institution}\x1f{ref}\x1f{event}\x1f{on}"
    return "return:" + hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Officer:
    user_id: int
    username: str
    institution_id: int


class CreditLines(Borrowers):
    """The credit-line rows of one return, applied in the return's session."""

    def __init__(
        self, session: Session, uploader: Actor, source: str, *, historical: bool = False
    ) -> None:
        self.session = session
        self.uploader = uploader
        self.historical = historical
        self.lines: dict[tuple[int, str], CreditLine | None] = {}
        self._identifiers: dict[tuple[str, str], str | InvalidIdentifier] = {}
        self.registered = 0  # borrowers registered by this return
        reason = f"{source}, sent by {uploader.label}"
        self.reason = (f"{reason}: {uploader.reason}" if uploader.reason else reason)[:500]
        self.seen: dict[tuple[int, str], int] = {}
        self._cache: dict[tuple[str, str], Any] = {}

    def _by_code(self, model: Any, code: str) -> Any:
        return self._lookup(
            model.__name__,
            code,
            lambda: self.session.scalars(select(model).where(model.code == code)).first(),
        )

    def _nameable(
        self, model: Any, code: str, scope: Callable[[frozenset[int]], Any], inst: int
    ) -> Any:
        """The row of `model` with `code` if a line of institution `inst` may name it (the
        access policy's rule, as for lines entered through the API)."""
        lenders = self._lookup("lenders", str(inst), lambda: queries.lender_ids(self.session, inst))
        return self._lookup(
            f"{model.__name__}@{inst}",
            code,
            lambda: self.session.scalars(
                select(model).where(model.code == code, scope(lenders))
            ).first(),
        )

    # ------------------------------------------------------------------ one row

    def prefetch(
        self, rows: list[dict[str, Any]], institution: Callable[[str], int | None]
    ) -> None:
        """Load the enterprises and existing lines that the credit-line rows of a batch name, in
        a few queries (instead of one or two per row)."""
        wanted: dict[str, set[str]] = {}
        refs: dict[int, set[str]] = {}
        for row in rows:
            if row["event"] != "credit_line":
                continue
            scheme, text = row.get("id_scheme") or "uscc", row.get("enterprise")
            if text:
                ident = self._identifier(scheme, text)
                if isinstance(ident, str):
                    wanted.setdefault(scheme, set()).add(ident)
            inst = institution(row["institution"])
            if inst is not None and row.get("line_ref"):
                refs.setdefault(inst, set()).add(row["line_ref"])
        for scheme, identifiers in wanted.items():
            todo = sorted(
                i for i in identifiers if ("enterprise", f"{scheme}:{i}") not in self._cache
            )
            for i in range(0, len(todo), 900):
                chunk = todo[i : i + 900]
                found = {
                    e.identifier: e
                    for e in self.session.scalars(
                        select(Enterprise).where(
                            Enterprise.id_scheme == scheme, Enterprise.identifier.in_(chunk)
                        )
                    )
                }
                for ident in chunk:
                    self._cache[("enterprise", f"{scheme}:{ident}")] = found.get(ident)
        for inst, names in refs.items():
            todo = sorted(n for n in names if (inst, n) not in self.lines)
            for i in range(0, len(todo), 900):
                chunk = todo[i : i + 900]
                found_lines = {
                    line.external_ref: line
                    for line in self.session.scalars(
                        select(CreditLine).where(
                            CreditLine.institution_id == inst, CreditLine.external_ref.in_(chunk)
                        )
                    )
                }
                for name in chunk:
                    self.lines[(inst, name)] = found_lines.get(name)

    def apply(
        self, inst: int, code: str, row: dict[str, Any]
    ) -> tuple[list[Problem], bool, bulk.NewLine | None]:
        """The credit line of one row: (its problems, whether it was recorded already, the
        bulk row that enters it)."""
        n: int = row["__row"]
        ref = row.get("line_ref")
        if not ref:
            reason = "a credit_line needs line_ref, the bank's own credit-line number"
            return [(n, "line_ref", "", reason)], False, None
        if (inst, ref) in self.seen:
            reason = f"duplicate: the same institution + line_ref as row {self.seen[(inst, ref)]}"
            return [(n, "line_ref", ref, reason)], False, None
        self.seen[(inst, ref)] = n
        spec, problems = self._spec(inst, ref, row)
        if spec is None:
            return problems, False, None
        if (inst, ref) not in self.lines:
            self.lines[(inst, ref)] = self.session.scalars(
                select(CreditLine).where(
                    CreditLine.institution_id == inst, CreditLine.external_ref == ref
                )
            ).first()
        existing = self.lines[(inst, ref)]
        if existing is not None:
            return self._same(existing, spec, row), True, None
        key = return_key(code, ref, "credit_line", spec.opens_on)
        if self.historical:
            approval = row.get("approval_ref")
            return [], False, bulk.NewLine(spec, key, approval_ref=approval)
        maker = self._officer(inst, row, "maker", problems)
        checker = self._officer(inst, row, "checker", problems)
        if maker is not None and checker is not None and maker.user_id == checker.user_id:
            reason = "maker-checker: the checker must be another officer than the maker"
            problems.append((n, "checker", cell(row.get("checker"), "checker"), reason))
        if problems or maker is None or checker is None:
            return problems, False, None
        new = bulk.NewLine(
            spec,
            key,
            maker=self._as(maker),
            checker=self._as(checker),
            approve_key=return_key(code, ref, "credit_line_approved", spec.opens_on),
            checker_institution_id=checker.institution_id,
        )
        return [], False, new

    def _as(self, officer: Officer) -> Actor:
        """The officer as the ledger's events name them; the uploader is in the reason (and,
        through the session, in the audit trail)."""
        return Actor(
            label=f"return:{officer.username}"[:120],
            channel=self.uploader.channel,
            user_id=officer.user_id,
            reason=self.reason,
            request_id=self.uploader.request_id,
        )

    # ------------------------------------------------------------------ the terms

    def _spec(
        self, inst: int, ref: str, row: dict[str, Any]
    ) -> tuple[service.LineSpec | None, list[Problem]]:
        n: int = row["__row"]
        out: list[Problem] = []

        def bad(field: str, reason: str) -> None:
            out.append((n, field, cell(row.get(field), field), reason))

        start: dt.date = row["date"]
        later: list[Problem] = []  # the programme's problems, reported in column order

        def bad_programme(field: str, reason: str) -> None:
            later.append((n, field, cell(row.get(field), field), reason))

        programme = self._programme(inst, row.get("programme"), bad_programme)
        scheme = row.get("id_scheme") or "uscc"
        firm = self._enterprise(scheme, row.get("enterprise"), bad, row, programme)
        limit = money(row.get("limit"))
        if limit is None:
            hint = "; principal is for drawdowns and repayments" if row.get("principal") else ""
            bad("limit", f"a credit line needs limit (授信额度){hint}")
        elif limit <= 0:
            bad("limit", "limit must be positive")
        end = self._end(start, row, bad)
        rate_kind, rate, spread = self._pricing(row, bad)
        product = self._product(inst, row.get("product"), bad)
        out.extend(later)
        commitment = self._commitment(inst, firm, start, row.get("agreement"), bad)
        pool = self._pool(inst, row.get("pool"), bad)
        tags = self._tags(row.get("tags"), bad)
        if out or firm is None or limit is None or end is None or rate is None:
            return None, out
        spec = service.LineSpec(
            institution_id=inst,
            external_ref=ref,
            enterprise_id=firm.id,
            limit_amount=limit,
            opens_on=start,
            matures_on=end,
            rate=rate,
            rate_kind=rate_kind,
            spread_bp=spread,
            revolving=bool(row.get("revolving")),
            programme_id=programme,
            commitment_id=commitment,
            product_id=product,
            risk_pool_id=pool,
            tags=tags,
        )
        return spec, []

    def _end(
        self, start: dt.date, row: dict[str, Any], bad: Callable[[str, str], None]
    ) -> dt.date | None:
        end: dt.date | None = row.get("end_date")
        months: int | None = row.get("months")
        if months is not None:
            if months < 1:
                bad("months", "months must be a whole number ≥ 1")
                return None
            by_months = add_months(start, months)
            if end is not None and end != by_months:
                bad("end_date", f"end_date {end} and months {months} disagree ({by_months})")
                return None
            end = by_months
        if end is None:
            bad("end_date", "a credit line needs end_date (or months) for its period")
        elif end <= start:
            bad("end_date", f"end_date {end} must be after the line's start (date) {start}")
            return None
        return end

    def _pricing(
        self, row: dict[str, Any], bad: Callable[[str, str], None]
    ) -> tuple[str, Decimal | None, int]:
        """(rate kind, annual rate as a fraction, spread in bp). The file writes the rate in %
        (the LPR in force for LPR + spread); the ledger keeps it to a basis point."""
        spread: int | None = row.get("spread_bp")
        kind: str = row.get("rate_kind") or ("lpr_spread" if spread is not None else "fixed")
        spread = spread or 0
        if kind == "fixed" and spread != 0:
            bad("spread_bp", "a fixed rate has no spread (use rate_kind lpr_spread)")
        written = row.get("rate")  # ten-thousandths of a per cent
        if written is None:
            what = "the LPR in force, in %" if kind == "lpr_spread" else "the annual rate in %"
            bad("rate", f"a credit line needs rate ({what})")
            return kind, None, spread
        if written % 100:
            bad("rate", "the ledger keeps rates to a basis point (0.01 %)")
            return kind, None, spread
        rate = Decimal(int(written)).scaleb(-6)
        if rate * 10_000 + spread < 0:
            shown = format((rate * 100).normalize(), "f")
            bad("spread_bp", f"the rate {shown} % plus {spread} bp is below zero")
        return kind, rate, spread

    def _product(self, inst: int, code: str | None, bad: Callable[[str, str], None]) -> int | None:
        if not code:
            return None
        found: Product | None = self._nameable(Product, code, line_product_scope, inst)
        if found is None:  # another institution's product reads as an unknown one
            bad("product", f"unknown product code {code!r}")
            return None
        return found.id

    def _programme(
        self, inst: int, code: str | None, bad: Callable[[str, str], None]
    ) -> int | None:
        if not code:
            return None
        found: Programme | None = self._by_code(Programme, code)
        if found is None:
            bad("programme", f"unknown programme code {code!r}")
            return None
        if found.institution_ids and inst not in found.institution_ids:
            bad("programme", f"the institution does not take part in programme {code}")
        return found.id

    def _commitment(
        self,
        inst: int,
        firm: Enterprise | None,
        start: dt.date,
        code: str | None,
        bad: Callable[[str, str], None],
    ) -> int | None:
        """The agreement's commitment the line draws on: the one whose period holds the line's
        start, for the enterprise's technology field (a commitment for any field otherwise)."""
        if not code:
            return None
        found: Agreement | None = self._by_code(Agreement, code)
        if found is None:
            bad("agreement", f"unknown agreement code {code!r}")
            return None
        if found.institution_id != inst:
            bad("agreement", f"agreement {code} is another institution's")
            return None
        if found.status != "signed":
            bad("agreement", f"agreement {code} is {found.status}")
            return None
        if firm is None:
            return None
        commitments = self._lookup(
            "commitments",
            code,
            lambda: list(
                self.session.scalars(
                    select(AgreementCommitment)
                    .where(AgreementCommitment.agreement_id == found.id)
                    .order_by(AgreementCommitment.id)
                )
            ),
        )
        fits = [
            c
            for c in commitments
            if c.period_start <= start <= c.period_end and c.tech_field in (None, firm.tech_field)
        ]
        exact = [c for c in fits if c.tech_field is not None] or fits
        if len(exact) != 1:
            field = f" for field {firm.tech_field}" if firm.tech_field else ""
            count = "no commitment" if not exact else f"{len(exact)} commitments"
            bad("agreement", f"agreement {code} has {count} covering {start}{field}")
            return None
        return int(exact[0].id)

    def _pool(self, inst: int, code: str | None, bad: Callable[[str, str], None]) -> int | None:
        if not code:
            return None
        found: RiskPool | None = self._nameable(RiskPool, code, line_pool_scope, inst)
        if found is None:  # a pool of a programme the bank is not in reads as an unknown one
            bad("pool", f"unknown risk pool code {code!r}")
            return None
        return found.id

    def _tags(self, text: str | None, bad: Callable[[str, str], None]) -> tuple[str, ...]:
        written: list[str] = json.loads(text) if text else []
        unknown = [t for t in written if t.lower() not in TAGS]
        if unknown:
            known = ", ".join(sorted(set(TAGS.values())))
            bad("tags", f"unknown tag {unknown[0]!r}: use {known}")
        return tuple(sorted({TAGS[t.lower()] for t in written if t.lower() in TAGS}))

    def _officer(
        self, inst: int, row: dict[str, Any], field: str, out: list[Problem]
    ) -> Officer | None:
        """The bank officer a return names as the line's maker or checker: an active
        institution officer of the row's institution."""
        name: str | None = row.get(field)
        role = "entered" if field == "maker" else "approved"
        reason = None
        if not name:
            reason = f"a credit line needs {field}: the user name of the officer who {role} it"
            out.append((row["__row"], field, "", reason))
            return None
        found = self._lookup("user", name, lambda: self._user(name))
        if found is None:
            reason = f"unknown user {name!r}"
        elif not found[0].is_active:
            reason = f"user {name} is deactivated"
        elif found[1] != inst:
            reason = f"user {name} is not an officer of this institution"
        elif not found[2]:
            reason = f"user {name} is not an institution officer"
        if reason is not None:
            out.append((row["__row"], field, name, reason))
            return None
        return Officer(found[0].id, name, inst)

    def _user(self, name: str) -> tuple[User, int | None, bool] | None:
        found = self.session.execute(
            select(User, Organisation.institution_id)
            .join(Organisation, Organisation.id == User.organisation_id)
            .where(User.username == name)
        ).first()
        if found is None:
            return None
        user, institution_id = found
        officer = self.session.scalars(
            select(UserRole.role).where(
                UserRole.user_id == user.id, UserRole.role == Role.INSTITUTION_OFFICER.value
            )
        ).first()
        return user, institution_id, officer is not None

    # ------------------------------------------------------------------ re-sent lines

    def _same(self, line: CreditLine, spec: service.LineSpec, row: dict[str, Any]) -> list[Problem]:
        """A line the ledger has already: a re-send when its terms are the row's, else one
        problem per differing term (a change of terms is not made by a return)."""
        n: int = row["__row"]
        if line.status != "approved":
            reason = f"credit line {line.external_ref!r} exists already and is {line.status}"
            return [(n, "line_ref", line.external_ref, reason)]
        out: list[Problem] = []
        for term, field in TERMS.items():
            given, stored = getattr(spec, term), getattr(line, term)
            if term == "tags":
                given, stored = list(given), sorted(stored or [])
            if given != stored:
                reason = (
                    f"credit line {line.external_ref!r} exists already with a different {field} "
                    f"({self._shown(term, stored)}); a re-sent line must keep its terms"
                )
                out.append((n, field, cell(row.get(field), field), reason))
        return out

    def _shown(self, term: str, value: Any) -> str:
        """A stored term as the return writes it (codes for references, % for rates)."""
        models: dict[str, Any] = {
            "enterprise_id": (Enterprise, "identifier"),
            "product_id": (Product, "code"),
            "programme_id": (Programme, "code"),
            "risk_pool_id": (RiskPool, "code"),
        }
        if value is None:
            return "none"
        if term in models:
            model, attr = models[term]
            return str(getattr(self.session.get(model, value), attr))
        if term == "commitment_id":
            commitment = self.session.get(AgreementCommitment, value)
            assert commitment is not None
            agreement = self.session.get(Agreement, commitment.agreement_id)
            return f"agreement {agreement.code if agreement else '?'}"
        if term == "rate":
            return f"{format((value * 100).normalize(), 'f')} %"
        if term == "tags":
            return ";".join(value) or "none"
        return cell(value)


#: the return's column that a refusal of a new credit line names (`bulk.Refused.field`)
LINE_FIELDS = {
    "limit_amount": "limit",
    "matures_on": "end_date",
    "opens_on": "date",
    "commitment_id": "agreement",
    "risk_pool_id": "pool",
    "currency": "line_ref",
    "enterprise": "enterprise",
    "institution": "institution",
    "external_ref": "line_ref",
    "idempotency_key": "line_ref",
    "checker": "checker",
    "rate": "rate",
    "rate_kind": "rate_kind",
}
