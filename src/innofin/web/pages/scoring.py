"""Scoring pages: the runs, the key-enterprise lists (members with reasons, near misses, who
entered and who left since the last version, XLSX download) and the pilot-zone ranking with its
stability. Lists show only what `scoring.records.key_list` shows the visitor (officers: the
enterprises in their scope; institutions: the published members)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from innofin.access.policy import INSTITUTION, enterprise_scope, unlimited
from innofin.api.deps import reading
from innofin.kernel.errors import InvalidInput
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise, Zone
from innofin.scoring import lists
from innofin.scoring import records as score_records
from innofin.scoring.models import KeyList, KeyListExit, ScoreRun, ScoreSystemRecord, ZoneRanking
from innofin.web import i18n
from innofin.web.deps import page
from innofin.web.render import render

router = APIRouter(include_in_schema=False)
ListName = Annotated[str, PathParam(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f/]+$")]


def _version(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1_000_000:
        raise InvalidInput("version must be a whole number", field="version")
    return int(text)


@router.get("/scoring/runs")
def score_runs(request: Request, p: Principal = page("score_run:read")) -> Response:
    with reading(request) as s:
        runs = s.execute(
            select(ScoreRun, ScoreSystemRecord.code, ScoreSystemRecord.version)
            .join(ScoreSystemRecord, ScoreSystemRecord.id == ScoreRun.system_id)
            .order_by(ScoreRun.id.desc())
            .limit(200)
        ).all()
    return render(request, "scoring/runs.html", {"runs": runs})


@router.get("/key-lists")
def key_lists(request: Request, p: Principal = page("key_list:read")) -> Response:
    with reading(request) as s:
        latest = (
            select(KeyList.name, func.max(KeyList.version).label("version"))
            .group_by(KeyList.name)
            .subquery()
        )
        found = s.scalars(
            select(KeyList)
            .join(latest, (latest.c.name == KeyList.name) & (latest.c.version == KeyList.version))
            .order_by(KeyList.name)
        ).all()
    return render(request, "scoring/key_lists.html", {"lists": found})


def _exits(s: Session, p: Principal, list_id: int) -> list[Any]:
    """Who left since the last version (officers: within their scope; not for institutions,
    which see only the published members)."""
    if p.has(INSTITUTION) and not p.is_admin:
        return []
    stmt = (
        select(
            KeyListExit.enterprise_id, Enterprise.name, Enterprise.identifier, KeyListExit.reason
        )
        .join(Enterprise, Enterprise.id == KeyListExit.enterprise_id)
        .where(KeyListExit.list_id == list_id)
        .order_by(Enterprise.name)
    )
    scope = enterprise_scope(p)
    if not unlimited(scope):
        stmt = stmt.where(scope)
    return list(s.execute(stmt).all())


def _identifiers(s: Session, p: Principal, ids: list[int]) -> dict[int, str]:
    """Credit codes of the enterprises the visitor may open (an institution sees every published
    member's name, as the API shows it, but opens only those of its own reach)."""
    if not ids:
        return {}
    stmt = select(Enterprise.id, Enterprise.identifier).where(Enterprise.id.in_(ids))
    scope = enterprise_scope(p)
    if not unlimited(scope):
        stmt = stmt.where(scope)
    return {i: code for i, code in s.execute(stmt)}


@router.get("/key-lists/{name}")
def key_list(
    request: Request,
    name: ListName,
    version: str = Query("", max_length=8),
    p: Principal = page("key_list:read"),
) -> Response:
    with reading(request) as s:
        kl = score_records.key_list(s, p, name, _version(version))  # 404: no such list
        row = lists.find_list(s, name, kl.version)
        exits = _exits(s, p, row.id)
        versions = lists.history(s, name)
        codes = _identifiers(s, p, [e.enterprise_id for e in (*kl.members, *kl.near_misses)])
    institution = p.has(INSTITUTION) and not p.is_admin
    context = {
        "kl": kl,
        "exits": exits,
        "versions": versions,
        "codes": codes,
        "entered": [m for m in kl.members if m.change == "entered"],
        "show_near_misses": not institution,
        "quoted": quote(name, safe=""),
    }
    return render(request, "scoring/key_list.html", context)


@router.get("/key-lists/{name}/xlsx")
def key_list_xlsx(
    request: Request,
    name: ListName,
    version: str = Query("", max_length=8),
    p: Principal = page("key_list:read"),
) -> Response:
    """The list as the visitor sees it on the page, as an XLSX workbook."""
    from innofin.ingest.writers import write_workbook

    lang = i18n.language(request)
    gettext = i18n.translations(lang).gettext
    with reading(request) as s:
        kl = score_records.key_list(s, p, name, _version(version))
        row = lists.find_list(s, name, kl.version)
        exits = _exits(s, p, row.id)
        codes = _identifiers(s, p, [e.enterprise_id for e in (*kl.members, *kl.near_misses)])
    head = [
        gettext("Position"),
        gettext("Credit code"),
        gettext("Name"),
        gettext("Zone"),
        gettext("Points"),
        gettext("Change"),
        gettext("Reason"),
    ]

    def rows(entries: list[Any]) -> list[tuple[Any, ...]]:
        return [
            (k, codes.get(e.enterprise_id, ""), e.name, e.zone or "", round(e.points, 2),
             e.change, e.reason)
            for k, e in enumerate(entries, 1)
        ]  # fmt: skip

    sheets: list[tuple[str, list[str], Any]] = [(gettext("Members"), head, rows(kl.members))]
    if not (p.has(INSTITUTION) and not p.is_admin):
        sheets.append((gettext("Near misses"), head, rows(kl.near_misses)))
        sheets.append(
            (
                gettext("Left the list"),
                [gettext("Credit code"), gettext("Name"), gettext("Reason")],
                [(e.identifier, e.name, e.reason) for e in exits],
            )
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "list.xlsx"
        write_workbook(path, sheets)
        body = path.read_bytes()
    filename = f"{name}-v{kl.version}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/zone-rankings")
def zone_rankings(
    request: Request,
    year: str = Query("", max_length=4),
    p: Principal = page("zone_ranking:read"),
) -> Response:
    lang = i18n.language(request)
    with reading(request) as s:
        years = list(
            s.scalars(select(ZoneRanking.year).distinct().order_by(ZoneRanking.year.desc()))
        )
        chosen = _version(year) if year else (years[0] if years else None)
        ranking = score_records.latest_ranking(s, chosen) if chosen is not None else None
        zones = {
            z.code: (z.name_en if lang == "en" and z.name_en else z.name_zh, z.province)
            for z in s.scalars(select(Zone))
        }
    context = {
        "ranking": ranking,
        "years": years,
        "year": chosen,
        "zones": zones,
        "chart": _ranking_chart(ranking, zones, lang) if ranking else None,
    }
    return render(request, "scoring/zone_ranking.html", context)


def _ranking_chart(ranking: Any, zones: dict[str, tuple[str, str]], lang: str) -> dict[str, Any]:
    gettext = i18n.translations(lang).gettext
    top = ranking.result.get("top", [])[:20]
    return {
        "animation": False,
        "grid": {"left": 10, "right": 30, "top": 30, "bottom": 20, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "name": gettext("Closeness"), "max": 1},
        "yAxis": {
            "type": "category",
            "inverse": True,
            "data": [zones.get(t["zone"], (t["zone"], ""))[0] for t in top],
        },
        "series": [
            {
                "type": "bar",
                "name": gettext("Closeness"),
                "data": [round(t["closeness"], 4) for t in top],
            }
        ],
    }
