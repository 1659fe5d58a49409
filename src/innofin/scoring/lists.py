"""Key-enterprise lists (重点企业名单): rules as YAML, exact selection, versions with history.

``innofin lists select --year 2024 --count 1000 --rules RULES.yaml`` reads the latest scoring run
of the rules' system, applies the eligibility rules, and chooses the members maximising total
points under the quotas, solved exactly with HiGHS (`select_engine`). Each version of a named list
is stored with its rules, the solver's report, every member's reason, the near misses and why each
was left out, and who entered and left since the previous version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, record
from innofin.db.engine import unit_of_work
from innofin.ingest.writers import write_workbook
from innofin.kernel.errors import InvalidInput, NotFound
from innofin.kernel.periods import add_months
from innofin.kernel.yamlfile import YamlDocument, load_yaml
from innofin.ledger.queries import troubled_enterprises
from innofin.registry.models import Certification, Enterprise, Zone
from innofin.scoring import explain_engine, select_engine
from innofin.scoring.models import KeyList, KeyListEntry, KeyListExit, ScoreResult
from innofin.scoring.service import latest_run


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(_Strict):
    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)


class Eligibility(_Strict):
    #: a valid certificate of one of these kinds at the end of the year (empty: none needed)
    certificates_any: list[str] = Field(default_factory=list)
    min_points: float | None = None
    #: the rule set's verdict (e.g. tech-sme) must be "qualified"
    qualified: bool = False
    #: at most this many consecutive years in a list of the same name
    max_consecutive_years: int | None = Field(default=None, ge=1)
    #: no default and no 90+ days overdue in the last N months (read from the ledger)
    no_default_months: int | None = Field(default=None, ge=1)


class ListRules(_Strict):
    name: str = Field(min_length=1, max_length=120)
    system: str = "default"
    count: int | None = Field(default=None, ge=1)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    #: default bounds for every zone / field / province, then bounds for named ones
    zone: Bounds | None = None
    zones: dict[str, Bounds] = Field(default_factory=dict)
    field: Bounds | None = None
    fields: dict[str, Bounds] = Field(default_factory=dict)
    province: Bounds | None = None
    provinces: dict[str, Bounds] = Field(default_factory=dict)
    time_limit: float = Field(default=60.0, gt=0)
    mip_gap: float = Field(default=0.0, ge=0)
    near_misses: int = Field(default=50, ge=0)


def shipped_rules() -> list[str]:
    folder = resources.files("innofin.scoring") / "rules"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_rules(path: Path) -> tuple[ListRules, YamlDocument]:
    """A rules file by path, or a shipped example by name (``key-enterprises``)."""
    if str(path) in shipped_rules():
        ref = resources.files("innofin.scoring") / "rules" / f"{path}.yaml"
        doc = load_yaml(ref.read_text(encoding="utf-8"), f"{path}.yaml")
    elif not path.is_file():
        known = ", ".join(shipped_rules())
        raise InvalidInput(f"{path}: no such rules file (shipped: {known})", field="rules")
    else:
        doc = load_yaml(path.read_text(encoding="utf-8"), str(path))
    try:
        return ListRules.model_validate(doc.data), doc
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [p for p in first["loc"] if isinstance(p, str | int)]
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = f"unknown field {loc[-1]!r}"
        raise doc.error(loc, msg) from None


@dataclass(frozen=True)
class Pool:
    """The scored population of a run with what eligibility and quotas need."""

    enterprise_id: npt.NDArray[np.int64]
    points: npt.NDArray[np.float64]
    zone: npt.NDArray[np.object_]
    province: npt.NDArray[np.object_]
    field: npt.NDArray[np.object_]
    qualified: npt.NDArray[np.bool_]
    name: npt.NDArray[np.object_]
    rank: npt.NDArray[np.int64]


def _pool(session: Session, run_id: int) -> Pool:
    rows = session.execute(
        select(
            ScoreResult.enterprise_id,
            ScoreResult.points,
            Zone.code,
            Zone.province,
            Enterprise.tech_field,
            ScoreResult.qualified,
            Enterprise.name,
            ScoreResult.rank_national,
        )
        .join(Enterprise, Enterprise.id == ScoreResult.enterprise_id)
        .outerjoin(Zone, Zone.id == Enterprise.zone_id)
        .where(ScoreResult.run_id == run_id)
        .order_by(ScoreResult.enterprise_id)
    ).all()
    cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 8

    def text(i: int) -> npt.NDArray[np.object_]:
        return np.array(["-" if v is None else str(v) for v in cols[i]], dtype=object)

    return Pool(
        np.array(cols[0], dtype=np.int64),
        np.array(cols[1], dtype=np.float64),
        text(2),
        text(3),
        text(4),
        np.array([bool(v) for v in cols[5]], dtype=bool),
        text(6),
        np.array(cols[7], dtype=np.int64),
    )


def _quotas(rules: ListRules, pool: Pool) -> list[select_engine.Quota]:
    out: list[select_engine.Quota] = []
    for kind, default, named, values in (
        ("zone", rules.zone, rules.zones, pool.zone),
        ("field", rules.field, rules.fields, pool.field),
        ("province", rules.province, rules.provinces, pool.province),
    ):
        keys = sorted(set(values.tolist()) | set(named))
        for key in keys:
            bounds = named.get(key, default)
            if bounds is not None and (bounds.min > 0 or bounds.max is not None):
                out.append(select_engine.Quota(kind, key, bounds.min, bounds.max))
    return out


@dataclass(frozen=True)
class ListSummary:
    list_id: int
    name: str
    version: int
    year: int
    run_id: int
    count: int
    solver: dict[str, Any]
    members: list[tuple[int, str, str, float, str]]  # id, name, zone, points, reason
    near_misses: list[tuple[int, str, str, float, str]]
    entered: int
    left: int
    notes: list[str]


def _eligibility(
    session: Session, rules: ListRules, pool: Pool, year: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_], list[str]]:
    n = pool.enterprise_id.shape[0]
    eligible = np.ones(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    notes: list[str] = []
    rule = rules.eligibility

    def refuse(mask: npt.NDArray[np.bool_], why: str) -> None:
        new = mask & eligible
        reason[new] = why
        eligible[new] = False

    if rule.certificates_any:
        end = dt.date(year, 12, 31)
        held = (
            session.execute(
                select(Certification.enterprise_id)
                .where(
                    Certification.kind.in_(rule.certificates_any),
                    Certification.valid_from <= end,
                    (Certification.valid_until.is_(None)) | (Certification.valid_until >= end),
                )
                .distinct()
            )
            .scalars()
            .all()
        )
        has = np.isin(pool.enterprise_id, np.array(held, dtype=np.int64))
        refuse(~has, "no valid certificate (" + " / ".join(rule.certificates_any) + ")")
    if rule.qualified:
        refuse(~pool.qualified, "not qualified under the rule set")
    if rule.min_points is not None:
        refuse(pool.points < rule.min_points, f"points below the minimum {rule.min_points:g}")
    if rule.max_consecutive_years is not None:
        streak = _streaks(session, rules.name, year, pool.enterprise_id)
        refuse(
            streak >= rule.max_consecutive_years,
            f"already listed {rule.max_consecutive_years} consecutive years",
        )
    if rule.no_default_months is not None:
        end = dt.date(year, 12, 31)
        # the day after the same day N months earlier: a window of whole months
        start = add_months(end, -rule.no_default_months) + dt.timedelta(days=1)
        troubled = troubled_enterprises(session, start, end)
        refuse(
            np.isin(pool.enterprise_id, np.array(troubled, dtype=np.int64)),
            f"a default or 90+ days overdue in the {rule.no_default_months} months to {end}",
        )
        notes.append(
            f"no_default_months {rule.no_default_months}: read from the ledger "
            f"({start} to {end}, {len(troubled)} enterprises with a default or 90+ days overdue)"
        )
    return eligible, reason, notes


def _streaks(
    session: Session, name: str, year: int, ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Consecutive years up to `year - 1` in which each enterprise was a member of `name` (the
    latest version of each year counts)."""
    latest = (
        select(KeyList.year, func.max(KeyList.version).label("v"))
        .where(KeyList.name == name, KeyList.year < year)
        .group_by(KeyList.year)
        .subquery()
    )
    rows = session.execute(
        select(KeyList.year, KeyListEntry.enterprise_id)
        .join(latest, (latest.c.year == KeyList.year) & (latest.c.v == KeyList.version))
        .join(KeyListEntry, KeyListEntry.list_id == KeyList.id)
        .where(KeyList.name == name, KeyListEntry.member.is_(True))
    ).all()
    members: dict[int, set[int]] = {}
    for y, e in rows:
        members.setdefault(y, set()).add(e)
    streak = np.zeros(ids.shape[0], dtype=np.int64)
    alive = np.ones(ids.shape[0], dtype=bool)
    y = year - 1
    while y in members and alive.any():
        alive &= np.isin(ids, np.fromiter(members[y], dtype=np.int64))
        streak += alive
        y -= 1
    return streak


def select_list(
    eng: Engine,
    rules_path: Path,
    year: int,
    actor: Actor,
    *,
    count: int | None = None,
    name: str | None = None,
) -> ListSummary:
    rules, _doc = read_rules(rules_path)
    count = count if count is not None else rules.count
    if count is None:
        raise InvalidInput(
            "how many to choose: give --count or `count` in the rules", field="count"
        )
    list_name = name or rules.name
    with unit_of_work(eng, immediate=True, actor=actor) as session:
        run_row = latest_run(session, year, rules.system)
        pool = _pool(session, run_row.id)
        eligible, why_not, notes = _eligibility(session, rules, pool, year)
        problem = select_engine.SelectionProblem(
            points=pool.points,
            eligible=eligible,
            groups={"zone": pool.zone, "field": pool.field, "province": pool.province},
            count=count,
            quotas=_quotas(rules, pool),
            time_limit=rules.time_limit,
            mip_gap=rules.mip_gap,
        )
        result = select_engine.select(problem)
        chosen = np.flatnonzero(result.chosen)
        chosen = chosen[np.lexsort((pool.enterprise_id[chosen], -pool.points[chosen]))]
        left_out = np.flatnonzero(~result.chosen)
        left_out = left_out[np.lexsort((pool.enterprise_id[left_out], -pool.points[left_out]))]
        near = left_out[: rules.near_misses]
        near_eligible = near[eligible[near]]
        reasons = dict(
            zip(
                near_eligible.tolist(),
                explain_engine.leave_out_reasons(problem, result, near_eligible),
                strict=True,
            )
        )
        version = (
            session.execute(
                select(func.max(KeyList.version)).where(KeyList.name == list_name)
            ).scalar_one_or_none()
            or 0
        ) + 1
        previous = _members_of(session, list_name, version - 1) if version > 1 else set()
        solver = {
            "solver": result.solver,
            "status": result.status,
            "objective": result.objective,
            "bound": result.bound,
            "gap": result.gap,
            "seconds": round(result.seconds, 3),
            "time_limit": rules.time_limit,
            "mip_gap": rules.mip_gap,
            "binding": list(result.binding),
            "cutoff": result.cutoff,
            "notes": notes,
        }
        canonical = json.dumps(rules.model_dump(mode="json"), sort_keys=True)
        row = KeyList(
            name=list_name,
            version=version,
            year=year,
            run_id=run_row.id,
            count=int(count),
            rules=rules.model_dump(mode="json"),
            rules_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
            solver=solver,
            actor=actor.label,
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.flush()
        members_out, near_out = [], []
        entries = []
        chosen_ids = set(pool.enterprise_id[chosen].tolist())
        for pos, i in enumerate(chosen.tolist(), start=1):
            eid = int(pool.enterprise_id[i])
            reason = f"{pool.points[i]:.1f} points, national rank {pool.rank[i]}"
            entries.append(
                KeyListEntry(
                    list_id=row.id,
                    enterprise_id=eid,
                    member=True,
                    position=pos,
                    points=float(pool.points[i]),
                    reason=reason,
                    change="stayed" if eid in previous else "entered",
                )
            )
            members_out.append(
                (eid, str(pool.name[i]), str(pool.zone[i]), float(pool.points[i]), reason)
            )
        for pos, i in enumerate(near.tolist(), start=1):
            eid = int(pool.enterprise_id[i])
            reason = str(why_not[i]) if not eligible[i] else reasons[i]
            entries.append(
                KeyListEntry(
                    list_id=row.id,
                    enterprise_id=eid,
                    member=False,
                    position=pos,
                    points=float(pool.points[i]),
                    reason=reason[:300],
                    change="none",
                )
            )
            near_out.append(
                (eid, str(pool.name[i]), str(pool.zone[i]), float(pool.points[i]), reason)
            )
        session.add_all(entries)
        index = {int(e): i for i, e in enumerate(pool.enterprise_id.tolist())}
        exits = []
        for eid in sorted(previous - chosen_ids):
            at = index.get(eid)
            if at is None:
                why = f"not scored in {year}"
            elif not eligible[at]:
                why = f"no longer eligible: {why_not[at]}"
            else:
                why = f"left out: {pool.points[at]:.1f} points"
            exits.append(KeyListExit(list_id=row.id, enterprise_id=eid, reason=why[:300]))
        session.add_all(exits)
        record(
            session,
            actor,
            action="select",
            entity="key_list",
            entity_id=row.id,
            after={
                "name": list_name,
                "version": version,
                "year": year,
                "count": count,
                "objective": result.objective,
                "status": result.status,
            },
        )
        entered = len(chosen_ids - previous)
    return ListSummary(
        row.id,
        list_name,
        version,
        year,
        run_row.id,
        int(count),
        solver,
        members_out,
        near_out,
        entered,
        len(exits),
        notes,
    )


def _members_of(session: Session, name: str, version: int) -> set[int]:
    return set(
        session.execute(
            select(KeyListEntry.enterprise_id)
            .join(KeyList, KeyList.id == KeyListEntry.list_id)
            .where(KeyList.name == name, KeyList.version == version, KeyListEntry.member.is_(True))
        ).scalars()
    )


def find_list(session: Session, name: str, version: int | None = None) -> KeyList:
    stmt = select(KeyList).where(KeyList.name == name)
    stmt = stmt.where(KeyList.version == version) if version else stmt
    found = session.execute(stmt.order_by(KeyList.version.desc()).limit(1)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no key list {name!r}" + (f" version {version}" if version else ""))
    return found


def export_list(session: Session, name: str, version: int | None, path: Path) -> int:
    """Members, near misses, exits and the solver's report as an XLSX workbook."""
    kl = find_list(session, name, version)
    rows = session.execute(
        select(
            KeyListEntry, Enterprise.identifier, Enterprise.name, Zone.code, Enterprise.tech_field
        )
        .join(Enterprise, Enterprise.id == KeyListEntry.enterprise_id)
        .outerjoin(Zone, Zone.id == Enterprise.zone_id)
        .where(KeyListEntry.list_id == kl.id)
        .order_by(KeyListEntry.member.desc(), KeyListEntry.position)
    ).all()
    head = ["position", "enterprise_id", "identifier", "name", "zone", "field", "points", "reason"]
    members = [
        (e.position, e.enterprise_id, ident, nm, z, f, round(e.points, 2), e.reason)
        for e, ident, nm, z, f in rows
        if e.member
    ]
    near = [
        (e.position, e.enterprise_id, ident, nm, z, f, round(e.points, 2), e.reason)
        for e, ident, nm, z, f in rows
        if not e.member
    ]
    exits = session.execute(
        select(KeyListExit.enterprise_id, Enterprise.name, KeyListExit.reason)
        .join(Enterprise, Enterprise.id == KeyListExit.enterprise_id)
        .where(KeyListExit.list_id == kl.id)
        .order_by(KeyListExit.enterprise_id)
    ).all()
    about = [
        ("name", kl.name),
        ("version", kl.version),
        ("year", kl.year),
        ("scoring run", kl.run_id),
        ("count", kl.count),
        ("created", str(kl.created_at)),
        ("by", kl.actor),
        ("rules sha256", kl.rules_sha256),
    ]
    about += [
        (k, json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v)
        for k, v in kl.solver.items()
    ]
    return write_workbook(
        path,
        [
            ("名单 members", head, members),
            ("落选 near misses", head, near),
            ("退出 exits", ["enterprise_id", "name", "reason"], [tuple(r) for r in exits]),
            ("求解 solver", ["item", "value"], about),
        ],
    )


def history(session: Session, name: str) -> list[dict[str, Any]]:
    """Every version of a list: when, how many, who entered and who left."""
    lists = (
        session.execute(select(KeyList).where(KeyList.name == name).order_by(KeyList.version))
        .scalars()
        .all()
    )
    if not lists:
        raise NotFound(f"no key list {name!r}")
    out = []
    for kl in lists:
        entered = session.execute(
            select(func.count())
            .select_from(KeyListEntry)
            .where(KeyListEntry.list_id == kl.id, KeyListEntry.change == "entered")
        ).scalar_one()
        left = session.execute(
            select(func.count()).select_from(KeyListExit).where(KeyListExit.list_id == kl.id)
        ).scalar_one()
        out.append(
            {
                "version": kl.version,
                "year": kl.year,
                "count": kl.count,
                "created_at": kl.created_at,
                "by": kl.actor,
                "entered": entered,
                "left": left,
                "objective": kl.solver.get("objective"),
                "status": kl.solver.get("status"),
            }
        )
    return out
