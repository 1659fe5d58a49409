"""Pilot-zone ranking: where to put sci-tech financing service centres (科技金融服务中心).

Zones are ranked with TOPSIS (`topsis_engine`) over their yearly statistics and the innovation
points of their enterprises in a scoring run; the report adds how stable the top N is when each
weight moves by ±20 %.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, record
from innofin.db.engine import unit_of_work
from innofin.kernel.errors import InvalidInput
from innofin.registry.models import Enterprise, Zone, ZoneYearStat
from innofin.scoring import topsis_engine
from innofin.scoring.models import ScoreResult, ZoneRanking
from innofin.scoring.service import latest_run

#: criterion → (weight, benefit, zh, en); weights are defaults a programme changes
DEFAULT_CRITERIA: dict[str, tuple[float, bool, str, str]] = {
    "hte_enterprises": (0.20, True, "高新技术企业数", "High-tech enterprises"),
    "rd_expense": (0.15, True, "研发经费", "R&D expense"),
    "gdp": (0.10, True, "地区生产总值", "GDP"),
    "tax": (0.10, True, "税收", "Tax revenue"),
    "mean_points": (0.20, True, "企业平均创新积分", "Mean innovation points"),
    "top_enterprises": (0.25, True, "全国前10%企业数", "Enterprises in the national top 10%"),
}
STAT_CRITERIA = (
    "gdp",
    "tax",
    "revenue",
    "rd_expense",
    "enterprises",
    "hte_enterprises",
    "employees",
)


@dataclass(frozen=True)
class ZoneRow:
    rank: int
    zone_id: int
    code: str
    name: str
    province: str
    closeness: float
    values: dict[str, float]
    rank_range: tuple[int, int]


@dataclass(frozen=True)
class PilotReport:
    ranking_id: int
    year: int
    run_id: int
    top_n: int
    #: the weights TOPSIS used: those given, each divided by their sum
    weights: dict[str, float]
    rows: list[ZoneRow]
    stable_share: float
    always_in: list[str]
    perturbations: list[dict[str, Any]]
    #: the weights as given (defaults and --weight), before they were scaled to add up to 1
    given_weights: dict[str, float] = field(default_factory=dict)


def parse_weights(items: list[str]) -> dict[str, float]:
    """``name=weight`` pairs (from the command line) over the default criteria."""
    weights = {k: v[0] for k, v in DEFAULT_CRITERIA.items()}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"weight {item!r}: write name=value", field="weight")
        if name not in DEFAULT_CRITERIA and name not in STAT_CRITERIA:
            known = ", ".join(sorted(set(DEFAULT_CRITERIA) | set(STAT_CRITERIA)))
            raise InvalidInput(f"unknown criterion {name!r} (known: {known})", field="weight")
        try:
            w = float(value)
        except ValueError:
            raise InvalidInput(
                f"weight {item!r}: {value!r} is not a number", field="weight"
            ) from None
        if w < 0 or not np.isfinite(w):
            raise InvalidInput(f"weight {item!r} must be 0 or more", field="weight")
        weights[name] = w
    return {k: v for k, v in weights.items() if v > 0}


def _matrix(
    session: Session, year: int, run_id: int, names: list[str]
) -> tuple[list[tuple[int, str, str, str]], np.ndarray[Any, np.dtype[np.float64]]]:
    zones = session.execute(
        select(Zone.id, Zone.code, Zone.name_zh, Zone.province).order_by(Zone.id)
    ).all()
    index = {z[0]: i for i, z in enumerate(zones)}
    m = np.zeros((len(zones), len(names)))
    stats = session.execute(select(ZoneYearStat).where(ZoneYearStat.year == year)).scalars().all()
    for st in stats:
        for j, name in enumerate(names):
            if name in STAT_CRITERIA:
                value = getattr(st, name)
                m[index[st.zone_id], j] = float(value) if value is not None else 0.0
    if {"mean_points", "top_enterprises"} & set(names):
        n_total = session.execute(
            select(func.count()).select_from(ScoreResult).where(ScoreResult.run_id == run_id)
        ).scalar_one()
        cut = max(1, n_total // 10)
        rows = session.execute(
            select(
                Enterprise.zone_id,
                func.avg(ScoreResult.points),
                func.sum(case((ScoreResult.rank_national <= cut, 1), else_=0)),
            )
            .join(Enterprise, Enterprise.id == ScoreResult.enterprise_id)
            .where(ScoreResult.run_id == run_id, Enterprise.zone_id.is_not(None))
            .group_by(Enterprise.zone_id)
        ).all()
        for zone_id, mean, top in rows:
            i = index[zone_id]
            if "mean_points" in names:
                m[i, names.index("mean_points")] = float(mean or 0.0)
            if "top_enterprises" in names:
                m[i, names.index("top_enterprises")] = float(top or 0)
    return [tuple(z) for z in zones], m  # type: ignore[misc]


def rank_zones(
    eng: Engine,
    year: int,
    actor: Actor,
    *,
    top_n: int = 10,
    weights: dict[str, float] | None = None,
    system: str | None = "default",
    delta: float = 0.2,
) -> PilotReport:
    weights = weights if weights is not None else parse_weights([])
    if not weights:
        raise InvalidInput("at least one criterion needs a weight above 0", field="weight")
    names = list(weights)
    criteria = [
        topsis_engine.Criterion(n, weights[n], DEFAULT_CRITERIA.get(n, (0, True))[1]) for n in names
    ]
    with unit_of_work(eng, actor=actor) as session:
        run_row = latest_run(session, year, system)
        zones, m = _matrix(session, year, run_row.id, names)
        if not zones:
            raise InvalidInput("there are no zones to rank", field="year")
        ranking = topsis_engine.topsis(m, criteria)
        sens = topsis_engine.sensitivity(m, criteria, top_n=min(top_n, len(zones)), delta=delta)
        rows = [
            ZoneRow(
                int(ranking.rank[i]),
                zones[i][0],
                zones[i][1],
                zones[i][2],
                zones[i][3],
                float(ranking.closeness[i]),
                {n: float(m[i, j]) for j, n in enumerate(names)},
                (int(sens.rank_range[i, 0]), int(sens.rank_range[i, 1])),
            )
            for i in ranking.order.tolist()
        ]
        code = [z[1] for z in zones]
        perturbations = [
            {
                "criterion": p.criterion,
                "factor": p.factor,
                "overlap": p.overlap,
                "entered": [code[i] for i in p.entered],
                "left": [code[i] for i in p.left],
            }
            for p in sens.perturbations
        ]
        result = {
            "top": [
                {
                    "rank": r.rank,
                    "zone": r.code,
                    "closeness": r.closeness,
                    "rank_range": list(r.rank_range),
                }
                for r in rows[: max(top_n, 20)]
            ],
            "stable_share": sens.stable_share,
            "always_in": [code[i] for i in sens.always_in],
            "perturbations": perturbations,
            "delta": delta,
        }
        row = ZoneRanking(
            year=year,
            run_id=run_row.id,
            top_n=top_n,
            criteria=[{"id": c.id, "weight": c.weight, "benefit": c.benefit} for c in criteria],
            result=result,
            actor=actor.label,
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.flush()
        record(
            session,
            actor,
            action="rank",
            entity="zone_ranking",
            entity_id=row.id,
            after={"year": year, "top": [r.code for r in rows[:top_n]]},
        )
        total = sum(weights.values())
        return PilotReport(
            row.id,
            year,
            run_row.id,
            top_n,
            {k: v / total for k, v in weights.items()},
            rows,
            sens.stable_share,
            [code[i] for i in sens.always_in],
            perturbations,
            dict(weights),
        )
