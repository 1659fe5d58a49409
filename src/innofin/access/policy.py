"""Who may do what — decided here and nowhere else — and the row scopes of the registry's
and access's own tables.

Two layers:

* **Actions** (`ACTIONS`): which roles may attempt an action at all. A caller whose roles do not
  include it gets 403. Every API route names its action; the application refuses to start with a
  route that names none (see `innofin.server.app`). `REACH_FIELDS` names, by table, the fields
  whose value decides who sees a row and who may change them.
* **Row scopes** (`*_scope` functions): SQL predicates that services put into their queries, so a
  caller never loads a row it may not see. A row outside the scope does not exist for the caller
  (404), whichever way it is asked for. Each room keeps the scopes of its own tables beside them
  and builds them from the blocks here (`officer_enterprise_scope`, `zone_write_scope`,
  `in_ids`): this module holds those of zones, enterprises, institutions, products, consents and
  referrals (an institution sees an enterprise through a consent or a referral, so the
  registry's scopes need access's tables); `innofin.ledger.scopes` those of programmes,
  agreements, credit lines, loans, pools, claims and subsidies. The caller is a kernel value,
  `innofin.kernel.principal.Principal`.

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

The ledger's rules: `innofin.ledger.scopes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.sql.elements import True_

from innofin.access.models import Consent, Referral
from innofin.kernel.codes import Role
from innofin.kernel.errors import Forbidden
from innofin.kernel.principal import Principal
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
    # the list of scoring runs (system, year, counts, fingerprints): the officers' page
    "score_run:read": OFFICERS,
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
    # matching: a firm (or an officer for it) posts needs; whoever sees a need sees its
    # pre-checks and recommendations; an institution sees its own best-fitting needs
    "need:read": EVERYONE,
    "need:write": OFFICERS | {ENTERPRISE},
    "match:precheck": EVERYONE,
    "match:recommend": EVERYONE,
    "match:institution": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "match:backtest": frozenset({ADMIN, PROGRAMME}),
    # referrals of needs: each caller sees its own (an institution those sent to it, a firm
    # those of its needs, officers those of the firms they oversee)
    "need_referral:read": EVERYONE,
    # the funnel per institution: an institution its own rows and the total under disclosure
    "match:funnel": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    # a firm refers its own needs, an officer those of the firms whose record it may change;
    # each institution needs the firm's consent (matching/referrals.py)
    "need:refer": OFFICERS | {ENTERPRISE},
    # only the institution a need was referred to (or a branch's head office) answers it and
    # moves it along the funnel
    "need_referral:respond": frozenset({ADMIN, INSTITUTION}),
    "need_referral:advance": frozenset({ADMIN, INSTITUTION}),
    # officers flag the overdue referrals of the needs they see
    "need_referral:flag_overdue": OFFICERS,
    # special-credit allocation: officers who run the programme (ledger.scopes.programme_run_scope)
    "allocation:read": frozenset({ADMIN, PROGRAMME}),
    "allocation:run": frozenset({ADMIN, PROGRAMME}),
    "allocation:accept": frozenset({ADMIN, PROGRAMME}),
    # monitoring: the funnel and institution scorecards — officers every institution, an
    # institution its own and the others as anonymous aggregates under the disclosure rule
    "monitor:funnel": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "monitor:scorecard": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    # the balance cube and growth: officers the loans of their scope, an institution its own
    # and the other institutions' as anonymous cells under the disclosure rule
    "monitor:balances": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    # a programme's targets and quota use: whoever sees the programme (an institution the
    # programme-wide amounts only under the disclosure rule, its own commitments only)
    "monitor:targets": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "monitor:quota": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    # a programme's report (XLSX, PDF, HTML: every zone's and institution's figures): the
    # programme offices that run it, and the admin
    "monitor:report": frozenset({ADMIN, PROGRAMME}),
    # matchmaking meetings: the notice is public; officers organise (within their reach);
    # each participant books, reads its agenda and (institutions) records outcomes of its own
    "event:read": EVERYONE,
    "event:organise": OFFICERS,
    "event:register": OFFICERS | {ENTERPRISE},
    "event:participate": EVERYONE,
    "event:request": EVERYONE,
    "event:schedule": OFFICERS,
    "event:agenda": EVERYONE,
    "event:outcome": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    "event:report": frozenset({ADMIN, PROGRAMME, ZONE, INSTITUTION}),
    # scenarios on a programme's levers: officers read the runs of the programmes they see;
    # those who run a programme run them
    "scenario:read": OFFICERS,
    "scenario:run": frozenset({ADMIN, PROGRAMME}),
}
#: actions anyone may attempt without signing in
PUBLIC_ACTIONS = frozenset({"auth:login", "health:read", "ui:language"})

#: enterprise fields an enterprise user may change on its own record (identity and zone are the
#: officers' to set)
SELF_EDITABLE_ENTERPRISE_FIELDS = frozenset(
    {"name", "founded_on", "tech_field", "industry_scheme", "industry_code", "growth_stage"}
)


def may(principal: Principal, action: str) -> bool:
    """Whether any of the caller's roles may attempt `action` (unknown actions: never)."""
    allowed = ACTIONS.get(action)
    if allowed is None:
        raise KeyError(f"no policy for action {action!r}")
    return bool(principal.roles & allowed)


# --------------------------------------------------------------------------- reach fields


@dataclass(frozen=True)
class ReachField:
    """A field whose value decides who can see its row, and who may change it: only a role
    whose own reach is wider than what the field decides. (Row scopes still apply: a
    provincial office that may move an enterprise between zones keeps it in its province, as
    every write is checked again after the change.)"""

    who: str
    may: Callable[[Principal], bool]


def _admin_or_national(p: Principal) -> bool:
    return p.is_admin or p.is_national


def _government_office(p: Principal) -> bool:
    return p.is_admin or (p.has(PROGRAMME) and p.org_kind == "government")


_ADMIN_OR_NATIONAL = ReachField(
    "the platform admin or the national programme office", _admin_or_national
)
_ABOVE_ZONE = ReachField(
    "the platform admin or a programme office (within its province)", _government_office
)
_ADMIN = ReachField("the platform admin", lambda p: p.is_admin)
_FIXED = ReachField("no one (it is set when the record is entered)", lambda p: False)

#: table → field → who may change it. Every write path (PATCH/PUT routes, services that take a
#: caller) refuses (403, naming the field) a caller that sends a field it may not change.
#: Imports, which may rewrite any of these, are for the admin and the national office only.
REACH_FIELDS: dict[str, dict[str, ReachField]] = {
    # a zone's province decides which provincial office reaches the zone and its enterprises
    "zone": {"province": _ADMIN_OR_NATIONAL},
    # an enterprise's zone decides which zone officer (and, through it, which province) sees it
    "enterprise": {"zone_id": _ABOVE_ZONE},
    # the institution tree decides whose officers see an institution, its products, lines, loans
    "institution": {"parent_id": _ADMIN},
    "product": {"institution_id": _ADMIN},
    "credit_line": {"institution_id": _FIXED, "enterprise_id": _FIXED},
    "loan": {"institution_id": _FIXED, "enterprise_id": _FIXED},
    # a zone's own indicators belong to the zone that defined them
    "indicator_definition": {"owner_zone_id": _ADMIN_OR_NATIONAL},
    # the zones and institutions a programme lists decide who runs and reads it and its pools
    "programme": {"zone_ids": _ADMIN_OR_NATIONAL, "institution_ids": _ADMIN_OR_NATIONAL},
    "agreement": {
        "institution_id": _FIXED,
        "programme_id": _ADMIN_OR_NATIONAL,
        "zone_id": _ADMIN_OR_NATIONAL,
        "enterprise_id": _ADMIN_OR_NATIONAL,
    },
    "risk_pool": {"programme_id": _ADMIN_OR_NATIONAL},
    # a need belongs to the enterprise that posted it (or was posted for)
    "financing_need": {"enterprise_id": _FIXED},
    # an event's zone and province decide which officers organise it
    "event": {"zone_id": _ABOVE_ZONE, "province": _ADMIN_OR_NATIONAL},
}


def may_change(p: Principal, table: str, field_name: str) -> bool:
    """Whether the caller may change `field_name` of a `table` row it may otherwise change
    (fields that decide no one's reach: always)."""
    rule = REACH_FIELDS.get(table, {}).get(field_name)
    return rule is None or rule.may(p)


def check_reach_fields(p: Principal, table: str, fields: Iterable[str], what: str) -> None:
    """Refuse (403, naming the field) a write that sends a field deciding who sees the row,
    unless the caller's role is above the reach that field decides."""
    for name in fields:
        if not may_change(p, table, name):
            who = REACH_FIELDS[table][name].who
            raise Forbidden(
                f"{name} decides who can see the {what}; only {who} may change it",
                code="reach_field",
                field=name,
            )


def in_ids(column: Any, ids: frozenset[int]) -> ColumnElement[bool]:
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
        in_ids(Consent.institution_id, institution_ids),
        Consent.withdrawn_at.is_(None),
    )


def _referred(institution_ids: frozenset[int]) -> ColumnElement[bool]:
    return exists().where(
        Referral.enterprise_id == Enterprise.id, in_ids(Referral.institution_id, institution_ids)
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


def officer_enterprise_scope(p: Principal) -> list[ColumnElement[bool]]:
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
    clauses = officer_enterprise_scope(p)
    if p.has(INSTITUTION) and p.institution_ids:
        clauses += [_active_consent(p.institution_ids), _referred(p.institution_ids)]
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(Enterprise.id == p.enterprise_id)
    return or_(false(), *clauses)


def enterprise_write_scope(p: Principal) -> ColumnElement[bool]:
    """Enterprises whose record, reports and certifications the caller may change."""
    if p.is_admin:
        return true()
    clauses = officer_enterprise_scope(p)
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(Enterprise.id == p.enterprise_id)
    return or_(false(), *clauses)


def indicator_scope(p: Principal) -> ColumnElement[bool]:
    """Enterprises whose indicator details (annual reports) the caller may read: as
    `enterprise_scope`, except that institutions need the enterprise's consent."""
    if p.is_admin:
        return true()
    clauses = officer_enterprise_scope(p)
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


def institution_limited(p: Principal) -> bool:
    """Institution officers see only their own tree (unless they also hold a wider role)."""
    return p.has(INSTITUTION) and not (p.is_admin or p.has(PROGRAMME) or p.has(ZONE))


def institution_scope(p: Principal) -> ColumnElement[bool]:
    if institution_limited(p):
        return in_ids(Institution.id, p.institution_ids)
    return true()


def institution_write_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    if p.has(INSTITUTION):
        return in_ids(Institution.id, p.institution_ids)
    return false()


def product_scope(p: Principal) -> ColumnElement[bool]:
    if institution_limited(p):
        return in_ids(Product.institution_id, p.institution_ids)
    return true()


def product_write_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    if p.has(INSTITUTION):
        return in_ids(Product.institution_id, p.institution_ids)
    return false()


# --------------------------------------------------------------------------- consent, referrals


def consent_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if p.has(INSTITUTION):
        clauses.append(in_ids(Consent.institution_id, p.institution_ids))
    if p.has(ENTERPRISE) and p.enterprise_id is not None:
        clauses.append(Consent.enterprise_id == p.enterprise_id)
    return or_(false(), *clauses)


def referral_scope(p: Principal) -> ColumnElement[bool]:
    if p.is_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    officer = officer_enterprise_scope(p)
    if officer:
        visible = select(Enterprise.id).where(or_(*officer))
        clauses.append(Referral.enterprise_id.in_(visible))
    if p.has(INSTITUTION):
        clauses.append(in_ids(Referral.institution_id, p.institution_ids))
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
