"""The enterprise list (filters by zone, field, stage, certification and points band; search by
name or credit code) and the enterprise profile (registry record, annual reports with each
value's source and as-of date, certifications, points breakdown with peers, the three
improvements that would add the most, and the history of points and list membership).

Rows come through the registry's and scoring's reads, under the same policy scopes as the API:
an enterprise outside the visitor's scope is a 404 page, indicator details without consent are
left out exactly as the API leaves them out.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, null, or_, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from innofin.access.policy import INSTITUTION, enterprise_scope, may, unlimited
from innofin.api.deps import RowId, api_state, reading
from innofin.api.pages import PageRequest, fetch_page
from innofin.kernel.errors import InvalidInput, NotFound
from innofin.kernel.indicators import REPORT_FIELDS
from innofin.kernel.money import column_unit
from innofin.kernel.principal import Principal
from innofin.registry import records
from innofin.registry.models import (
    Certification,
    CertificationKindRef,
    DataSource,
    Enterprise,
    GrowthStageRef,
    TechFieldRef,
    Zone,
)
from innofin.scoring import records as score_records
from innofin.scoring.models import KeyList, KeyListEntry, ScoreResult, ScoreRun, ScoreSystemRecord
from innofin.web import i18n
from innofin.web.deps import page
from innofin.web.render import N_, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
#: the columns the list shows (plain rows: no ORM objects to build)
LIST_COLUMNS = (
    Enterprise.id,
    Enterprise.name,
    Enterprise.identifier,
    Enterprise.zone_id,
    Enterprise.tech_field,
    Enterprise.growth_stage,
)
BANDS = 5  # points bands: fifths of the latest run's scale


# --------------------------------------------------------------------------- shared reads


@dataclass(frozen=True)
class Names:
    """Reference names in the visitor's language: zones, fields, stages, certification kinds."""

    zones: dict[int, str]
    fields: dict[str, str]
    stages: dict[str, str]
    certs: dict[str, str]

    @cached_property
    def options(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """The list's filter options as (value, text) strings, made once per cached `Names`
        (the zone filter alone has an option per zone; a tuple, so that its tags are made once
        per choice: `innofin.web.render._option_tags`)."""
        return {
            name: tuple((str(code), text) for code, text in names.items())
            for name, names in (
                ("zone", self.zones),
                ("field", self.fields),
                ("stage", self.stages),
                ("cert", self.certs),
            )
        }


def _names(s: Session, lang: str) -> Names:
    en = lang == "en"

    def pick(rows: Any) -> dict[Any, str]:
        return {code: (other if en and other else zh) for code, zh, other in rows}

    return Names(
        pick(s.execute(select(Zone.id, Zone.name_zh, Zone.name_en).order_by(Zone.code))),
        pick(s.execute(select(TechFieldRef.code, TechFieldRef.name_zh, TechFieldRef.name_en))),
        pick(
            s.execute(
                select(
                    GrowthStageRef.code, GrowthStageRef.name_zh, GrowthStageRef.name_en
                ).order_by(GrowthStageRef.sort_order)
            )
        ),
        pick(
            s.execute(
                select(
                    CertificationKindRef.code,
                    CertificationKindRef.name_zh,
                    CertificationKindRef.name_en,
                )
            )
        ),
    )


#: reference names and the latest run change rarely: each pages application keeps them this long
REFERENCE_SECONDS = 5.0


def _cached(request: Request, key: tuple[Any, ...], load: Any) -> Any:
    """`load()` kept for REFERENCE_SECONDS on the pages application (one per server process)."""
    cache: dict[tuple[Any, ...], tuple[float, Any]] = request.app.state.__dict__.setdefault(
        "reference_cache", {}
    )
    now = time.monotonic()
    found = cache.get(key)
    if found is not None and now - found[0] < REFERENCE_SECONDS:
        return found[1]
    value = load()
    cache[key] = (now, value)
    return value


def names(s: Session, lang: str, request: Request | None = None) -> Names:
    """Reference names in `lang` (cached a few seconds per application when `request` is given)."""
    if request is None:
        return _names(s, lang)
    found: Names = _cached(request, ("names", lang), lambda: _names(s, lang))
    return found


#: the indicator system whose points the pages show first (others on request)
MAIN_SYSTEM = "default"


def latest_run(
    s: Session, system: str | None = None, request: Request | None = None
) -> tuple[ScoreRun, int] | None:
    """The latest scoring run of `system` (else of the main system, else of any) and its
    system's scale (cached a few seconds per application when `request` is given)."""
    if request is not None:
        cached: tuple[ScoreRun, int] | None = _cached(
            request, ("run", system), lambda: latest_run(s, system)
        )
        return cached  # detached rows keep their values (sessions do not expire on commit)
    found = None
    for code in (system,) if system else (MAIN_SYSTEM, None):
        stmt = select(ScoreRun).join(ScoreSystemRecord, ScoreSystemRecord.id == ScoreRun.system_id)
        if code is not None:
            stmt = stmt.where(ScoreSystemRecord.code == code)
        found = s.scalars(stmt.order_by(ScoreRun.id.desc()).limit(1)).first()
        if found is not None:
            break
    if found is None:
        return None
    record = s.get(ScoreSystemRecord, found.system_id)
    scale = int((record.document if record else {}).get("scale") or 100)
    return found, scale


def bands(scale: int) -> list[tuple[str, str]]:
    step = scale // BANDS
    out = []
    for k in range(BANDS):
        lo, hi = k * step, (k + 1) * step if k < BANDS - 1 else scale
        out.append((f"{lo}-{hi}", f"{lo}–{hi}"))
    return out


def _int(value: str, name: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise InvalidInput(f"{name} must be a number", field=name)
    return int(value)


#: between certification kinds in `_held_on` (kind codes are identifiers: no control characters)
KINDS_SEP = "\x1f"


def _points_of(run_id: int | None) -> Any:
    """A list column: each enterprise's points in run `run_id` (none without a run)."""
    if run_id is None:
        return null().label("points")
    return (
        select(ScoreResult.points)
        .where(ScoreResult.run_id == run_id, ScoreResult.enterprise_id == Enterprise.id)
        .scalar_subquery()
        .label("points")
    )


def _held_on(today: dt.date) -> Any:
    """A list column: the kinds of certification each enterprise holds `today`, joined by
    KINDS_SEP (in any order, perhaps repeated), or null."""
    return (
        select(func.aggregate_strings(Certification.kind, KINDS_SEP))
        .where(
            Certification.enterprise_id == Enterprise.id,
            Certification.valid_from <= today,
            or_(Certification.valid_until.is_(None), Certification.valid_until >= today),
        )
        .scalar_subquery()
        .label("held")
    )


# --------------------------------------------------------------------------- the list


@router.get("/enterprises")
def enterprise_list(
    request: Request,
    q: str = Query("", max_length=120),
    zone: str = Query("", max_length=120),
    field: str = Query("", max_length=120),
    stage: str = Query("", max_length=120),
    cert: str = Query("", max_length=120),
    band: str = Query("", max_length=120),
    page_no: str = Query("", alias="page", max_length=9),
    p: Principal = page("enterprise:read"),
) -> Response:
    lang = i18n.language(request)
    today = api_state(request).clock().date()
    number = _int(page_no, "page") or 1
    with reading(request) as s:
        ref = names(s, lang, request)
        run = latest_run(s, request=request)
        stmt = records.enterprises_query(
            p, _int(zone, "zone"), field.strip() or None, stage.strip() or None, None
        )
        term = q.strip()
        if term:
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(
                or_(
                    Enterprise.name.ilike(f"%{escaped}%", escape="\\"),
                    Enterprise.identifier == term.upper(),
                )
            )
        if cert.strip():
            held = select(Certification.enterprise_id).where(
                Certification.kind == cert.strip(),
                Certification.valid_from <= today,
                or_(Certification.valid_until.is_(None), Certification.valid_until >= today),
            )
            stmt = stmt.where(Enterprise.id.in_(held))
        band_options = bands(run[1]) if run else []
        if band.strip():
            if run is None or band not in dict(band_options):
                raise InvalidInput("unknown points band", field="band")
            lo, hi = (int(x) for x in band.split("-"))
            in_band = select(ScoreResult.enterprise_id).where(
                ScoreResult.run_id == run[0].id,
                ScoreResult.points >= lo,
                ScoreResult.points < hi if hi < run[1] else ScoreResult.points <= hi,
            )
            stmt = stmt.where(Enterprise.id.in_(in_band))
        request_page = PageRequest(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, sort=None)
        # one query for the rows, their points and their certifications, as the API reads a page
        shown = (*LIST_COLUMNS, _points_of(run[0].id if run else None), _held_on(today))
        rows, total = fetch_page(
            s, stmt, request_page, "name", records.ENTERPRISE_SORTS, load=shown
        )
    chosen = {"q": q, "zone": zone, "field": field, "stage": stage, "cert": cert, "band": band}
    pages = max(1, -(-total // PAGE_SIZE))
    # the rows as the table shows them, names looked up here (a template's lookups cost more)
    table = [
        (
            eid,
            name,
            identifier,
            ref.zones.get(zone_id, ""),
            ref.fields.get(tech_field, ""),
            ref.stages.get(growth_stage, ""),
            [ref.certs.get(c, c) for c in sorted(set(held.split(KINDS_SEP)))] if held else [],
            points,
        )
        for eid, name, identifier, zone_id, tech_field, growth_stage, points, held in rows
    ]
    context = {
        "table": table,
        "total": total,
        "number": min(number, pages),
        "pages": pages,
        "run": run[0] if run else None,
        "ref": ref,
        "bands": band_options,
        "chosen": chosen,
        "query": urlencode({k: v for k, v in chosen.items() if v}),
    }
    # HTMX asks for the results alone; restoring history (the Back button) needs the whole page
    partial = request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )
    template = "enterprises/_results.html" if partial else "enterprises/list.html"
    response = render(request, template, context)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request, Cookie"
    return response


# --------------------------------------------------------------------------- the profile


@dataclass(frozen=True)
class ReportValue:
    field: str
    label: str
    value: Decimal | int | None
    source: str
    as_of: dt.date | None


def report_values(
    s: Session, report: Any, lang: str
) -> tuple[list[ReportValue], list[ReportValue]]:
    """A year's report as (money values, count values), each with its source and as-of date
    (the field's own lineage, else the row's last writer)."""
    lineage: dict[str, Any] = report.lineage or {}
    source_ids = {report.source_id} | {v[0] for v in lineage.values() if v}
    sources = {
        d.id: d.name
        for d in s.scalars(select(DataSource).where(DataSource.id.in_(source_ids - {None})))
    }
    money: list[ReportValue] = []
    counts: list[ReportValue] = []
    for name, spec in REPORT_FIELDS.items():
        value = getattr(report, name)
        if value is None:
            continue
        own = lineage.get(name)
        source_id, as_of = (
            (own[0], dt.date.fromisoformat(own[1]))
            if own
            else (
                report.source_id,
                report.as_of,
            )
        )
        label = spec.name_en if lang == "en" else spec.name_zh
        row = ReportValue(name, label, value, sources.get(source_id, ""), as_of)
        (money if spec.unit == "yuan" else counts).append(row)
    return money, counts


PEER_KEYS = {
    "field": N_("field"),
    "stage": N_("stage"),
    "size": N_("size"),
    "zone": N_("zone"),
}
SIZES = {"micro": N_("micro"), "small": N_("small"), "medium": N_("medium"), "large": N_("large")}


def peer_label(label: str, ref: Names, lang: str) -> str:
    """A peer group as people read it: ``field=new_materials, stage=growth`` → ``领域：新材料，
    阶段：成长期``; ``all`` → all scored enterprises."""
    gettext = i18n.translations(lang).gettext
    if label == "all":
        return gettext("all scored enterprises")
    names = {"field": ref.fields, "stage": ref.stages, "size": SIZES}
    parts = []
    for part in label.split(", "):
        key, _, value = part.partition("=")
        shown = names.get(key, {}).get(value, value)
        shown = gettext(shown) if key == "size" else shown
        if value in ("", "-"):
            shown = gettext("not given")
        parts.append(f"{gettext(PEER_KEYS.get(key, key))}{'：' if lang == 'zh' else ': '}{shown}")
    return ("，" if lang == "zh" else ", ").join(parts)


def _decimal(x: float | None) -> Decimal | None:
    return None if x is None else Decimal(repr(x))


@router.get("/enterprises/{enterprise_id}")
def enterprise_profile(
    request: Request,
    enterprise_id: RowId,
    year: str = Query("", max_length=4),
    system: str = Query("", max_length=40),
    p: Principal = page("enterprise:read"),
) -> Response:
    lang = i18n.language(request)
    today = api_state(request).clock().date()
    with reading(request) as s:
        # 404 outside the scope; annual reports only with the right to read indicator details
        record, certifications, reports = records.enterprise_profile(s, p, enterprise_id)
        ref = names(s, lang, request)
        years = [r.year for r in reports]
        chosen_year = _int(year, "year") if year else (years[-1] if years else None)
        report = next((r for r in reports if r.year == chosen_year), None)
        if year and report is None:
            raise NotFound(f"no report of {year}")
        money, counts = report_values(s, report, lang) if report else ([], [])
        history = s.execute(
            select(
                ScoreRun.id,
                ScoreRun.year,
                ScoreRun.created_at,
                ScoreResult.points,
                ScoreSystemRecord.code.label("system"),
            )
            .join(ScoreResult, ScoreResult.run_id == ScoreRun.id)
            .join(ScoreSystemRecord, ScoreSystemRecord.id == ScoreRun.system_id)
            .where(ScoreResult.enterprise_id == enterprise_id)
            .order_by(ScoreRun.year, ScoreRun.id)
        ).all()
        systems = list(dict.fromkeys(h.system for h in history))
        wanted = system.strip()
        if wanted and wanted not in systems:
            raise NotFound(f"no points of system {wanted!r}")
        shown = wanted or (
            MAIN_SYSTEM if MAIN_SYSTEM in systems else systems[-1] if systems else ""
        )
        score = None
        if shown:
            last = [h for h in history if h.system == shown][-1]
            try:
                score = score_records.score(
                    s, p, enterprise_id, last.year, shown, details=record["indicators_visible"]
                )
            except NotFound:
                score = None
        memberships = list_memberships(s, p, enterprise_id)
    money_unit = column_unit([r.value for r in money])  # type: ignore[misc]
    items = score.items if score else []
    item_money = [_decimal(i.raw) for i in items if i.unit == "yuan"]
    item_unit = column_unit([x for x in item_money if x is not None])
    names_by_indicator = {i.indicator: (i.name_en if lang == "en" else i.name_zh) for i in items}
    context = {
        "e": record,
        "ref": ref,
        "today": today,
        "certifications": certifications,
        "reports_visible": record["indicators_visible"],
        "years": years,
        "year": chosen_year,
        "money": money,
        "money_unit": money_unit,
        "counts": counts,
        "score": score,
        "item_unit": item_unit,
        "item_names": names_by_indicator,
        "decimal": _decimal,
        "peer_labels": {i.peer_group: peer_label(i.peer_group, ref, lang) for i in items},
        "history": history,
        "systems": systems,
        "system": shown,
        "memberships": memberships,
        "history_chart": _history_chart(history, lang),
        "breakdown_chart": _breakdown_chart(score, names_by_indicator, lang) if items else None,
    }
    return render(request, "enterprises/profile.html", context)


def list_memberships(s: Session, p: Principal, enterprise_id: int) -> list[Any]:
    """The key-list versions the enterprise is on (or a near miss of), for those who may read
    key lists — an institution sees memberships only, as on the list page."""
    if not may(p, "key_list:read"):
        return []
    stmt = (
        select(
            KeyList.name, KeyList.version, KeyList.year, KeyListEntry.member, KeyListEntry.reason
        )
        .join(KeyListEntry, KeyListEntry.list_id == KeyList.id)
        .where(KeyListEntry.enterprise_id == enterprise_id)
        .order_by(KeyList.name, KeyList.version)
    )
    if p.has(INSTITUTION) and not p.is_admin:
        stmt = stmt.where(KeyListEntry.member.is_(True))
    scope = enterprise_scope(p)
    if not unlimited(scope):
        stmt = stmt.join(Enterprise, Enterprise.id == KeyListEntry.enterprise_id).where(scope)
    return list(s.execute(stmt).all())


def _history_chart(history: Sequence[Any], lang: str) -> dict[str, Any] | None:
    """Points by year, one line per indicator system (their scales differ)."""
    if not history:
        return None
    gettext = i18n.translations(lang).gettext
    years = sorted({h.year for h in history})
    series = []
    for code in dict.fromkeys(h.system for h in history):
        by_year = {h.year: round(h.points, 2) for h in history if h.system == code}
        series.append(
            {
                "type": "line",
                "name": code,
                "data": [by_year.get(y) for y in years],
                "label": {"show": True},
                "connectNulls": True,
            }
        )
    return {
        "animation": False,
        "grid": {"left": 50, "right": 20, "top": 40, "bottom": 30},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "xAxis": {"type": "category", "data": [str(y) for y in years]},
        "yAxis": {"type": "value", "name": gettext("Points")},
        "series": series,
    }


def _breakdown_chart(score: Any, item_names: dict[str, str], lang: str) -> dict[str, Any]:
    """Points earned per indicator beside the points the indicator can give (its weight)."""
    gettext = i18n.translations(lang).gettext
    items = [i for i in score.items if i.weight > 0]
    labels = [item_names[i.indicator] for i in items]
    return {
        "animation": False,
        "grid": {"left": 10, "right": 20, "top": 30, "bottom": 20, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": labels, "inverse": True},
        "series": [
            {
                "type": "bar",
                "name": gettext("Points earned"),
                "data": [round(i.points, 2) for i in items],
            },
            {
                "type": "bar",
                "name": gettext("Points available"),
                "data": [round(i.weight, 2) for i in items],
            },
        ],
    }
