"""Scoring reads for the API, under the access policy (rows outside the caller's scope are 404)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.access.policy import INSTITUTION, enterprise_scope, indicator_scope, unlimited
from innofin.kernel.errors import NotFound
from innofin.kernel.principal import Principal
from innofin.registry.models import Enterprise, Zone
from innofin.scoring import explaining, lists
from innofin.scoring.models import KeyListEntry, ZoneRanking
from innofin.scoring.schemas import (
    ImprovementOut,
    KeyListEntryOut,
    KeyListOut,
    ScoreItemOut,
    ScoreOut,
    ZoneRankingOut,
)


def score(
    session: Session,
    p: Principal,
    enterprise_id: int,
    year: int,
    system: str | None,
    *,
    details: bool | None = None,
) -> ScoreOut:
    """An enterprise's points explained, as `p` may see them. `details`: whether `p` may read
    the enterprise's indicators, when the caller has just read that with the enterprise's record
    (`registry.records.enterprise_detail`, NotFound outside the scope); else both are read here,
    in one query."""
    if details is None:
        shown = session.scalar(
            select(indicator_scope(p).label("details")).where(
                Enterprise.id == enterprise_id, enterprise_scope(p)
            )
        )
        if shown is None:
            raise NotFound(f"no enterprise {enterprise_id}")
        details = bool(shown)
    x = explaining.explain(session, enterprise_id, year, system)
    out = ScoreOut(
        enterprise_id=x.enterprise_id,
        name=x.name,
        year=x.year,
        system=x.system,
        run_id=x.run_id,
        stage=x.stage,
        points=x.points,
        change=None if x.previous_points is None else x.points - x.previous_points,
        ranks=x.ranks,
        percentile=x.percentile,
        details_visible=details,
    )
    if details:
        # without consent: points (and their change), ranks and percentile only — group points
        # and the rule set's verdict are read from the indicator data the consent protects
        out.verdict = x.verdict
        out.groups = dict(x.groups)
        out.items = [
            ScoreItemOut(
                indicator=i.indicator,
                name_zh=i.name_zh,
                name_en=i.name_en,
                group=i.group,
                raw=i.raw,
                normalised=i.normalised,
                weight=i.weight,
                points=i.contribution,
                missing=i.missing,
                peer_group=i.peer,
                unit=i.unit,
            )
            for i in x.items
        ]
        out.missing_cost = dict(x.missing_cost)
        out.improvements = [
            ImprovementOut(
                indicator=m.indicator,
                step=m.step,
                label_zh=m.label_zh,
                label_en=m.label_en,
                points=m.gain,
            )
            for m in x.improvements
        ]
    return out


def key_list(session: Session, p: Principal, name: str, version: int | None) -> KeyListOut:
    """Officers see the entries of enterprises in their scope, members and near misses; an
    institution sees the published members (the list is the programme's recommendation to
    banks) but not the near misses."""
    kl = lists.find_list(session, name, version)
    stmt = (
        select(KeyListEntry, Enterprise.name, Zone.code)
        .join(Enterprise, Enterprise.id == KeyListEntry.enterprise_id)
        .outerjoin(Zone, Zone.id == Enterprise.zone_id)
        .where(KeyListEntry.list_id == kl.id)
        .order_by(KeyListEntry.member.desc(), KeyListEntry.position)
    )
    if p.has(INSTITUTION) and not p.is_admin:
        stmt = stmt.where(KeyListEntry.member.is_(True))
    else:
        scope = enterprise_scope(p)
        if not unlimited(scope):
            stmt = stmt.where(scope)
    rows = session.execute(stmt).all()
    entries = [
        (
            e.member,
            KeyListEntryOut(
                enterprise_id=e.enterprise_id,
                name=n,
                zone=z,
                points=e.points,
                reason=e.reason,
                change=e.change,
            ),
        )
        for e, n, z in rows
    ]
    return KeyListOut(
        name=kl.name,
        version=kl.version,
        year=kl.year,
        count=kl.count,
        run_id=kl.run_id,
        created_at=kl.created_at,
        solver=kl.solver,
        members=[x for m, x in entries if m],
        near_misses=[x for m, x in entries if not m],
    )


def latest_ranking(session: Session, year: int) -> ZoneRankingOut:
    found = session.execute(
        select(ZoneRanking).where(ZoneRanking.year == year).order_by(ZoneRanking.id.desc()).limit(1)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no pilot-zone ranking for {year}: run `innofin zones rank --year {year}`")
    return ZoneRankingOut.model_validate(found, from_attributes=True)
