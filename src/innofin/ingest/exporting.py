"""Export in innofin's own format: the field names of `kinds` as headers, amounts in yuan.

Rows stream from the database (`yield_per`, a server-side cursor on PostgreSQL) to the file, so an
export of a million reports holds one partition in memory. The order is deterministic (by natural
key; head offices before their branches) so that exports diff cleanly and re-import in one pass.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, func, select

from innofin.ingest.kinds import KindSpec
from innofin.registry.models import (
    Certification,
    Enterprise,
    IndicatorDefinition,
    IndicatorReport,
    IndicatorValue,
    Institution,
    Product,
    Zone,
    ZoneYearStat,
)

PARTITION = 5_000


def _stream(conn: Connection, query: Select[Any]) -> Iterator[Sequence[Any]]:
    yield from conn.execution_options(yield_per=PARTITION).execute(query)


def _zones(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    return _stream(conn, select(*(Zone.__table__.c[n] for n in spec.names)).order_by(Zone.code))


def _zone_stats(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    t = ZoneYearStat.__table__.c
    columns = [Zone.code, *(t[n] for n in spec.names[1:])]
    query = select(*columns).join(Zone, Zone.id == t.zone_id).order_by(Zone.code, t.year)
    return _stream(conn, query)


def _enterprises(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    t = Enterprise.__table__.c
    columns = [Zone.code if n == "zone" else t[n] for n in spec.names]
    query = (
        select(*columns).outerjoin(Zone, Zone.id == t.zone_id).order_by(t.id_scheme, t.identifier)
    )
    return _stream(conn, query)


def _certifications(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    t = Certification.__table__.c
    columns = [Enterprise.id_scheme, Enterprise.identifier, *(t[n] for n in spec.names[2:])]
    query = (
        select(*columns)
        .join(Enterprise, Enterprise.id == t.enterprise_id)
        .order_by(Enterprise.id_scheme, Enterprise.identifier, t.kind, t.valid_from)
    )
    return _stream(conn, query)


def extension_codes(conn: Connection) -> list[str]:
    """Extension indicators that have values, in code order (one export column each)."""
    query = select(IndicatorValue.indicator_code).distinct().order_by(IndicatorValue.indicator_code)
    return list(conn.execute(query).scalars())


def _indicators(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    """Annual reports merged with extension values by (enterprise, year); either may be alone.

    Both streams come in natural-key order (the enterprise's unique index, then the tables'
    (enterprise_id, year) indexes), so the merge holds one enterprise-year at a time.
    """
    codes = extension_codes(conn)
    t = IndicatorReport.__table__.c
    e = Enterprise
    reports = _stream(
        conn,
        select(e.id_scheme, e.identifier, t.year, *(t[n] for n in spec.names[3:]))
        .join(e, e.id == t.enterprise_id)
        .order_by(e.id_scheme, e.identifier, t.year),
    )
    if not codes:
        yield from reports
        return
    width = len(spec.names) - 3
    v = IndicatorValue.__table__.c
    values = _stream(
        conn,
        select(e.id_scheme, e.identifier, v.year, v.indicator_code, v.value)
        .join(e, e.id == v.enterprise_id)
        .order_by(e.id_scheme, e.identifier, v.year, v.indicator_code),
    )
    tagged = heapq.merge(
        ((tuple(r[:3]), 0, r) for r in reports), ((tuple(r[:3]), 1, r) for r in values)
    )
    position = {code: i for i, code in enumerate(codes)}
    for key, group in itertools.groupby(tagged, key=lambda item: item[0]):
        core: Sequence[Any] = (None,) * width
        extra: list[Any] = [None] * len(codes)
        for _, source, row in group:
            if source == 0:
                core = row[3:]
            else:
                extra[position[row[3]]] = row[4]
        yield (*key, *core, *extra)


def _institutions(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    """Head offices before their branches, so a re-import resolves every parent in one pass."""
    t = Institution.__table__.c
    rows = conn.execute(select(t.id, t.parent_id, *(t[n] for n in spec.names if n != "parent")))
    records = {row[0]: row for row in rows}
    children: dict[int | None, list[int]] = {}
    for ident, record in records.items():
        parent = record[1] if record[1] in records else None
        children.setdefault(parent, []).append(ident)
    order: list[int] = []
    level = sorted(children.get(None, []), key=lambda i: records[i][2])
    while level:
        order.extend(level)
        level = sorted((c for i in level for c in children.get(i, [])), key=lambda i: records[i][2])
    order.extend(sorted(set(records) - set(order), key=lambda i: records[i][2]))  # cycles
    names = [n for n in spec.names if n != "parent"]
    for ident in order:
        fields = dict(zip(names, records[ident][2:], strict=True))
        parent = records.get(records[ident][1])
        fields["parent"] = parent[2] if parent is not None else None
        yield tuple(fields[n] for n in spec.names)


def _products(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    t = Product.__table__.c
    columns = [Institution.code if n == "institution" else t[n] for n in spec.names]
    query = select(*columns).join(Institution, Institution.id == t.institution_id).order_by(t.code)
    return _stream(conn, query)


def _indicator_definitions(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    """The extension indicators (core report fields are part of every installation)."""
    t = IndicatorDefinition.__table__.c
    columns = [Zone.code if n == "zone" else t[n] for n in spec.names]
    query = (
        select(*columns)
        .outerjoin(Zone, Zone.id == t.owner_zone_id)
        .where(t.is_core.is_(False))
        .order_by(t.code)
    )
    return _stream(conn, query)


QUERIES = {
    "zones": _zones,
    "zone-stats": _zone_stats,
    "enterprises": _enterprises,
    "certifications": _certifications,
    "indicator-definitions": _indicator_definitions,
    "indicators": _indicators,
    "institutions": _institutions,
    "products": _products,
}


def export_header(conn: Connection, spec: KindSpec) -> list[str]:
    header = list(spec.names)
    if spec.name == "indicators":
        header.extend(extension_codes(conn))
    return header


def export_rows(conn: Connection, spec: KindSpec) -> Iterator[Sequence[Any]]:
    return QUERIES[spec.name](conn, spec)


def count(conn: Connection, spec: KindSpec) -> int:
    return int(conn.execute(select(func.count()).select_from(spec.table)).scalar_one())


def text_value(value: Any) -> str:
    """A value as innofin writes it in CSV: plain decimals, ISO dates, lists joined with ;."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:  # quantities: no trailing zeros
            value = value.normalize()
            if value == value.to_integral_value():
                value = value.quantize(Decimal(1))
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    return str(value)


def cell_value(value: Any) -> Any:
    """A value for an XLSX cell: numbers stay numbers while Excel's 15 digits hold them exactly."""
    if isinstance(value, Decimal):
        digits = len(value.normalize().as_tuple().digits)
        return value if digits <= 15 else text_value(value)
    if isinstance(value, list | dict):
        return text_value(value)
    return value
