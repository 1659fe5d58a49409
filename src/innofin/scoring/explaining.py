"""Explaining one enterprise's points: the breakdown stored by its run, its peer groups, the
missing data that cost it points, and the three improvements that would add the most.

The breakdown is read from the run's stored row; the peer groups and the improvements need the
whole population of the year (every peer's raw value), which costs a read of every indicator
report of the year — about a second at 50,000 enterprises, far more than a page or an API read
may spend. So the population is kept, per process, as a `Population`: the peer codes and labels,
the raw values of the indicators that have an improvement step, and the reference table — the
few columns explaining reads, not the whole input.

A population is kept under the run's *input fingerprint* (and its system's hash) once the data
read for it are verified to have exactly that fingerprint, i.e. to be the population the run
scored: a new run has a new key, and a kept population never needs invalidating, because it is
the run's own input. Only `KEEP` of them are kept (least recently used goes first). When the
data have changed since the run (a report corrected after it), the fingerprint differs and the
population read from today's data is kept for `FRESH_SECONDS` only, as it always was explained
from the data of the moment.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.kernel.errors import NotFound
from innofin.kernel.indicators import MONEY_FIELDS
from innofin.registry.models import Enterprise
from innofin.scoring import engine
from innofin.scoring.inputs import load_input
from innofin.scoring.models import ScoreResult, ScoreRun, ScoreSystemRecord
from innofin.scoring.service import (
    input_fingerprint,
    latest_run,
    stored_reference,
    system_for,
    unpack_detail,
)
from innofin.scoring.system import System

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

#: populations kept per process (each about 20 columns of the year's population)
KEEP = 3
#: how long a population read from data changed since its run is kept
FRESH_SECONDS = 10.0


@dataclass(frozen=True)
class ItemView:
    indicator: str
    name_zh: str
    name_en: str
    group: str
    group_kind: str
    raw: float | None
    normalised: float
    weight: float
    contribution: float
    missing: bool
    peer: str
    #: "yuan" when the raw value is an amount of money (the indicator is one money field)
    unit: str | None = None


@dataclass(frozen=True)
class Improvement:
    indicator: str
    name_zh: str
    name_en: str
    step: float
    label_zh: str
    label_en: str
    gain: float


@dataclass(frozen=True)
class Explanation:
    enterprise_id: int
    name: str
    year: int
    system: str
    run_id: int
    stage: str
    points: float
    previous_points: float | None
    ranks: dict[str, int]
    percentile: float
    verdict: str | None
    groups: dict[str, float]
    items: list[ItemView]
    #: missing data that cost points: (indicator, points it could have given at most)
    missing_cost: list[tuple[str, float]]
    improvements: list[Improvement]


def _stepped(system: System) -> list[int]:
    """The indicators an improvement is computed for."""
    return [
        i
        for i, ind in enumerate(system.indicators)
        if ind.spec.step is not None and ind.group.kind != "negative" and not ind.spec.best_of
    ]


@dataclass(frozen=True)
class PeerGroups:
    """Rows grouped by one set of peer keys: the rows of group c are
    ``order[starts[c]:starts[c + 1]]``, in ascending order."""

    codes: I64
    order: I64
    starts: I64

    @classmethod
    def of(cls, data: engine.ScoringInput, keys: tuple[str, ...]) -> PeerGroups:
        codes, size = data.peer_codes(keys)
        order = np.argsort(codes, kind="stable").astype(np.int64)  # rows ascending in a group
        starts = np.searchsorted(codes[order], np.arange(size + 1)).astype(np.int64)
        return cls(codes, order, starts)

    def of_row(self, row: int) -> I64:
        c = int(self.codes[row])
        return self.order[self.starts[c] : self.starts[c + 1]]


@dataclass(frozen=True)
class Population:
    """What explaining needs of a run's whole population (module docstring)."""

    system: System
    #: enterprise ids, peer codes and labels (no columns)
    data: engine.ScoringInput
    #: raw values of the stepped indicators' first alternative, by indicator id
    raw: dict[str, F64]
    reference: engine.ReferenceTable | None
    peers: dict[tuple[str, ...], PeerGroups]


def _read_population(session: Session, run_row: ScoreRun, rec: ScoreSystemRecord) -> _Read:
    """The population of `run_row`'s year as the database holds it now, and whether it is the
    run's own input."""
    system = system_for(session, rec.code)
    if system.sha256 != rec.sha256:
        # the shipped file changed since the run: explain with the system as it was run
        from innofin.kernel.yamlfile import YamlDocument
        from innofin.scoring.system import compile_system

        system = compile_system(YamlDocument(f"run {run_row.id}", rec.document, {}))
    data = load_input(session.connection(), system, run_row.year)
    env = engine.evaluate(system, data)
    ref = stored_reference(session, system, run_row.system_id, run_row.reference_year)
    slim = engine.ScoringInput(data.enterprise_id, data.codes, data.labels, {})
    stepped = [system.indicators[i] for i in _stepped(system)]
    keys = {tuple(ind.spec.peer) for ind in stepped}
    population = Population(
        system,
        slim,
        {ind.id: env[f"{ind.id}#0"] for ind in stepped},
        ref,
        {k: PeerGroups.of(data, k) for k in keys},
    )
    same = ref is not None and input_fingerprint(system, data, ref) == run_row.input_fingerprint
    return _Read(population, same)


@dataclass(frozen=True)
class _Read:
    population: Population
    #: the data are exactly the run's input (its fingerprint)
    as_run: bool


#: guards the dictionaries below, held only to look up or store (never while a population is read)
_lock = threading.Lock()
_kept: OrderedDict[tuple[str, str], Population] = OrderedDict()
_fresh: dict[tuple[str, int, str], tuple[float, Population]] = {}
#: one lock per run whose population is being read: the explanations of that run wait for the
#: one reader, those of other runs (and of kept populations) do not
_loading: dict[tuple[str, int, str], threading.Lock] = {}


def _found(key: tuple[str, str], fresh_key: tuple[str, int, str]) -> Population | None:
    """The population kept under `key` (or read recently under `fresh_key`); `_lock` held."""
    found = _kept.get(key)
    if found is not None:
        _kept.move_to_end(key)
        return found
    recent = _fresh.get(fresh_key)
    if recent is not None and time.monotonic() - recent[0] < FRESH_SECONDS:
        return recent[1]
    return None


def population(session: Session, run_row: ScoreRun, sha256: str | None = None) -> Population:
    """The run's population, kept per process (module docstring). One reader per run fills it;
    the run's other explanations wait for it rather than read the same year at once, while
    explanations of other runs go on. `sha256` is the run's system's hash (read here if not
    given)."""
    if sha256 is None:
        sha256 = session.scalar(
            select(ScoreSystemRecord.sha256).where(ScoreSystemRecord.id == run_row.system_id)
        )
    key = (str(sha256), run_row.input_fingerprint)
    fresh_key = (str(session.connection().engine.url), run_row.id, run_row.input_fingerprint)
    with _lock:
        found = _found(key, fresh_key)
        if found is not None:
            return found
        loading = _loading.setdefault(fresh_key, threading.Lock())
    try:
        with loading:
            with _lock:  # read by the reader this one waited for?
                found = _found(key, fresh_key)
            if found is not None:
                return found
            rec = session.get(ScoreSystemRecord, run_row.system_id)
            assert rec is not None
            read = _read_population(session, run_row, rec)
            with _lock:
                if read.as_run:
                    _kept[key] = read.population
                    while len(_kept) > KEEP:
                        _kept.popitem(last=False)
                else:
                    now = time.monotonic()
                    for k in [k for k, (t, _) in _fresh.items() if now - t >= FRESH_SECONDS]:
                        del _fresh[k]
                    _fresh[fresh_key] = (now, read.population)
            return read.population
    finally:
        with _lock:
            if _loading.get(fresh_key) is loading and not loading.locked():
                del _loading[fresh_key]


def forget() -> None:
    """Drop every kept population (tests; a process that wants its memory back)."""
    with _lock:
        _kept.clear()
        _fresh.clear()


def explain(
    session: Session, enterprise_id: int, year: int, system_code: str | None = None
) -> Explanation:
    """The breakdown of one enterprise's points in the latest run, its peer groups, the missing
    data that cost it points, and the three indicators whose improvement would add the most."""
    run_row = latest_run(session, year, system_code)
    # the result, the name and the system's hash in one round trip (each costs one on PostgreSQL)
    found = session.execute(
        select(ScoreResult, Enterprise.name, ScoreSystemRecord.sha256)
        .join(Enterprise, Enterprise.id == ScoreResult.enterprise_id)
        .join(ScoreSystemRecord, ScoreSystemRecord.id == run_row.system_id)
        .where(ScoreResult.run_id == run_row.id, ScoreResult.enterprise_id == enterprise_id)
    ).first()
    if found is None:
        raise NotFound(f"enterprise {enterprise_id} is not in scoring run {run_row.id} ({year})")
    result, name, sha256 = found
    pop = population(session, run_row, sha256)
    system, data, ref = pop.system, pop.data, pop.reference
    k, g = len(system.indicators), len(system.groups)
    raw, norm, _alt, group_points = unpack_detail(result.detail, k, g)
    stage = system.stages.index(result.stage)
    row = int(np.searchsorted(data.enterprise_id, enterprise_id))
    if row >= data.n or data.enterprise_id[row] != enterprise_id:
        raise NotFound(f"enterprise {enterprise_id} has no indicator report for {year}")
    stepped = set(_stepped(system))
    items: list[ItemView] = []
    missing_cost: list[tuple[str, float]] = []
    improvements: list[Improvement] = []
    for i, ind in enumerate(system.indicators):
        sign = -1.0 if ind.group.kind == "negative" else 1.0
        weight = float(system.weights[i, stage])
        contribution = float(norm[i]) * weight * sign
        peer_keys = list(ind.spec.peer)
        items.append(
            ItemView(
                ind.id,
                ind.spec.names.zh,
                ind.spec.names.en,
                ind.group.id,
                ind.group.kind,
                None if np.isnan(raw[i]) else float(raw[i]),
                float(norm[i]),
                weight,
                contribution,
                bool(np.isnan(raw[i])),
                data.peer_label(peer_keys, row),
                "yuan" if (ind.spec.expr or "").strip() in MONEY_FIELDS else None,
            )
        )
        if np.isnan(raw[i]) and ind.group.kind != "negative" and weight > 0:
            missing_cost.append((ind.id, weight * (1.0 - float(norm[i]))))
        if i not in stepped:
            continue
        assert ind.spec.step is not None
        peers = pop.peers[tuple(peer_keys)].of_row(row)
        peers_raw = pop.raw[ind.id][peers]
        at = int(np.searchsorted(peers, row))
        reference = None
        if ind.alternatives[0].normalise.uses_table and ref is not None:
            r, m, s = engine.reference_rows(system, data.take(np.array([row])), ref, (ind.id, 0))
            reference = (float(r[0]), float(m[0]), float(s[0]))
        gain = engine.what_if(
            system, i, at, peers_raw, stage, float(norm[i]), reference, ind.spec.step
        )
        if gain > 1e-9:
            label = ind.spec.step_label
            improvements.append(
                Improvement(
                    ind.id,
                    ind.spec.names.zh,
                    ind.spec.names.en,
                    ind.spec.step,
                    label.zh if label else f"+{ind.spec.step:g}",
                    label.en if label else f"+{ind.spec.step:g}",
                    gain,
                )
            )
    improvements.sort(key=lambda x: (-x.gain, x.indicator))
    missing_cost.sort(key=lambda x: (-x[1], x[0]))
    return Explanation(
        enterprise_id,
        name,
        year,
        system.id,
        run_row.id,
        result.stage,
        result.points,
        result.previous_points,
        {
            "national": result.rank_national,
            "zone": result.rank_zone,
            "field": result.rank_field,
            "stage": result.rank_stage,
        },
        result.percentile,
        result.verdict,
        {gid: float(group_points[j]) for j, gid in enumerate(g.id for g in system.groups)},
        items,
        [m for m in missing_cost if m[1] > 0],
        improvements[:3],
    )
