"""Which ledger rows each caller can see and run: the row scopes of the ledger's tables, built
from the access policy's blocks (`innofin.access.policy`, where the actions are decided).

Programmes, their agreements, risk pools, claims and interest subsidies (see
`programme_run_scope` for why a programme's jurisdiction is the zones it lists):

* admin and the national programme office — every one; they run every programme;
* a provincial programme office — the programmes that list a zone of its province, and their
  agreements, pools, claims and subsidies; it runs those (contributions, claim decisions and
  payments, publishing, resolving and paying subsidies);
* zone officer — reads the programmes that list its zone, and theirs;
* institution officer — reads the programmes it takes part in and their pools, its own
  agreements, claims and the subsidies on its loans; files claims on its own defaulted loans
  (maker-checker: another user decides). Its credit lines may name only those pools and its own
  products (`line_pool_scope`, `line_product_scope`); naming a pool never opens it;
* enterprise user — its own subsidies: it may object to one under notice and confirm it after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true
from sqlalchemy.sql.elements import False_, True_

from innofin.access.policy import (
    ENTERPRISE,
    INSTITUTION,
    PROGRAMME,
    ZONE,
    in_ids,
    officer_enterprise_scope,
    zone_write_scope,
)
from innofin.db.queries import json_ids_overlap
from innofin.kernel.errors import Forbidden
from innofin.kernel.principal import Principal
from innofin.ledger.models import (
    Agreement,
    CreditLine,
    InterestSubsidy,
    Loan,
    PoolClaim,
    Programme,
    RiskPool,
)
from innofin.registry.models import Enterprise, Product, Zone

# --------------------------------------------------------------------------- ledger


def _ledger_scope(p: Principal, institution_id: Any, enterprise_id: Any) -> ColumnElement[bool]:
    """Credit lines and loans: an institution its own (and its branches'), an enterprise its
    own, officers those of the enterprises in their jurisdiction or zone."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = officer_enterprise_scope(p)
    if officer:
        clauses.append(enterprise_id.in_(select(Enterprise.id).where(or_(*officer))))
    if p.has(INSTITUTION):
        clauses.append(in_ids(institution_id, p.institution_ids))
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(enterprise_id == p.enterprise_id)
    return or_(false(), *clauses)


def credit_line_scope(p: Principal) -> ColumnElement[bool]:
    return _ledger_scope(p, CreditLine.institution_id, CreditLine.enterprise_id)


def loan_scope(p: Principal) -> ColumnElement[bool]:
    return _ledger_scope(p, Loan.institution_id, Loan.enterprise_id)


def ledger_write_scope(p: Principal) -> frozenset[int]:
    """The institutions whose credit lines and loans the caller may act on."""
    return p.institution_ids if p.has(INSTITUTION) else frozenset()


def own(p: Principal, institution_id: int, what: str) -> None:
    """Refuse (403) an action on a visible row of another institution."""
    if institution_id not in ledger_write_scope(p):
        raise Forbidden(f"{what} belongs to another institution")


# --------------------------------------------------------------------------- programmes


def _runs_programmes(p: Principal) -> bool:
    return p.has(PROGRAMME) and p.org_kind == "government"


def _sees_all_programmes(p: Principal) -> bool:
    return p.is_admin or p.is_national


def programme_run_scope(p: Principal) -> ColumnElement[bool]:
    """Programmes whose pools, claims and subsidies the caller runs (contributions, claim
    decisions and payments, publishing, resolving and paying subsidies).

    A programme names its sponsor only as text (``programme.sponsor``): nothing links it to an
    organisation on the platform, so "the programmes an office sponsors" cannot be read from
    the data. A programme's jurisdiction is therefore the zones it lists (``zone_ids``): the
    national office and the admin run every programme; a provincial office runs those that
    list a zone of its province. A programme that lists no zone is national in reach and is run
    by the national office (and the admin) only — list its zones to hand it to a province.
    """
    if _sees_all_programmes(p):
        return true()
    if _runs_programmes(p) and p.province is not None:
        return json_ids_overlap(
            Programme.zone_ids, select(Zone.id).where(Zone.province == p.province)
        )
    return false()


def _participation(institution_ids: frozenset[int]) -> list[ColumnElement[bool]]:
    """Programmes one of `institution_ids` takes part in: listed in the programme, or it signed
    one of the programme's agreements."""
    if not institution_ids:
        return []
    signed = exists().where(
        Agreement.programme_id == Programme.id, in_ids(Agreement.institution_id, institution_ids)
    )
    return [json_ids_overlap(Programme.institution_ids, institution_ids), signed]


def _participant_programmes(p: Principal) -> list[ColumnElement[bool]]:
    """Programmes the caller's institution (or one of its branches) takes part in."""
    if not p.has(INSTITUTION):
        return []
    return _participation(p.institution_ids)


def _officer_programmes(p: Principal) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if _runs_programmes(p):
        clauses.append(programme_run_scope(p))
    if p.has(ZONE) and p.zone_id is not None:
        clauses.append(json_ids_overlap(Programme.zone_ids, [p.zone_id]))
    return clauses


def programme_scope(p: Principal) -> ColumnElement[bool]:
    """Programmes (and their targets) the caller sees: those it runs (`programme_run_scope`),
    a zone officer those that list its zone, an institution those it takes part in."""
    if _sees_all_programmes(p):
        return true()
    return or_(false(), *_officer_programmes(p), *_participant_programmes(p))


def _programme_ids(clauses: list[ColumnElement[bool]]) -> Select[Any]:
    return select(Programme.id).where(or_(false(), *clauses))


def agreement_scope(p: Principal) -> ColumnElement[bool]:
    """Agreements and their commitments: officers those of the programmes they see and those
    with a zone or enterprise of their jurisdiction; an institution its own (and branches')."""
    if _sees_all_programmes(p):
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = _officer_programmes(p)
    if officer:
        clauses.append(Agreement.programme_id.in_(_programme_ids(officer)))
        clauses.append(Agreement.zone_id.in_(select(Zone.id).where(zone_write_scope(p))))
        enterprises = select(Enterprise.id).where(or_(false(), *officer_enterprise_scope(p)))
        clauses.append(Agreement.enterprise_id.in_(enterprises))
    if p.has(INSTITUTION):
        clauses.append(in_ids(Agreement.institution_id, p.institution_ids))
    return or_(false(), *clauses)


def risk_pool_scope(p: Principal) -> ColumnElement[bool]:
    """Risk pools (balances, rules, positions): those of the programmes the caller sees.

    Nothing else opens a pool: a credit line that names a pool does not make it readable to the
    line's bank (a line may name only a pool it could read anyway, see `line_pool_scope`)."""
    if _sees_all_programmes(p):
        return true()
    seen = _officer_programmes(p) + _participant_programmes(p)
    if not seen:
        return false()
    clause: ColumnElement[bool] = RiskPool.programme_id.in_(_programme_ids(seen))
    return clause


def line_pool_scope(lender_ids: frozenset[int]) -> ColumnElement[bool]:
    """Risk pools a credit line may name: those of a programme in which the line's institution
    takes part (listed in the programme, or it signed one of the programme's agreements).
    `lender_ids` are the line's institution and its head offices (a head office's
    participation covers its branches). A pool of no programme is named by no line. Any other
    pool answers as if it did not exist, whoever enters the line (API, CLI, bank return)."""
    clauses = _participation(lender_ids)
    if not clauses:
        return false()
    clause: ColumnElement[bool] = RiskPool.programme_id.in_(_programme_ids(clauses))
    return clause


def line_product_scope(lender_ids: frozenset[int]) -> ColumnElement[bool]:
    """Products a credit line may name: its own institution's (or a head office's, which its
    branches sell). Another institution's product answers as if it did not exist."""
    return in_ids(Product.institution_id, lender_ids)


def risk_pool_run_scope(p: Principal) -> ColumnElement[bool]:
    """Pools the caller runs: those of the programmes it runs (a pool of no programme: the
    national office and the admin)."""
    if _sees_all_programmes(p):
        return true()
    runs = programme_run_scope(p)
    if isinstance(runs, False_):
        return runs
    return RiskPool.programme_id.in_(select(Programme.id).where(runs))


def pool_claim_scope(p: Principal) -> ColumnElement[bool]:
    """Claims: officers every claim on the pools of the programmes they see; an institution
    its own institution's (and branches') claims only."""
    if _sees_all_programmes(p):
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = _officer_programmes(p)
    if officer:
        pools = select(RiskPool.id).where(RiskPool.programme_id.in_(_programme_ids(officer)))
        clauses.append(PoolClaim.pool_id.in_(pools))
    if p.has(INSTITUTION):
        clauses.append(in_ids(PoolClaim.institution_id, p.institution_ids))
    return or_(false(), *clauses)


def pool_claim_run_scope(p: Principal) -> ColumnElement[bool]:
    """Claims the caller may decide and pay: those on the pools it runs."""
    runs = risk_pool_run_scope(p)
    if isinstance(runs, True_ | False_):
        return runs
    return PoolClaim.pool_id.in_(select(RiskPool.id).where(runs))


def subsidy_scope(p: Principal) -> ColumnElement[bool]:
    """Interest subsidies: officers those of the programmes they see; an institution those on
    its own loans; an enterprise its own."""
    if _sees_all_programmes(p):
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = _officer_programmes(p)
    if officer:
        codes = select(Programme.code).where(or_(false(), *officer))
        clauses.append(InterestSubsidy.programme.in_(codes))
    if p.has(INSTITUTION) and p.institution_ids:
        loans = select(Loan.id).where(in_ids(Loan.institution_id, p.institution_ids))
        clauses.append(InterestSubsidy.loan_id.in_(loans))
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(InterestSubsidy.enterprise_id == p.enterprise_id)
    return or_(false(), *clauses)


def subsidy_run_scope(p: Principal) -> ColumnElement[bool]:
    """Subsidies the caller publishes, resolves objections to and pays: those of the
    programmes it runs."""
    runs = programme_run_scope(p)
    if isinstance(runs, True_ | False_):
        return runs
    return InterestSubsidy.programme.in_(select(Programme.code).where(runs))
