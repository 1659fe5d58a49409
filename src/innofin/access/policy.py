"""Who may do what, and which rows each caller can see — decided here and nowhere else.

Two layers:

* **Actions** (`ACTIONS`): which roles may attempt an action at all. A caller whose roles do not
  include it gets 403. Every API route names its action; the application refuses to start with a
  route that names none (see `innofin.api.app`).
* **Row scopes** (`*_scope` functions): SQL predicates that services put into their queries, so a
  caller never loads a row it may not see. A row outside the scope does not exist for the caller
  (404), whichever way it is asked for.

The rules, by role:

* platform admin — everything.
* programme officer (a government body) — the zones and enterprises of its jurisdiction (a
  province, or the whole country for a national office) and aggregates of all.
* zone officer — its zone's enterprises and statistics.
* institution officer — its institution and branches: their products and referrals, the
  enterprises that granted them consent or were referred to them (indicator details only with
  consent); other institutions only as anonymous aggregates.
* enterprise user — its own record, indicators, certifications and consents.

Zone records and the institution and product catalogue are public reference data for every
signed-in caller, except that an institution officer does not see other institutions or their
products.

Programmes, their agreements, risk pools, claims and interest subsidies (see
`programme_run_scope` for why a programme's jurisdiction is the zones it lists):

* admin and the national programme office — every one; they run every programme;
* a provincial programme office — the programmes that list a zone of its province, and their
  agreements, pools, claims and subsidies; it runs those (contributions, claim decisions and
  payments, publishing, resolving and paying subsidies);
* zone officer — reads the programmes that list its zone, and theirs;
* institution officer — reads the programmes it takes part in and their pools (and pools that
  cover its lines), its own agreements, claims and the subsidies on its loans; files claims on
  its own defaulted loans (maker-checker: another user decides);
* enterprise user — its own subsidies: it may object to one under notice and confirm it after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.sql.elements import False_, True_

from innofin.access.models import Consent, Referral
from innofin.db.queries import json_ids_overlap
from innofin.kernel.codes import Role
from innofin.ledger.models import (
    Agreement,
    CreditLine,
    InterestSubsidy,
    Loan,
    PoolClaim,
    Programme,
    RiskPool,
)
from innofin.registry.models import Enterprise, Institution, Product, Zone, ZoneYearStat

ADMIN, PROGRAMME, ZONE = Role.PLATFORM_ADMIN, Role.PROGRAMME_OFFICER, Role.ZONE_OFFICER
INSTITUTION, ENTERPRISE = Role.INSTITUTION_OFFICER, Role.ENTERPRISE_USER
EVERYONE = frozenset(Role)
OFFICERS = frozenset({ADMIN, PROGRAMME, ZONE})

#: action → the roles that may attempt it. The row scopes below then narrow what they reach.
ACTIONS: dict[str, frozenset[Role]] = {
    "me:read": EVERYONE,
    "auth:logout": EVERYONE,
    "zone:read": EVERYONE,
    "zone:create": frozenset({ADMIN}),
    "zone:update": OFFICERS,
    "zone_stat:read": OFFICERS,
    "zone_stat:write": OFFICERS,
    "enterprise:read": EVERYONE,
    "enterprise:create": OFFICERS,
    "enterprise:update": OFFICERS | {ENTERPRISE},
    "report:read": EVERYONE,
    "report:write": OFFICERS | {ENTERPRISE},
    "certification:read": EVERYONE,
    "certification:write": OFFICERS,
    "institution:read": EVERYONE,
    "institution:create": frozenset({ADMIN}),
    "institution:update": frozenset({ADMIN, INSTITUTION}),
    "product:read": EVERYONE,
    "product:write": frozenset({ADMIN, INSTITUTION}),
    "import:run": frozenset({ADMIN, PROGRAMME}),
    "aggregate:read": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "consent:read": frozenset({ADMIN, INSTITUTION, ENTERPRISE}),
    "consent:write": frozenset({ENTERPRISE}),
    "referral:read": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "referral:create": OFFICERS,
    "user:read": frozenset({ADMIN}),
    "user:create": frozenset({ADMIN}),
    "audit:read": frozenset({ADMIN}),
    "score:read": EVERYONE,
    "score:run": frozenset({ADMIN, PROGRAMME}),
    "key_list:read": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "zone_ranking:read": OFFICERS,
    "ledger:read": EVERYONE,
    "credit_line:propose": frozenset({INSTITUTION}),
    "credit_line:decide": frozenset({INSTITUTION}),
    "loan:draw": frozenset({INSTITUTION}),
    "loan:repay": frozenset({INSTITUTION}),
    # programme-level ledger: officers run it, banks claim, enterprises follow their subsidies
    # (see "Programmes, pools and subsidies" below for who sees which rows)
    "programme:read": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "agreement:read": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "risk_pool:read": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "risk_pool:contribute": frozenset({ADMIN, PROGRAMME}),
    "pool_claim:read": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    # the bank files (the maker); an admin may enter a claim a bank sent on paper
    "pool_claim:file": frozenset({ADMIN, INSTITUTION}),
    "pool_claim:decide": frozenset({ADMIN, PROGRAMME}),
    "pool_claim:pay": frozenset({ADMIN, PROGRAMME}),
    "subsidy:read": EVERYONE,
    "subsidy:publish": frozenset({ADMIN, PROGRAMME}),
    # a published list is public notice (公示): whoever can see a subsidy may object to it
    "subsidy:object": EVERYONE,
    "subsidy:resolve": frozenset({ADMIN, PROGRAMME}),
    "subsidy:confirm": frozenset({ENTERPRISE}),
    "subsidy:pay": frozenset({ADMIN, PROGRAMME}),
}
#: actions anyone may attempt without signing in
PUBLIC_ACTIONS = frozenset({"auth:login", "health:read"})

#: enterprise fields an enterprise user may change on its own record (identity and zone are the
#: officers' to set)
SELF_EDITABLE_ENTERPRISE_FIELDS = frozenset(
    {"name", "founded_on", "tech_field", "industry_scheme", "industry_code", "growth_stage"}
)


@dataclass(frozen=True)
class Principal:
    """A signed-in caller: the user, its roles and what its organisation links to."""

    user_id: int
    username: str
    roles: frozenset[Role]
    organisation_id: int
    org_kind: str
    zone_id: int | None = None
    enterprise_id: int | None = None
    #: the institution and all its branches, for an institution's organisation
    institution_ids: frozenset[int] = field(default_factory=frozenset)
    #: a government body's province; None is national (every province)
    province: str | None = None
    session_id: int | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_national(self) -> bool:
        return self.has(PROGRAMME) and self.org_kind == "government" and self.province is None


def may(principal: Principal, action: str) -> bool:
    """Whether any of the caller's roles may attempt `action` (unknown actions: never)."""
    allowed = ACTIONS.get(action)
    if allowed is None:
        raise KeyError(f"no policy for action {action!r}")
    return bool(principal.roles & allowed)


def _in_ids(column: Any, ids: frozenset[int]) -> ColumnElement[bool]:
    if not ids:
        return false()
    clause: ColumnElement[bool] = column.in_(sorted(ids))
    return clause


def _zone_in_jurisdiction(zone_id: Any, p: Principal) -> ColumnElement[bool]:
    if p.province is None:
        return true()
    zones = select(Zone.id).where(Zone.province == p.province)
    clause: ColumnElement[bool] = zone_id.in_(zones)
    return clause


def _active_consent(institution_ids: frozenset[int]) -> ColumnElement[bool]:
    return exists().where(
        Consent.enterprise_id == Enterprise.id,
        _in_ids(Consent.institution_id, institution_ids),
        Consent.withdrawn_at.is_(None),
    )


def _referred(institution_ids: frozenset[int]) -> ColumnElement[bool]:
    return exists().where(
        Referral.enterprise_id == Enterprise.id, _in_ids(Referral.institution_id, institution_ids)
    )


# --------------------------------------------------------------------------- zones


def zone_write_scope(p: Principal) -> ColumnElement[bool]:
    """Zones whose record and statistics the caller may change (and whose statistics it sees)."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if p.has(PROGRAMME) and p.org_kind == "government":
        clauses.append(_zone_in_jurisdiction(Zone.id, p))
    if p.has(ZONE) and p.zone_id is not None:
        clauses.append(Zone.id == p.zone_id)
    return or_(false(), *clauses)


def zone_stat_scope(p: Principal) -> ColumnElement[bool]:
    return ZoneYearStat.zone_id.in_(select(Zone.id).where(zone_write_scope(p)))


# --------------------------------------------------------------------------- enterprises


def _officer_enterprise_scope(p: Principal) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if p.has(PROGRAMME) and p.org_kind == "government":
        clauses.append(
            true() if p.province is None else _zone_in_jurisdiction(Enterprise.zone_id, p)
        )
    if p.has(ZONE) and p.zone_id is not None:
        clauses.append(Enterprise.zone_id == p.zone_id)
    return clauses


def enterprise_scope(p: Principal) -> ColumnElement[bool]:
    """Enterprises the caller can see at all (record, certifications, aggregates)."""
    if p.is_admin:
        return true()
    clauses = _officer_enterprise_scope(p)
    if p.has(INSTITUTION) and p.institution_ids:
        clauses += [_active_consent(p.institution_ids), _referred(p.institution_ids)]
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(Enterprise.id == p.enterprise_id)
    return or_(false(), *clauses)


def enterprise_write_scope(p: Principal) -> ColumnElement[bool]:
    """Enterprises whose record, reports and certifications the caller may change."""
    if p.is_admin:
        return true()
    clauses = _officer_enterprise_scope(p)
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(Enterprise.id == p.enterprise_id)
    return or_(false(), *clauses)


def indicator_scope(p: Principal) -> ColumnElement[bool]:
    """Enterprises whose indicator details (annual reports) the caller may read: as
    `enterprise_scope`, except that institutions need the enterprise's consent."""
    if p.is_admin:
        return true()
    clauses = _officer_enterprise_scope(p)
    if p.has(INSTITUTION) and p.institution_ids:
        clauses.append(_active_consent(p.institution_ids))
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(Enterprise.id == p.enterprise_id)
    return or_(false(), *clauses)


def self_only_fields(p: Principal) -> frozenset[str] | None:
    """The enterprise fields the caller may change, or None for no restriction."""
    if p.is_admin or p.has(PROGRAMME) or p.has(ZONE):
        return None
    return SELF_EDITABLE_ENTERPRISE_FIELDS


# --------------------------------------------------------------------------- institutions


def _institution_limited(p: Principal) -> bool:
    """Institution officers see only their own tree (unless they also hold a wider role)."""
    return p.has(INSTITUTION) and not (p.is_admin or p.has(PROGRAMME) or p.has(ZONE))


def institution_scope(p: Principal) -> ColumnElement[bool]:
    if _institution_limited(p):
        return _in_ids(Institution.id, p.institution_ids)
    return true()


def institution_write_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    if p.has(INSTITUTION):
        return _in_ids(Institution.id, p.institution_ids)
    return false()


def product_scope(p: Principal) -> ColumnElement[bool]:
    if _institution_limited(p):
        return _in_ids(Product.institution_id, p.institution_ids)
    return true()


def product_write_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    if p.has(INSTITUTION):
        return _in_ids(Product.institution_id, p.institution_ids)
    return false()


# --------------------------------------------------------------------------- consent, referrals


def consent_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if p.has(INSTITUTION):
        clauses.append(_in_ids(Consent.institution_id, p.institution_ids))
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(Consent.enterprise_id == p.enterprise_id)
    return or_(false(), *clauses)


def referral_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = _officer_enterprise_scope(p)
    if officer:
        visible = select(Enterprise.id).where(or_(*officer))
        clauses.append(Referral.enterprise_id.in_(visible))
    if p.has(INSTITUTION):
        clauses.append(_in_ids(Referral.institution_id, p.institution_ids))
    return or_(false(), *clauses)


def and_scope(*clauses: ColumnElement[bool]) -> ColumnElement[bool]:
    return and_(true(), *clauses)


def unlimited(scope: ColumnElement[bool]) -> bool:
    """Whether `scope` lets the caller see every row."""
    return isinstance(scope, True_)


def scoped(stmt: Select[Any], scope: ColumnElement[bool]) -> Select[Any]:
    """`stmt` limited to `scope`; an unlimited scope adds no WHERE at all (so the database can
    count a whole table from its b-tree instead of testing ``1 = 1`` on every row)."""
    return stmt if unlimited(scope) else stmt.where(scope)


# --------------------------------------------------------------------------- ledger


def _ledger_scope(p: Principal, institution_id: Any, enterprise_id: Any) -> ColumnElement[bool]:
    """Credit lines and loans: an institution its own (and its branches'), an enterprise its
    own, officers those of the enterprises in their jurisdiction or zone."""
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = _officer_enterprise_scope(p)
    if officer:
        clauses.append(enterprise_id.in_(select(Enterprise.id).where(or_(*officer))))
    if p.has(INSTITUTION):
        clauses.append(_in_ids(institution_id, p.institution_ids))
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


def _participant_programmes(p: Principal) -> list[ColumnElement[bool]]:
    """Programmes an institution takes part in: listed in it, or it signed one of their
    agreements."""
    if not (p.has(INSTITUTION) and p.institution_ids):
        return []
    signed = exists().where(
        Agreement.programme_id == Programme.id, _in_ids(Agreement.institution_id, p.institution_ids)
    )
    return [json_ids_overlap(Programme.institution_ids, p.institution_ids), signed]


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
        enterprises = select(Enterprise.id).where(or_(false(), *_officer_enterprise_scope(p)))
        clauses.append(Agreement.enterprise_id.in_(enterprises))
    if p.has(INSTITUTION):
        clauses.append(_in_ids(Agreement.institution_id, p.institution_ids))
    return or_(false(), *clauses)


def _pool_clauses(p: Principal) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    seen = _officer_programmes(p) + _participant_programmes(p)
    if seen:
        clauses.append(RiskPool.programme_id.in_(_programme_ids(seen)))
    if p.has(INSTITUTION) and p.institution_ids:
        clauses.append(
            exists().where(
                CreditLine.risk_pool_id == RiskPool.id,
                _in_ids(CreditLine.institution_id, p.institution_ids),
            )
        )
    return clauses


def risk_pool_scope(p: Principal) -> ColumnElement[bool]:
    """Risk pools (balances, positions): those of the programmes the caller sees, and for an
    institution also the pools that cover one of its credit lines."""
    if _sees_all_programmes(p):
        return true()
    return or_(false(), *_pool_clauses(p))


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
        clauses.append(_in_ids(PoolClaim.institution_id, p.institution_ids))
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
        loans = select(Loan.id).where(_in_ids(Loan.institution_id, p.institution_ids))
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
