"""Scoring use cases: reference values, scoring runs, and explaining an enterprise's points.

Each use case owns its transaction; the engine does the computing. A run stores the system it used
(its resolved document and hash), a fingerprint of its inputs and one of its results, and per
enterprise the points, ranks and the packed breakdown (see `scoring.models`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.orm import Session

from innofin.audit.recorder import Actor, record
from innofin.db.engine import unit_of_work
from innofin.db.frames import FrameWriter
from innofin.kernel.errors import InvalidInput, NotFound
from innofin.registry.models import CertificationKindRef, Enterprise, Zone
from innofin.scoring import engine
from innofin.scoring.inputs import load_input
from innofin.scoring.models import ScoreReference, ScoreResult, ScoreRun, ScoreSystemRecord
from innofin.scoring.system import System, load_system

CHUNK = 50_000


def certification_kinds(conn: Connection | Session) -> frozenset[str]:
    return frozenset(conn.execute(select(CertificationKindRef.code)).scalars())


def system_for(conn: Connection | Session, name: str) -> System:
    return load_system(name, certifications=certification_kinds(conn))


def _system_id(session: Session, system: System) -> int:
    found = session.execute(
        select(ScoreSystemRecord.id).where(ScoreSystemRecord.sha256 == system.sha256)
    ).scalar_one_or_none()
    if found is not None:
        return found
    rec = ScoreSystemRecord(
        code=system.id,
        version=system.spec.version,
        sha256=system.sha256,
        document=system.document(),
        created_at=dt.datetime.now(dt.UTC),
    )
    session.add(rec)
    session.flush()
    return rec.id


def stored_reference(
    session: Session, system: System, system_id: int, year: int
) -> engine.ReferenceTable | None:
    rows = (
        session.execute(
            select(ScoreReference)
            .where(ScoreReference.system_id == system_id, ScoreReference.year == year)
            .order_by(ScoreReference.id)
        )
        .scalars()
        .all()
    )
    if not rows:
        return None
    labels: list[str] = []
    for r in rows:
        if r.group_label != "all" and r.group_label not in labels:
            labels.append(r.group_label)
    labels.append("all")
    pos = {label: i for i, label in enumerate(labels)}
    values: dict[tuple[str, int], npt.NDArray[np.float64]] = {}
    means: dict[tuple[str, int], npt.NDArray[np.float64]] = {}
    sds: dict[tuple[str, int], npt.NDArray[np.float64]] = {}
    counts: dict[tuple[str, int], npt.NDArray[np.int64]] = {}
    for r in rows:
        key = (r.indicator, r.alternative)
        if key not in values:
            values[key] = np.full(len(labels), np.nan)
            means[key] = np.full(len(labels), np.nan)
            sds[key] = np.full(len(labels), np.nan)
            counts[key] = np.zeros(len(labels), dtype=np.int64)
        i = pos[r.group_label]
        values[key][i] = np.nan if r.value is None else r.value
        means[key][i] = np.nan if r.mean is None else r.mean
        sds[key][i] = np.nan if r.sd is None else r.sd
        counts[key][i] = r.n
    keys = tuple(k for k in system.spec.reference.by if k != "all")
    return engine.ReferenceTable(keys, tuple(labels), values, means, sds, counts)


def _float_or_none(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _store_reference(
    session: Session, system_id: int, year: int, percentile: float, table: engine.ReferenceTable
) -> int:
    now = dt.datetime.now(dt.UTC)
    objs = []
    for (indicator, alt), values in table.values.items():
        for i, label in enumerate(table.labels):
            objs.append(
                ScoreReference(
                    system_id=system_id,
                    year=year,
                    indicator=indicator,
                    alternative=alt,
                    group_label=label,
                    n=int(table.counts[(indicator, alt)][i]),
                    value=_float_or_none(values[i]),
                    mean=_float_or_none(table.means[(indicator, alt)][i]),
                    sd=_float_or_none(table.sds[(indicator, alt)][i]),
                    percentile=percentile,
                    created_at=now,
                )
            )
    session.add_all(objs)
    return len(objs)


@dataclass(frozen=True)
class ReferenceSummary:
    system: str
    year: int
    rows: int
    enterprises: int
    replaced: bool


def compute_reference(
    eng: Engine, system_name: str, year: int, actor: Actor, *, replace: bool = False
) -> ReferenceSummary:
    """Compute and store a year's reference values from the whole population of that year."""
    with unit_of_work(eng, immediate=True, actor=actor) as session:
        system = system_for(session, system_name)
        sid = _system_id(session, system)
        existing = stored_reference(session, system, sid, year)
        if existing is not None and not replace:
            raise InvalidInput(
                f"reference values for {system.id} {year} exist already (use --replace)",
                field="year",
            )
        data = load_input(session.connection(), system, year)
        if data.n == 0:
            raise InvalidInput(f"no indicator reports for {year}", field="year")
        table = engine.build_reference(system, data)
        session.execute(
            delete(ScoreReference).where(
                ScoreReference.system_id == sid, ScoreReference.year == year
            )
        )
        rows = _store_reference(session, sid, year, system.spec.reference.percentile, table)
        record(
            session,
            actor,
            action="compute",
            entity="score_reference",
            entity_id=f"{system.id}/{year}",
            after={"rows": rows, "enterprises": data.n},
        )
    return ReferenceSummary(system.id, year, rows, data.n, existing is not None)


@dataclass(frozen=True)
class TopEntry:
    enterprise_id: int
    name: str
    zone: str | None
    points: float
    change: float | None


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    system: str
    sha256: str
    year: int
    enterprises: int
    seconds: dict[str, float]
    input_fingerprint: str
    result_fingerprint: str
    reference_computed: bool
    qualified: int | None
    top: list[TopEntry] = field(default_factory=list)


def input_fingerprint(system: System, data: engine.ScoringInput, ref: engine.ReferenceTable) -> str:
    h = hashlib.sha256(system.sha256.encode())
    h.update(engine.fingerprint_arrays(data.enterprise_id).encode())
    for key in sorted(data.codes):
        labels = np.array(data.labels[key], dtype=str)[data.codes[key]]
        h.update(engine.fingerprint_arrays(labels.astype("U")).encode())
    for name in sorted(data.columns):
        h.update(name.encode())
        h.update(engine.fingerprint_arrays(data.columns[name]).encode())
    for ref_key in sorted(ref.values):
        h.update(repr(ref_key).encode())
        h.update(
            engine.fingerprint_arrays(
                ref.values[ref_key], ref.means[ref_key], ref.sds[ref_key], ref.counts[ref_key]
            ).encode()
        )
    h.update("|".join(ref.labels).encode())
    return h.hexdigest()


def pack_detail(scores: engine.Scores) -> npt.NDArray[np.float64]:
    """(n, 3k + g): raw, normalised, alternative per indicator, then group points."""
    return np.ascontiguousarray(
        np.hstack(
            [
                scores.raw,
                scores.normalised,
                scores.alternative.astype(np.float64),
                scores.group_points,
            ]
        )
    )


def unpack_detail(blob: bytes, k: int, g: int) -> tuple[npt.NDArray[np.float64], ...]:
    arr = np.frombuffer(blob, dtype="<f8")
    if arr.shape[0] != 3 * k + g:
        raise InvalidInput("a stored breakdown does not fit its system")
    return arr[:k], arr[k : 2 * k], arr[2 * k : 3 * k], arr[3 * k :]


def run(
    eng: Engine,
    system_name: str,
    year: int,
    actor: Actor,
    *,
    progress: Callable[[str], None] | None = None,
    top: int = 10,
) -> RunSummary:
    """Score every enterprise reported for `year` and store the run; `progress` is told each
    stage's name as it starts."""
    step: Callable[[str], None] = (lambda _s: None) if progress is None else progress
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    with unit_of_work(eng, immediate=True, actor=actor) as session:
        conn = session.connection()
        system = system_for(session, system_name)
        sid = _system_id(session, system)
        step("load")
        data = load_input(conn, system, year)
        if data.n == 0:
            raise InvalidInput(f"no indicator reports for {year}", field="year")
        seconds["load"] = time.perf_counter() - t0
        t = time.perf_counter()
        ref = stored_reference(session, system, sid, year)
        computed = ref is None
        step("reference")
        if ref is None:
            ref = engine.build_reference(system, data)
            _store_reference(session, sid, year, system.spec.reference.percentile, ref)
        step("score")
        scores = engine.score(system, data, ref)
        seconds["score"] = time.perf_counter() - t
        t = time.perf_counter()
        step("write")
        previous = _previous_run(session, system.id, year - 1)
        prev_points = np.full(data.n, np.nan)
        if previous is not None:
            rows = session.execute(
                select(ScoreResult.enterprise_id, ScoreResult.points).where(
                    ScoreResult.run_id == previous
                )
            ).all()
            if rows:
                arr = np.array([tuple(r) for r in rows], dtype=np.float64)
                pos = np.searchsorted(data.enterprise_id, arr[:, 0].astype(np.int64))
                ok = (pos < data.n) & (data.enterprise_id[np.minimum(pos, data.n - 1)] == arr[:, 0])
                prev_points[pos[ok]] = arr[ok, 1]
        detail = pack_detail(scores)
        result_fp = engine.fingerprint_arrays(
            scores.enterprise_id,
            scores.points,
            detail,
            *(scores.rank[k] for k in sorted(scores.rank)),
        )
        run_row = ScoreRun(
            system_id=sid,
            year=year,
            reference_year=year,
            enterprises=data.n,
            input_fingerprint=input_fingerprint(system, data, ref),
            result_fingerprint=result_fp,
            previous_run_id=previous,
            seconds=0.0,
            actor=actor.label,
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(run_row)
        session.flush()
        _write_results(conn, run_row.id, system, data, scores, detail, prev_points)
        seconds["write"] = time.perf_counter() - t
        run_row.seconds = time.perf_counter() - t0
        record(
            session,
            actor,
            action="run",
            entity="score_run",
            entity_id=run_row.id,
            after={
                "system": system.id,
                "sha256": system.sha256,
                "year": year,
                "enterprises": data.n,
                "result_fingerprint": result_fp,
            },
        )
        tops = _top(session, run_row.id, top)
        qualified = None if scores.qualified is None else int(scores.qualified.sum())
    return RunSummary(
        run_row.id,
        system.id,
        system.sha256,
        year,
        data.n,
        seconds,
        run_row.input_fingerprint,
        result_fp,
        computed,
        qualified,
        tops,
    )


def _write_results(
    conn: Connection,
    run_id: int,
    system: System,
    data: engine.ScoringInput,
    scores: engine.Scores,
    detail: npt.NDArray[np.float64],
    prev_points: npt.NDArray[np.float64],
) -> None:
    columns = [
        "run_id",
        "enterprise_id",
        "stage",
        "points",
        "previous_points",
        "rank_national",
        "rank_zone",
        "rank_field",
        "rank_stage",
        "percentile",
        "qualified",
        "verdict",
        "detail",
    ]
    writer = FrameWriter(conn, ScoreResult.__table__, columns)  # type: ignore[arg-type]
    stages = np.array(system.stages, dtype=object)[data.codes["stage"]]
    assert scores.percentile is not None
    width = detail.shape[1] * 8
    blobs = np.ascontiguousarray(detail).view(np.dtype((np.void, width))).ravel()
    for start in range(0, data.n, CHUNK):
        sl = slice(start, start + CHUNK)
        frame = pl.DataFrame(
            {
                "run_id": np.full(min(CHUNK, data.n - start), run_id, dtype=np.int64),
                "enterprise_id": data.enterprise_id[sl],
                "stage": pl.Series(stages[sl].tolist(), dtype=pl.Utf8),
                "points": scores.points[sl],
                "previous_points": pl.Series(prev_points[sl]).fill_nan(None),
                "rank_national": scores.rank["national"][sl],
                "rank_zone": scores.rank["zone"][sl],
                "rank_field": scores.rank["field"][sl],
                "rank_stage": scores.rank["stage"][sl],
                "percentile": scores.percentile[sl],
                "qualified": pl.Series(
                    None if scores.qualified is None else scores.qualified[sl], dtype=pl.Boolean
                )
                if scores.qualified is not None
                else pl.Series([None] * len(stages[sl]), dtype=pl.Boolean),
                "verdict": pl.Series(
                    scores.verdict[sl].tolist()
                    if scores.verdict is not None
                    else [None] * len(stages[sl]),
                    dtype=pl.Utf8,
                ),
                "detail": pl.Series([b.tobytes() for b in blobs[sl]], dtype=pl.Binary),
            }
        )
        writer.write(frame)


def _previous_run(session: Session, system_code: str, year: int) -> int | None:
    return session.execute(
        select(ScoreRun.id)
        .join(ScoreSystemRecord, ScoreSystemRecord.id == ScoreRun.system_id)
        .where(ScoreSystemRecord.code == system_code, ScoreRun.year == year)
        .order_by(ScoreRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def latest_run(session: Session, year: int, system_code: str | None = None) -> ScoreRun:
    stmt = select(ScoreRun).where(ScoreRun.year == year)
    if system_code is not None:
        stmt = stmt.join(ScoreSystemRecord, ScoreSystemRecord.id == ScoreRun.system_id).where(
            ScoreSystemRecord.code == system_code
        )
    found = session.execute(stmt.order_by(ScoreRun.id.desc()).limit(1)).scalar_one_or_none()
    if found is None:
        which = f" with {system_code}" if system_code else ""
        raise NotFound(f"no scoring run for {year}{which}: run `innofin score run --year {year}`")
    return found


def _top(session: Session, run_id: int, n: int) -> list[TopEntry]:
    rows = session.execute(
        select(
            ScoreResult.enterprise_id,
            Enterprise.name,
            Zone.code,
            ScoreResult.points,
            ScoreResult.previous_points,
        )
        .join(Enterprise, Enterprise.id == ScoreResult.enterprise_id)
        .outerjoin(Zone, Zone.id == Enterprise.zone_id)
        .where(ScoreResult.run_id == run_id)
        .order_by(ScoreResult.rank_national, ScoreResult.enterprise_id)
        .limit(n)
    ).all()
    return [
        TopEntry(e, name, zone, pts, None if prev is None else pts - prev)
        for e, name, zone, pts, prev in rows
    ]
