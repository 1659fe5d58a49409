"""Registry use cases behind the API: read, create and change records within the caller's scope.

Each function takes the open session of the caller's unit of work (the API opens it with the
audit actor and the idempotency record, so all three commit together) and a `Principal`. Reads put
the policy's scope into the query; writes check the row is visible (else 404), then that the
caller may change it (else 403) — after the change too, so no one can move a record out of reach
(a zone officer cannot create an enterprise in another zone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from innofin.access import policy
from innofin.db.queries import apply, visible, writable
from innofin.kernel.disclosure import CellStats, DisclosureRule, protect
from innofin.kernel.errors import Conflict, Forbidden, NotFound
from innofin.kernel.ids import normalise_identifier
from innofin.kernel.principal import Principal
from innofin.registry import checks
from innofin.registry.models import (
    Certification,
    DataSource,
    Enterprise,
    IndicatorReport,
    Institution,
    Product,
    Zone,
    ZoneYearStat,
)
from innofin.registry.schemas import (
    CertificationCreate,
    EnterpriseCreate,
    EnterpriseFields,
    EnterpriseOut,
    InstitutionCreate,
    InstitutionFields,
    ProductCreate,
    ProductFields,
    ReportFields,
    ZoneCreate,
    ZoneFields,
    ZoneStatFields,
)

ZONE_SORTS = {"id": Zone.id, "code": Zone.code, "name_zh": Zone.name_zh, "province": Zone.province}
ENTERPRISE_SORTS = {
    "id": Enterprise.id,
    "name": Enterprise.name,
    "founded_on": Enterprise.founded_on,
    "identifier": Enterprise.identifier,
}
INSTITUTION_SORTS = {"id": Institution.id, "code": Institution.code, "name": Institution.name}
PRODUCT_SORTS = {"id": Product.id, "code": Product.code, "name": Product.name}


def _set(fields: Any) -> dict[str, Any]:
    """The fields the client actually sent (a PATCH changes only those)."""
    data: dict[str, Any] = {name: getattr(fields, name) for name in fields.model_fields_set}
    if "eligibility" in data and data["eligibility"] is not None:
        data["eligibility"] = data["eligibility"].to_json()
    return data


# --------------------------------------------------------------------------- zones


def zones_query(p: Principal, province: str | None, level: str | None) -> Select[Any]:
    stmt = select(Zone)
    if province:
        stmt = stmt.where(Zone.province == province)
    if level:
        stmt = stmt.where(Zone.level == level)
    return stmt


def zone(session: Session, p: Principal, zone_id: int) -> Zone:
    return visible(session, Zone, zone_id, policy.and_scope(), "zone")


def create_zone(session: Session, p: Principal, body: ZoneCreate) -> Zone:
    if session.scalar(select(Zone.id).where(Zone.code == body.code)) is not None:
        raise Conflict(f"zone {body.code!r} already exists")
    row = Zone(**body.model_dump())
    session.add(row)
    session.flush()
    return row


def update_zone(session: Session, p: Principal, zone_id: int, body: ZoneFields) -> Zone:
    row = zone(session, p, zone_id)
    writable(session, Zone, zone_id, policy.zone_write_scope(p), "zone")
    changes = {k: v for k, v in _set(body).items() if v is not None}
    policy.check_reach_fields(p, "zone", changes, "zone")
    apply(row, changes)
    session.flush()
    writable(session, Zone, zone_id, policy.zone_write_scope(p), "zone")  # not moved away
    return row


def zone_stats(session: Session, p: Principal, zone_id: int) -> Sequence[ZoneYearStat]:
    """A zone's statistics: the zone record is public, its statistics are not (404 outside the
    caller's zones)."""
    visible(session, Zone, zone_id, policy.zone_write_scope(p), "zone statistics of zone")
    return session.scalars(
        select(ZoneYearStat)
        .where(ZoneYearStat.zone_id == zone_id, policy.zone_stat_scope(p))
        .order_by(ZoneYearStat.year)
    ).all()


def put_zone_stat(
    session: Session, p: Principal, zone_id: int, year: int, body: ZoneStatFields
) -> ZoneYearStat:
    zone(session, p, zone_id)
    writable(session, Zone, zone_id, policy.zone_write_scope(p), "zone")
    row = session.scalar(
        select(ZoneYearStat).where(ZoneYearStat.zone_id == zone_id, ZoneYearStat.year == year)
    )
    if row is None:
        row = ZoneYearStat(zone_id=zone_id, year=year)
        session.add(row)
    apply(row, _set(body))
    session.flush()
    return row


# --------------------------------------------------------------------------- enterprises


def enterprises_query(
    p: Principal,
    zone_id: int | None,
    tech_field: str | None,
    growth_stage: str | None,
    q: str | None,
) -> Select[Any]:
    stmt = policy.scoped(select(Enterprise), policy.enterprise_scope(p))
    if zone_id is not None:
        stmt = stmt.where(Enterprise.zone_id == zone_id)
    if tech_field:
        stmt = stmt.where(Enterprise.tech_field == tech_field)
    if growth_stage:
        stmt = stmt.where(Enterprise.growth_stage == growth_stage)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(Enterprise.name.ilike(pattern, escape="\\"))
    return stmt


def enterprise(session: Session, p: Principal, enterprise_id: int) -> Enterprise:
    return visible(session, Enterprise, enterprise_id, policy.enterprise_scope(p), "enterprise")


#: the columns of an enterprise's record that the API shows
_RECORD = tuple(getattr(Enterprise, name) for name in EnterpriseOut.model_fields)


def enterprise_detail(session: Session, p: Principal, enterprise_id: int) -> dict[str, Any]:
    """An enterprise's record as the API shows it, with whether the caller may read its
    indicator reports — one query of plain columns (no ORM object: this is the API's busiest
    read)."""
    shown = policy.indicator_scope(p)
    found = session.execute(
        select(*_RECORD, shown.label("indicators_visible")).where(
            Enterprise.id == enterprise_id, policy.enterprise_scope(p)
        )
    ).first()
    if found is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    return {**found._asdict(), "indicators_visible": bool(found.indicators_visible)}


def indicators_visible(session: Session, p: Principal, enterprise_id: int) -> bool:
    scope = policy.indicator_scope(p)
    if policy.unlimited(scope):
        return True
    found = session.scalar(select(Enterprise.id).where(Enterprise.id == enterprise_id, scope))
    return found is not None


def create_enterprise(session: Session, p: Principal, body: EnterpriseCreate) -> Enterprise:
    identifier = normalise_identifier(body.identifier, body.id_scheme)
    values = body.model_dump(exclude={"identifier", "id_scheme"})
    checks.references(session, values, ("zone_id", "tech_field", "growth_stage"))
    taken = session.scalar(
        select(Enterprise.id).where(
            Enterprise.id_scheme == body.id_scheme.value, Enterprise.identifier == identifier
        )
    )
    if taken is not None:
        raise Conflict(f"an enterprise with {body.id_scheme.value} {identifier} already exists")
    row = Enterprise(id_scheme=body.id_scheme.value, identifier=identifier, **values)
    session.add(row)
    session.flush()
    writable(session, Enterprise, row.id, policy.enterprise_write_scope(p), "enterprise")
    return row


def update_enterprise(
    session: Session, p: Principal, enterprise_id: int, body: EnterpriseFields
) -> Enterprise:
    row = enterprise(session, p, enterprise_id)
    writable(session, Enterprise, enterprise_id, policy.enterprise_write_scope(p), "enterprise")
    changes = _set(body)
    policy.check_reach_fields(p, "enterprise", changes, "enterprise")
    allowed = policy.self_only_fields(p)
    if allowed is not None:
        for name in changes:
            if name not in allowed:
                raise Forbidden(f"an enterprise user may not change {name}", field=name)
    if "name" in changes and changes["name"] is None:
        del changes["name"]
    checks.references(session, changes, ("zone_id", "tech_field", "growth_stage"))
    apply(row, changes)
    session.flush()
    writable(session, Enterprise, enterprise_id, policy.enterprise_write_scope(p), "enterprise")
    return row


def reports(session: Session, p: Principal, enterprise_id: int) -> Sequence[IndicatorReport]:
    enterprise(session, p, enterprise_id)
    if not indicators_visible(session, p, enterprise_id):
        raise Forbidden(
            "this enterprise has not granted your institution access to its indicator data",
            code="consent_required",
        )
    return _reports_of(session, enterprise_id)


def _reports_of(session: Session, enterprise_id: int) -> Sequence[IndicatorReport]:
    return session.scalars(
        select(IndicatorReport)
        .where(IndicatorReport.enterprise_id == enterprise_id)
        .order_by(IndicatorReport.year)
    ).all()


def enterprise_profile(
    session: Session, p: Principal, enterprise_id: int
) -> tuple[dict[str, Any], Sequence[Certification], Sequence[IndicatorReport]]:
    """What an enterprise's profile shows of the registry: its record (`enterprise_detail`, which
    is NotFound outside the caller's scope), its certifications and — with the right to read its
    indicators, else none — its annual reports; the scope and the right read once, with the
    record, rather than again by `certifications` and `reports`."""
    record = enterprise_detail(session, p, enterprise_id)
    shown = _reports_of(session, enterprise_id) if record["indicators_visible"] else []
    return record, _certifications_of(session, enterprise_id), shown


def put_report(
    session: Session,
    p: Principal,
    enterprise_id: int,
    year: int,
    body: ReportFields,
    today: dt.date,
) -> IndicatorReport:
    """Create or update one annual report; each value sent gets this write as its lineage."""
    enterprise(session, p, enterprise_id)
    writable(session, Enterprise, enterprise_id, policy.enterprise_write_scope(p), "enterprise")
    changes = _set(body)
    kind = "self_reported" if p.org_kind == "enterprise" else "provider"
    source = DataSource(kind=kind, name=f"api:{p.username}")
    session.add(source)
    session.flush()
    row = session.scalar(
        select(IndicatorReport).where(
            IndicatorReport.enterprise_id == enterprise_id, IndicatorReport.year == year
        )
    )
    if row is None:
        row = IndicatorReport(enterprise_id=enterprise_id, year=year, lineage={})
        session.add(row)
    lineage = dict(row.lineage or {})
    lineage.update({name: [source.id, today.isoformat()] for name in changes})
    apply(row, {**changes, "lineage": lineage, "source_id": source.id, "as_of": today})
    session.flush()
    return row


def certifications(session: Session, p: Principal, enterprise_id: int) -> Sequence[Certification]:
    enterprise(session, p, enterprise_id)
    return _certifications_of(session, enterprise_id)


def _certifications_of(session: Session, enterprise_id: int) -> Sequence[Certification]:
    return session.scalars(
        select(Certification)
        .where(Certification.enterprise_id == enterprise_id)
        .order_by(Certification.valid_from, Certification.id)
    ).all()


def add_certification(
    session: Session, p: Principal, enterprise_id: int, body: CertificationCreate
) -> Certification:
    enterprise(session, p, enterprise_id)
    writable(session, Enterprise, enterprise_id, policy.enterprise_write_scope(p), "enterprise")
    checks.references(session, {"kind": body.kind}, ("kind",))
    taken = session.scalar(
        select(Certification.id).where(
            Certification.enterprise_id == enterprise_id,
            Certification.kind == body.kind,
            Certification.valid_from == body.valid_from,
        )
    )
    if taken is not None:
        raise Conflict(f"a {body.kind} certification from {body.valid_from} is already recorded")
    row = Certification(enterprise_id=enterprise_id, **body.model_dump())
    session.add(row)
    session.flush()
    return row


# --------------------------------------------------------------------------- institutions


def institutions_query(p: Principal, kind: str | None) -> Select[Any]:
    stmt = policy.scoped(select(Institution), policy.institution_scope(p))
    return stmt.where(Institution.kind == kind) if kind else stmt


def institution(session: Session, p: Principal, institution_id: int) -> Institution:
    scope = policy.institution_scope(p)
    return visible(session, Institution, institution_id, scope, "institution")


def create_institution(session: Session, p: Principal, body: InstitutionCreate) -> Institution:
    checks.references(session, {"parent_id": body.parent_id}, ("parent_id",))
    if session.scalar(select(Institution.id).where(Institution.code == body.code)) is not None:
        raise Conflict(f"institution {body.code!r} already exists")
    values = body.model_dump()
    values["is_tech_branch"] = bool(values["is_tech_branch"])
    values["regions_served"] = values["regions_served"] or []
    row = Institution(**values)
    session.add(row)
    session.flush()
    return row


def update_institution(
    session: Session, p: Principal, institution_id: int, body: InstitutionFields
) -> Institution:
    row = institution(session, p, institution_id)
    scope = policy.institution_write_scope(p)
    writable(session, Institution, institution_id, scope, "institution")
    changes = {k: v for k, v in _set(body).items() if v is not None}
    policy.check_reach_fields(p, "institution", changes, "institution")
    apply(row, changes)
    session.flush()
    writable(session, Institution, institution_id, scope, "institution")  # not moved away
    return row


def products_query(
    p: Principal, institution_id: int | None, kind: str | None, active_on: dt.date | None
) -> Select[Any]:
    stmt = policy.scoped(select(Product), policy.product_scope(p))
    if institution_id is not None:
        stmt = stmt.where(Product.institution_id == institution_id)
    if kind:
        stmt = stmt.where(Product.kind == kind)
    if active_on is not None:
        stmt = stmt.where(
            (Product.active_from.is_(None)) | (Product.active_from <= active_on),
            (Product.active_until.is_(None)) | (Product.active_until >= active_on),
        )
    return stmt


def product(session: Session, p: Principal, product_id: int) -> Product:
    return visible(session, Product, product_id, policy.product_scope(p), "product")


def create_product(session: Session, p: Principal, body: ProductCreate) -> Product:
    checks.references(session, {"institution_id": body.institution_id}, ("institution_id",))
    if session.scalar(select(Product.id).where(Product.code == body.code)) is not None:
        raise Conflict(f"product {body.code!r} already exists")
    values = body.model_dump(exclude={"eligibility"})
    values["eligibility"] = body.eligibility.to_json() if body.eligibility else {}
    values["collateral"] = values["collateral"] or "none"
    row = Product(**values)
    session.add(row)
    session.flush()
    writable(session, Product, row.id, policy.product_write_scope(p), "product")
    return row


def update_product(session: Session, p: Principal, product_id: int, body: ProductFields) -> Product:
    row = product(session, p, product_id)
    writable(session, Product, product_id, policy.product_write_scope(p), "product")
    changes = _set(body)
    policy.check_reach_fields(p, "product", changes, "product")
    for required in ("name", "collateral", "eligibility"):
        if required in changes and changes[required] is None:
            del changes[required]
    apply(row, changes)
    session.flush()
    writable(session, Product, product_id, policy.product_write_scope(p), "product")
    return row


# --------------------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class Cell:
    key: str | None
    enterprises: int
    revenue: Decimal | None
    rd_expense: Decimal | None


_GROUPS: dict[str, Any] = {
    "zone": Zone.code,
    "tech_field": Enterprise.tech_field,
    "growth_stage": Enterprise.growth_stage,
    "province": Zone.province,
}
#: the summed values of an enterprise aggregate
_VALUES = ("revenue", "rd_expense")


def _cell_stats(
    session: Session, key: Any, year: int
) -> tuple[dict[Any, int], dict[str, dict[Any, CellStats]]]:
    """Per cell, in one query: the enterprises, and for each summed value the disclosure
    statistics — the enterprises that reported it for `year`, its sum, the sum of magnitudes and
    the two largest magnitudes (one report per enterprise and year, so an enterprise is one
    contributor)."""
    report = (IndicatorReport.enterprise_id == Enterprise.id) & (IndicatorReport.year == year)
    columns: list[Any] = [key.label("key"), Enterprise.id.label("enterprise")]
    for name in _VALUES:
        value = getattr(IndicatorReport, name)
        size = func.abs(value, type_=value.type)
        order = size.desc().nulls_last()
        columns += [
            value.label(name),
            size.label(f"{name}_size"),
            func.row_number().over(partition_by=key, order_by=order).label(f"{name}_rank"),
        ]
    ranked = (
        select(*columns)
        .select_from(Enterprise)
        .outerjoin(Zone, Zone.id == Enterprise.zone_id)
        .outerjoin(IndicatorReport, report)
        .subquery()
    )
    c = ranked.c
    aggregates: list[Any] = [c.key, func.count(c.enterprise)]
    for name in _VALUES:
        magnitude, rank = c[f"{name}_size"], c[f"{name}_rank"]
        aggregates += [
            func.count(c[name]),
            func.sum(c[name]),
            func.sum(magnitude),
            func.max(case((rank == 1, magnitude))),
            func.max(case((rank == 2, magnitude))),
        ]
    counts: dict[Any, int] = {}
    stats: dict[str, dict[Any, CellStats]] = {name: {} for name in _VALUES}
    zero = Decimal(0)
    for row in session.execute(select(*aggregates).group_by(c.key)):
        counts[row[0]] = int(row[1])
        for i, name in enumerate(_VALUES):
            n, total, magnitude, top1, top2 = row[2 + 5 * i : 7 + 5 * i]
            if n:
                cell = CellStats(int(n), total, magnitude, top1 or zero, top2 or zero)
                stats[name][row[0]] = cell
    return counts, stats


def enterprise_aggregates(
    session: Session, group_by: str, year: int, rule: DisclosureRule = DisclosureRule()
) -> list[Cell]:
    """Counts and sums over *all* enterprises (anonymous). Each sum passes disclosure control
    (`innofin.kernel.disclosure`): shown only with enough enterprises that reported the value
    for the year and none dominating it, and hidden with another where subtraction would reveal
    it (by zone, also within each province, whose total the province grouping shows)."""
    key = _GROUPS[group_by]
    counts, stats = _cell_stats(session, key, year)
    groups: list[list[Any]] = []
    if group_by == "zone":
        by_province: dict[Any, list[Any]] = {}
        for code, province in session.execute(select(Zone.code, Zone.province)):
            by_province.setdefault(province, []).append(code)
        groups = list(by_province.values())
    shown: dict[str, dict[Any, Decimal | None]] = {}
    for name in _VALUES:
        present = [[k for k in g if k in stats[name]] for g in groups]
        shown[name] = protect(stats[name], rule, present)
    return [
        Cell(k, n, shown["revenue"].get(k), shown["rd_expense"].get(k))
        for k, n in sorted(counts.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    ]


@dataclass(frozen=True)
class InstitutionCell:
    kind: str
    institutions: int
    products: int
    annual_capacity: Decimal | None


def institution_aggregates(
    session: Session, rule: DisclosureRule = DisclosureRule()
) -> list[InstitutionCell]:
    """Institutions by kind, anonymously: how many, their products and capacity. The capacity
    passes disclosure control with each institution as one contributor (the capacity of its
    products summed)."""
    counts: dict[str, int] = {
        kind: int(n)
        for kind, n in session.execute(
            select(Institution.kind, func.count(Institution.id)).group_by(Institution.kind)
        )
    }
    products: dict[str, int] = {
        kind: int(n)
        for kind, n in session.execute(
            select(Institution.kind, func.count(Product.id))
            .join(Product, Product.institution_id == Institution.id)
            .group_by(Institution.kind)
        )
    }
    capacity: dict[str, list[Decimal]] = {}
    for kind, total in session.execute(
        select(Institution.kind, func.sum(Product.annual_capacity))
        .join(Product, Product.institution_id == Institution.id)
        .where(Product.annual_capacity.is_not(None))
        .group_by(Institution.id, Institution.kind)
    ):
        if total is not None:
            capacity.setdefault(kind, []).append(total)
    shown = protect({k: CellStats.of(v) for k, v in capacity.items()}, rule)
    return [
        InstitutionCell(kind, n, products.get(kind, 0), shown.get(kind))
        for kind, n in sorted(counts.items())
    ]
