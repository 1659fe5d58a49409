"""Monitoring pages: a programme's dashboard (key figures, targets with their forecast band and
odds, balances by zone and institution, growth), a zone's view and an institution's view, and
the programme report's downloads (XLSX, PDF, HTML in Chinese or English).

Every figure comes through `monitoring.records`, the API's monitoring reads: the ledger's row
scopes (a programme, zone or institution outside the visitor's reach is a 404 page) and, for an
institution officer, its own loans in full and the other institutions' only as anonymous
aggregates under the disclosure rule (a hidden cell is shown blank, and the page says why).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from innofin.access.policy import institution_limited, institution_scope, may, zone_write_scope
from innofin.api.deps import RowId, api_state, reading
from innofin.db.queries import visible
from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import column_unit
from innofin.kernel.principal import Principal
from innofin.ledger.models import Programme
from innofin.ledger.scopes import programme_scope
from innofin.monitoring import records
from innofin.registry.models import Institution, Zone
from innofin.web import i18n
from innofin.web.deps import page
from innofin.web.render import N_, render

router = APIRouter(include_in_schema=False)

TARGET_NAMES = {
    "financing_balance": N_("Financing balance"),
    "new_credit": N_("New special credit"),
    "key_enterprises": N_("Key enterprises served"),
    "balance_growth": N_("Balance growth year on year"),
}
#: the report's formats and what a browser is told each file is
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
}


def _names(s: Session, model: Any, ids: Iterable[Any], column: Any) -> dict[int, str]:
    wanted = {int(i) for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(s.execute(select(model.id, column).where(model.id.in_(wanted))).all())


def _unit(values: Iterable[Any]) -> Any:
    return column_unit([v for v in values if isinstance(v, Decimal)])


def _words(request: Request) -> Any:
    from innofin.monitoring.reports.text import words

    return words(i18n.language(request))


def _series_chart(
    request: Request, title: str, months: Sequence[dt.date], lines: dict[str, list[Any]]
) -> dict[str, Any]:
    """An ECharts option of monthly lines (amounts in one unit)."""
    from innofin.monitoring.reports.html import chart_option
    from innofin.monitoring.reports.model import Chart, Line

    chart = Chart(
        "series",
        title,
        tuple(f"{m:%Y-%m}" for m in months),
        tuple(Line(name, tuple(values)) for name, values in lines.items()),
    )
    return chart_option(chart, _words(request))


def _targets(summary: Any) -> list[dict[str, Any]]:
    out = []
    for t in summary.targets:
        money = t.kind in ("financing_balance", "new_credit")
        rate = t.kind == "balance_growth"
        out.append({"t": t, "money": money, "rate": rate, "name": TARGET_NAMES.get(t.kind, t.kind)})
    return out


# --------------------------------------------------------------------------- index


@router.get("/monitoring")
def monitoring_home(request: Request, p: Principal = page("monitor:targets")) -> Response:
    """The programmes, zones and institutions whose figures the visitor may open."""
    with reading(request) as s:
        programmes = list(
            s.scalars(select(Programme).where(programme_scope(p)).order_by(Programme.code))
        )
        zones = (
            list(s.scalars(select(Zone).where(zone_write_scope(p)).order_by(Zone.code).limit(200)))
            if not institution_limited(p)
            else []
        )
        institutions = (
            list(
                s.scalars(
                    select(Institution)
                    .where(institution_scope(p))
                    .order_by(Institution.code)
                    .limit(200)
                )
            )
            if may(p, "monitor:balances")
            else []
        )
    context = {"programmes": programmes, "zones": zones, "institutions": institutions}
    return render(request, "monitoring/index.html", context)


# --------------------------------------------------------------------------- programme


@router.get("/monitoring/programmes/{programme_id}")
def programme_dashboard(
    request: Request, programme_id: RowId, p: Principal = page("monitor:targets")
) -> Response:
    from innofin.monitoring.reports import service as rp
    from innofin.monitoring.reports.html import chart_option

    state = api_state(request)
    rule = state.settings.disclosure
    with reading(request) as s:
        programme = visible(s, Programme, programme_id, programme_scope(p), "programme")
        view = records.programme_summary(s, state.engine, p, programme_id, rule)
        growth = records.growth(s, state.engine, p, programme_id=programme_id, months=24, rule=rule)
        zones = records.balances(
            s, state.engine, p, ["zone_id"], programme_id=programme_id, rule=rule
        )
        banks = records.balances(
            s, state.engine, p, ["institution_id"], programme_id=programme_id, rule=rule
        )
        zone_names = _names(s, Zone, (c.key["zone_id"] for c in zones.cells), Zone.name_zh)
        bank_names = _names(
            s, Institution, (c.key["institution_id"] for c in banks.cells), Institution.name
        )
    summary = view.summary
    words = _words(request)
    months = [pt.month for pt in growth.series]
    balances = [pt.outstanding for pt in growth.series]
    charts = [
        (words.titled(c.title, c.value_unit(), c.args), chart_option(c, words))
        for c in (rp.balance_charts(summary.targets, months, balances) if view.disclosed else ())
    ]
    if growth.others:
        lines = {
            rp.YOUR_INSTITUTION: balances,
            rp.OTHER_INSTITUTIONS: [pt.outstanding for pt in growth.others],
        }
        option = _series_chart(request, rp.BALANCE_BY_MONTH, months, lines)
        everything = balances + [pt.outstanding for pt in growth.others]
        charts.append((words.titled(rp.BALANCE_BY_MONTH, _unit(everything)), option))
    context = {
        "programme": programme,
        "summary": summary,
        "disclosed": view.disclosed,
        "targets": _targets(summary),
        "target_unit": _unit(
            v
            for t in summary.targets
            if t.kind in ("financing_balance", "new_credit")
            for v in (t.goal, t.current, t.forecast, t.lower, t.upper)
        ),
        "charts": charts,
        "zones": zones,
        "zone_names": zone_names,
        "zone_unit": _unit(c.outstanding for c in zones.cells),
        "banks": banks,
        "bank_names": bank_names,
        "bank_unit": _unit(
            [c.outstanding for c in banks.cells] + [c.outstanding for c in banks.others or []]
        ),
        "growth": growth,
        "growth_unit": _unit(pt.outstanding for pt in growth.series),
        "may_report": may(p, "monitor:report"),
        "may_scenarios": may(p, "scenario:read"),
        "facts_unit": _unit([summary.outstanding, summary.new_lending_ytd]),
    }
    return render(request, "monitoring/programme.html", context)


@router.get("/monitoring/programmes/{programme_id}/report/{fmt}")
def programme_report_file(
    request: Request,
    programme_id: RowId,
    fmt: str,
    lang: str = Query("", max_length=2),
    p: Principal = page("monitor:report"),
) -> Response:
    """The programme's report as a file (XLSX, PDF or standalone HTML)."""
    from innofin.monitoring.reports.service import programme_report
    from innofin.monitoring.reports.service import render as render_report
    from innofin.monitoring.reports.text import words

    if fmt not in MEDIA:
        raise InvalidInput("format must be xlsx, pdf or html", field="format")
    chosen = lang or i18n.language(request)
    if chosen not in i18n.LANGS:
        raise InvalidInput("lang must be zh or en", field="lang")
    state = api_state(request)
    with reading(request) as s:
        visible(s, Programme, programme_id, programme_scope(p), "programme")
    report = programme_report(
        state.engine, programme_id, cube=records.cube_for(state.engine), principal=p
    )
    body = render_report(report, fmt, words(chosen))
    name = f"report-{report.programme_code}-{report.period_end:%Y-%m}-{chosen}.{fmt}"
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --------------------------------------------------------------------------- zone


@router.get("/monitoring/zones/{zone_id}")
def zone_view(
    request: Request, zone_id: RowId, p: Principal = page("monitor:balances")
) -> Response:
    """A zone's balances by institution and by technology field at the last month end; an
    institution sees its own loans there and the others' as anonymous aggregates."""
    state = api_state(request)
    rule = state.settings.disclosure
    scope = zone_write_scope(p) if not institution_limited(p) else Zone.id.is_not(None)
    with reading(request) as s:
        zone = visible(s, Zone, zone_id, scope, "zone")
        banks = records.balances(s, state.engine, p, ["zone_id", "institution_id"], rule=rule)
        fields = records.balances(s, state.engine, p, ["zone_id", "tech_field"], rule=rule)
        bank_cells = [c for c in banks.cells if c.key.get("zone_id") == zone_id]
        bank_names = _names(
            s, Institution, (c.key["institution_id"] for c in bank_cells), Institution.name
        )
    field_cells = [c for c in fields.cells if c.key.get("zone_id") == zone_id]
    others = [c for c in banks.others or [] if c.key.get("zone_id") == zone_id]
    other_fields = [c for c in fields.others or [] if c.key.get("zone_id") == zone_id]
    context = {
        "zone": zone,
        "view": banks,
        "bank_cells": bank_cells,
        "bank_names": bank_names,
        "others": others,
        "field_cells": field_cells,
        "other_fields": other_fields,
        "own_only": banks.own_only,
        "unit": _unit([c.outstanding for c in (*bank_cells, *field_cells, *others, *other_fields)]),
    }
    return render(request, "monitoring/zone.html", context)


# --------------------------------------------------------------------------- institution


@router.get("/monitoring/institutions/{institution_id}")
def institution_view(
    request: Request, institution_id: RowId, p: Principal = page("monitor:balances")
) -> Response:
    """An institution's balances by technology field and by zone, and its growth; an
    institution officer sees beside its own figures the other institutions' as anonymous
    aggregates (each shown only with enough institutions and none dominating)."""
    state = api_state(request)
    rule = state.settings.disclosure
    with reading(request) as s:
        institution = visible(s, Institution, institution_id, institution_scope(p), "institution")
        tree = {institution_id} | set(
            s.scalars(select(Institution.id).where(Institution.parent_id == institution_id))
        )
        fields = records.balances(s, state.engine, p, ["institution_id", "tech_field"], rule=rule)
        zones = records.balances(s, state.engine, p, ["institution_id", "zone_id"], rule=rule)
        growth = (
            records.growth(s, state.engine, p, months=24, rule=rule)
            if institution_limited(p)
            else None
        )
        own_zones = [c for c in zones.cells if c.key.get("institution_id") in tree]
        zone_names = _names(s, Zone, (c.key["zone_id"] for c in own_zones), Zone.name_zh)
    field_cells = _summed(
        [c for c in fields.cells if c.key.get("institution_id") in tree], "tech_field"
    )
    zone_cells = _summed(own_zones, "zone_id")
    charts: list[tuple[str, dict[str, Any]]] = []
    if growth is not None:
        from innofin.monitoring.reports import service as rp

        months = [pt.month for pt in growth.series]
        lines: dict[str, list[Any]] = {
            rp.YOUR_INSTITUTION: [pt.outstanding for pt in growth.series]
        }
        if growth.others:
            lines[rp.OTHER_INSTITUTIONS] = [pt.outstanding for pt in growth.others]
        everything = [v for values in lines.values() for v in values]
        title = _words(request).titled(rp.BALANCE_BY_MONTH, _unit(everything))
        charts.append((title, _series_chart(request, rp.BALANCE_BY_MONTH, months, lines)))
    context = {
        "institution": institution,
        "field_cells": field_cells,
        "other_fields": fields.others or [],
        "zone_cells": zone_cells,
        "zone_names": zone_names,
        "own_only": fields.own_only,
        "growth": growth,
        "charts": charts,
        "unit": _unit(
            [c["outstanding"] for c in (*field_cells, *zone_cells)]
            + [c.outstanding for c in fields.others or []]
        ),
    }
    return render(request, "monitoring/institution.html", context)


def _summed(cells: Sequence[Any], key: str) -> list[dict[str, Any]]:
    """An institution's cells (its own and its branches') summed by `key`."""
    out: dict[Any, dict[str, Any]] = {}
    for c in cells:
        row = out.setdefault(
            c.key.get(key),
            {
                "key": c.key.get(key),
                "outstanding": Decimal(0),
                "npl": Decimal(0),
                "new_lending": Decimal(0),
            },
        )
        for name in ("outstanding", "npl", "new_lending"):
            value = getattr(c, name)
            if value is not None:
                row[name] += value
    return sorted(out.values(), key=lambda r: -r["outstanding"])
