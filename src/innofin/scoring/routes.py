"""REST endpoints of scoring: an enterprise's points explained, scoring runs, key lists and the
pilot-zone ranking."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from innofin.api.deps import (
    RowId,
    WriteHeaders,
    allow,
    api_state,
    ok,
    reading,
    write_headers,
)
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.writes import remember, replay
from innofin.audit.recorder import Actor
from innofin.kernel.errors import Forbidden
from innofin.kernel.jsontypes import Text40
from innofin.kernel.principal import Principal
from innofin.scoring import records, service
from innofin.scoring.schemas import (
    KeyListOut,
    ScoreOut,
    ScoreRunCreate,
    ScoreRunOut,
    ZoneRankingOut,
)

router = APIRouter(prefix="/api/v1", tags=["scoring"], responses=ERROR_RESPONSES)

Year = Annotated[int, Query(ge=1990, le=2100)]
ListName = Annotated[str, Path(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f]+$")]


@router.get(
    "/enterprises/{enterprise_id}/score",
    response_model=ScoreOut,
    summary="An enterprise's innovation points explained: breakdown, peers, what would help",
)
def get_score(
    request: Request,
    enterprise_id: RowId,
    year: Year,
    system: Text40 | None = Query(None),
    p: Principal = allow("score:read"),
) -> Response:
    with reading(request) as s:
        return ok(records.score(s, p, enterprise_id, year, system))


@router.post(
    "/score-runs",
    response_model=ScoreRunOut,
    status_code=201,
    summary="Score every enterprise reported for a year (stored with its fingerprints)",
)
def post_score_run(
    request: Request,
    body: ScoreRunCreate,
    w: WriteHeaders = Depends(write_headers),
    p: Principal = allow("score:run"),
) -> Response:
    if not (p.is_admin or p.is_national):
        raise Forbidden("scoring runs rate the whole population: admins and national officers")
    payload = body.model_dump()
    earlier = replay(request, p, w.idempotency_key, payload)
    if earlier is not None:
        return earlier
    actor = Actor.api(p.user_id, p.username, reason=w.reason)
    r = service.run(api_state(request).engine, body.system, body.year, actor, top=0)
    out = ScoreRunOut(
        run_id=r.run_id,
        system=r.system,
        sha256=r.sha256,
        year=r.year,
        enterprises=r.enterprises,
        input_fingerprint=r.input_fingerprint,
        result_fingerprint=r.result_fingerprint,
        qualified=r.qualified,
    )
    text = json.dumps(out.model_dump(mode="json"), ensure_ascii=False)
    remember(request, p, w.idempotency_key, payload, 201, text)
    return Response(text, 201, media_type="application/json")


@router.get(
    "/key-lists/{name}",
    response_model=KeyListOut,
    summary="A key-enterprise list (latest version, or ?version=): members and near misses",
)
def get_key_list(
    request: Request,
    name: ListName,
    version: int | None = Query(None, ge=1, le=1_000_000),
    p: Principal = allow("key_list:read"),
) -> Response:
    with reading(request) as s:
        return ok(records.key_list(s, p, name, version))


@router.get(
    "/zone-rankings/{year}",
    response_model=ZoneRankingOut,
    summary="The latest pilot-zone ranking of a year (TOPSIS) with its sensitivity report",
)
def get_zone_ranking(
    request: Request,
    year: Annotated[int, Path(ge=1990, le=2100)],
    p: Principal = allow("zone_ranking:read"),
) -> Response:
    with reading(request) as s:
        return ok(records.latest_ranking(s, year))
