"""Special-credit allocation runs: load the open needs of a programme and its cooperating
institutions' commitments, solve (`allocate_engine`), store the run with its solver, version,
parameters, status and objective, and turn an accepted run into proposed credit lines.

The ledger is read through its tables (agreements and their commitments: what is left of each
is ``amount - used``) and written only through its loans service's `propose_line`, so every
proposed line waits for its institution's checker as usual (maker-checker).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor
from innofin.kernel.codes import TechField
from innofin.kernel.errors import Conflict, InvalidInput, NotFound
from innofin.kernel.money import fen_of
from innofin.kernel.periods import add_months
from innofin.ledger.models import Agreement, AgreementCommitment, Programme
from innofin.matching.allocation import engine as alloc
from innofin.matching.models import AllocationRow, AllocationRun, FinancingNeed
from innofin.registry.models import Enterprise, Institution, Zone
from innofin.scoring.models import ScoreResult, ScoreRun

FIELDS = tuple(f.value for f in TechField)
#: the default per-enterprise cap (元) and zone floor (a share of what the zone's needs ask)
DEFAULT_CAP = Decimal("5000000")
DEFAULT_FLOOR_SHARE = Decimal("0.05")
#: the default rate of a proposed line (annual fraction): the 1-year LPR of October 2024
DEFAULT_RATE = Decimal("0.0310")


@dataclass(frozen=True)
class Quotas:
    """A programme's quotas in 元: per field and per zone (code) at most, per zone at least
    (`zone_floor`; zones not named get `floor_share` of what their needs ask), and the most one
    enterprise receives."""

    field_max: Mapping[str, Decimal]
    zone_max: Mapping[str, Decimal]
    zone_floor: Mapping[str, Decimal]
    floor_share: Decimal = DEFAULT_FLOOR_SHARE
    enterprise_cap: Decimal = DEFAULT_CAP

    def as_json(self) -> dict[str, Any]:
        return {
            "field_max": {k: str(v) for k, v in self.field_max.items()},
            "zone_max": {k: str(v) for k, v in self.zone_max.items()},
            "zone_floor": {k: str(v) for k, v in self.zone_floor.items()},
            "floor_share": str(self.floor_share),
            "enterprise_cap": str(self.enterprise_cap),
        }


def _fen(value: Decimal, name: str) -> int:
    if value < 0:
        raise InvalidInput(f"{name} must not be negative", field=name)
    return int(fen_of(value))


def allocate(
    session: Session,
    programme_id: int,
    quotas: Quotas,
    *,
    on: dt.date,
    created_by: str,
    mip_gap: float = 0.001,
    time_limit: float = 60.0,
) -> AllocationRun:
    """Solve the allocation of programme `programme_id` on day `on` and store the run
    (status ``proposed``). Its needs: those posted under it, and those posted under no
    programme by firms in its zones. Quotas that cannot be met are named in the run, not
    raised."""
    programme = session.get(Programme, programme_id)
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    for code in quotas.field_max:
        if code not in FIELDS:
            raise InvalidInput(f"unknown field {code!r} in the field quotas", field="field_max")
    zones = session.execute(select(Zone.id, Zone.code).order_by(Zone.id)).all()
    zone_codes = [z.code for z in zones]
    zone_pos = {z.id: i for i, z in enumerate(zones)}
    for name, book in (("zone_max", quotas.zone_max), ("zone_floor", quotas.zone_floor)):
        for code in book:
            if code not in zone_codes:
                raise InvalidInput(f"unknown zone {code!r} in {name}", field=name)
    needs = session.execute(
        select(
            FinancingNeed.id,
            FinancingNeed.amount,
            FinancingNeed.enterprise_id,
            Enterprise.tech_field,
            Enterprise.zone_id,
        )
        .join(Enterprise, Enterprise.id == FinancingNeed.enterprise_id)
        .where(
            or_(
                FinancingNeed.programme_id == programme_id,
                FinancingNeed.programme_id.is_(None)
                & Enterprise.zone_id.in_(list(programme.zone_ids or [])),
            ),
            FinancingNeed.status.in_(("open", "referred")),
        )
        .order_by(FinancingNeed.posted_at, FinancingNeed.id)
    ).all()
    skipped = [r.id for r in needs if r.tech_field not in FIELDS or r.zone_id not in zone_pos]
    needs = [r for r in needs if r.tech_field in FIELDS and r.zone_id in zone_pos]
    commitments = session.execute(
        select(
            AgreementCommitment.id,
            AgreementCommitment.amount,
            AgreementCommitment.used,
            AgreementCommitment.tech_field,
            Agreement.zone_id,
            Agreement.institution_id,
        )
        .join(Agreement, Agreement.id == AgreementCommitment.agreement_id)
        .where(
            Agreement.programme_id == programme_id,
            Agreement.status == "signed",
            AgreementCommitment.period_start <= on,
            AgreementCommitment.period_end >= on,
            AgreementCommitment.used < AgreementCommitment.amount,
        )
        .order_by(AgreementCommitment.id)
    ).all()
    points = _points(session, [r.enterprise_id for r in needs])
    amount = np.array([int(fen_of(r.amount)) for r in needs], dtype=np.int64)
    need_zone = np.array([zone_pos[r.zone_id] for r in needs], dtype=np.int64)
    asked = np.bincount(need_zone, weights=amount, minlength=len(zones))
    floor = np.zeros(len(zones), dtype=np.int64)
    share = quotas.floor_share
    if not Decimal(0) <= share <= 1:
        raise InvalidInput("floor_share is between 0 and 1", field="floor_share")
    floor[:] = np.floor(asked * float(share)).astype(np.int64)
    for code, value in quotas.zone_floor.items():
        floor[zone_codes.index(code)] = _fen(value, "zone_floor")
    zone_max = np.full(len(zones), -1, dtype=np.int64)
    for code, value in quotas.zone_max.items():
        zone_max[zone_codes.index(code)] = _fen(value, "zone_max")
    field_max = np.full(len(FIELDS), -1, dtype=np.int64)
    for code, value in quotas.field_max.items():
        field_max[FIELDS.index(code)] = _fen(value, "field_max")
    problem = alloc.Problem(
        amount=amount,
        weight=np.array([points.get(r.enterprise_id, 1.0) for r in needs], dtype=np.float64),
        need_field=np.array([FIELDS.index(r.tech_field) for r in needs], dtype=np.int64),
        need_zone=need_zone,
        enterprise=np.array([r.enterprise_id for r in needs], dtype=np.int64),
        capacity=np.array([int(fen_of(c.amount - c.used)) for c in commitments], dtype=np.int64),
        commitment_field=np.array(
            [-1 if c.tech_field is None else FIELDS.index(c.tech_field) for c in commitments],
            dtype=np.int64,
        ),
        commitment_zone=np.array(
            [-1 if c.zone_id is None else zone_pos.get(c.zone_id, -1) for c in commitments],
            dtype=np.int64,
        ),
        field_names=FIELDS,
        zone_names=zone_codes,
        field_max=field_max,
        zone_max=zone_max,
        zone_floor=floor,
        enterprise_cap=_fen(quotas.enterprise_cap, "enterprise_cap"),
        mip_gap=mip_gap,
        time_limit=time_limit,
    )
    try:
        result = alloc.solve(problem)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="quotas") from None
    names = dict(session.execute(select(Institution.id, Institution.name)).all())
    binding = []
    for b in result.binding:
        doc = b.as_json()
        if b.kind == "commitment":
            c = commitments[int(b.key)]
            doc["key"] = f"commitment {c.id} ({names.get(c.institution_id, c.institution_id)})"
        binding.append(doc)
    summary = result.summary()
    summary["binding"] = binding
    summary["skipped_needs"] = skipped
    summary["needs"] = len(needs)
    summary["commitments"] = len(commitments)
    if not needs:
        summary["message"] = f"programme {programme.code} has no open needs to allocate"
    elif not commitments:
        summary["message"] = (
            f"programme {programme.code} has no signed commitment with room left on {on}"
        )
    run = AllocationRun(
        programme_id=programme_id,
        objective_kind="amount_x_points",
        solver=result.solver.split(" ")[0],
        solver_version=result.solver.split(" ")[-1],
        parameters={**problem.parameters(), "quotas": quotas.as_json(), "on": on.isoformat()},
        solver_status=result.status,
        objective=result.objective,
        gap=result.gap if np.isfinite(result.gap) else None,
        fcfs_objective=result.fcfs_objective,
        result=summary,
        status="proposed",
        seconds=result.seconds,
        created_by=created_by,
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(run)
    session.flush()
    # one row per (need, institution); pieces of two commitments of one institution merged
    merged: dict[tuple[int, int], list[Any]] = {}
    for i, c, fen in zip(result.row_need, result.row_commitment, result.row_fen, strict=True):
        com = commitments[int(c)]
        key = (needs[int(i)].id, com.institution_id)
        if key in merged:
            merged[key][1] = None  # two commitments: the line names neither
            merged[key][2] += int(fen)
        else:
            merged[key] = [int(i), com.id, int(fen), com.tech_field, com.zone_id]
    session.add_all(
        AllocationRow(
            run_id=run.id,
            need_id=need_id,
            institution_id=inst,
            commitment_id=commitment_id,
            tech_field=needs[i].tech_field,
            zone_id=needs[i].zone_id,
            amount=Decimal(fen) / 100,
            weight=float(problem.weight[i]),
        )
        for (need_id, inst), (i, commitment_id, fen, _f, _z) in merged.items()
    )
    session.flush()
    return run


def _points(session: Session, enterprise_ids: list[int]) -> dict[int, float]:
    """Each firm's points in the latest scoring run (a firm without points weighs 1: its amount
    still counts, below every scored firm's)."""
    run = session.scalar(select(ScoreRun.id).order_by(ScoreRun.year.desc(), ScoreRun.id.desc()))
    if run is None or not enterprise_ids:
        return {}
    rows = session.execute(
        select(ScoreResult.enterprise_id, ScoreResult.points).where(
            ScoreResult.run_id == run, ScoreResult.enterprise_id.in_(set(enterprise_ids))
        )
    ).all()
    return {e: float(p) for e, p in rows}


def accept(
    session: Session,
    actor: Actor,
    run_id: int,
    *,
    opens_on: dt.date,
    rate: Decimal = DEFAULT_RATE,
) -> list[int]:
    """Accept a proposed run: each row becomes a credit line proposed in the ledger by `actor`
    (the maker; the institution's checker approves it as usual), drawing on its commitment.
    Returns the ids of the proposed lines."""
    from innofin.ledger.loans.service import LineSpec, propose_line
    from innofin.ledger.models import LedgerEvent

    stmt = select(AllocationRun).where(AllocationRun.id == run_id).with_for_update()
    run = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if run is None:
        raise NotFound(f"no allocation run {run_id}")
    if run.status != "proposed":
        raise Conflict(f"allocation run {run_id} is {run.status} already")
    rows = session.scalars(
        select(AllocationRow).where(AllocationRow.run_id == run_id).order_by(AllocationRow.id)
    ).all()
    needs = {
        n.id: n
        for n in session.scalars(
            select(FinancingNeed).where(FinancingNeed.id.in_([r.need_id for r in rows]))
        )
    }
    lines: list[int] = []
    for r in rows:  # one ledger proposal per row: the ledger's own checks on each
        need = needs[r.need_id]
        months = need.term_months
        matures = add_months(opens_on, months)
        ev: LedgerEvent = propose_line(
            session,
            actor,
            LineSpec(
                institution_id=r.institution_id,
                external_ref=f"ALLOC-{run_id}-{r.need_id}",
                enterprise_id=need.enterprise_id,
                limit_amount=r.amount,
                opens_on=opens_on,
                matures_on=matures,
                rate=rate,
                programme_id=run.programme_id,
                commitment_id=r.commitment_id,
            ),
            key=f"allocation-{run_id}-{r.id}",
        )
        r.credit_line_id = ev.entity_id
        lines.append(ev.entity_id)
    run.status = "accepted"
    run.decided_by = actor.label
    run.decided_at = dt.datetime.now(dt.UTC)
    session.flush()
    return lines
