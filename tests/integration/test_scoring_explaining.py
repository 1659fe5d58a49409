"""Explanations from the kept population equal the explanation computed from scratch (the whole
year read and evaluated for each enterprise, peers found by comparing every row's code) — for
every enterprise of a run, after the data change without a new run, and after a new run — on
SQLite and PostgreSQL; and the population's peer groups equal the plain comparison."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update

from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.demo import service as demo
from innofin.demo.engine import Scale
from innofin.registry.models import IndicatorReport
from innofin.scoring import engine as scoring_engine
from innofin.scoring import explaining, service
from innofin.scoring.inputs import load_input
from innofin.scoring.models import ScoreResult, ScoreRun, ScoreSystemRecord

TINY = Scale("tiny", zones=6, enterprises=300, institutions=8, products=8)
ACTOR = Actor.cli("test")


@pytest.fixture
def world(engine: Engine) -> Iterator[Engine]:
    demo.generate_demo(engine, TINY, seed=5)
    explaining.forget()
    yield engine
    explaining.forget()


def from_scratch(s: object, enterprise_id: int, year: int) -> explaining.Explanation:
    """The explanation as it was computed before populations were kept: the year read and
    evaluated on every call, the peers of each indicator by comparing every row's code."""
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    run_row = service.latest_run(s, year, "default")
    rec = s.get(ScoreSystemRecord, run_row.system_id)
    assert rec is not None
    result = s.get(ScoreResult, (run_row.id, enterprise_id))
    assert result is not None
    system = service.system_for(s, rec.code)
    data = load_input(s.connection(), system, year)
    env = scoring_engine.evaluate(system, data)
    ref = service.stored_reference(s, system, run_row.system_id, run_row.reference_year)
    k, g = len(system.indicators), len(system.groups)
    raw, norm, _alt, _groups = service.unpack_detail(result.detail, k, g)
    stage = system.stages.index(result.stage)
    row = int(np.searchsorted(data.enterprise_id, enterprise_id))
    peers_of, gains = [], []
    for i, ind in enumerate(system.indicators):
        peers_of.append(data.peer_label(list(ind.spec.peer), row))
        if ind.spec.step is None or ind.group.kind == "negative" or ind.spec.best_of:
            continue
        codes, _size = data.peer_codes(list(ind.spec.peer))
        peers = np.flatnonzero(codes == codes[row])
        at = int(np.searchsorted(peers, row))
        reference = None
        if ind.alternatives[0].normalise.uses_table and ref is not None:
            r, m, sd = scoring_engine.reference_rows(
                system, data.take(np.array([row])), ref, (ind.id, 0)
            )
            reference = (float(r[0]), float(m[0]), float(sd[0]))
        gain = scoring_engine.what_if(
            system, i, at, env[f"{ind.id}#0"][peers], stage, float(norm[i]), reference,
            ind.spec.step,
        )  # fmt: skip
        if gain > 1e-9:
            gains.append((ind.id, gain))
    gains.sort(key=lambda x: (-x[1], x[0]))
    kept = explaining.explain(s, enterprise_id, year, "default")
    # the breakdown itself is the run's stored row either way; what the population changes is
    # the peer groups and the improvements: rebuild those from scratch on the kept answer
    items = [replace(item, peer=peers_of[i]) for i, item in enumerate(kept.items)]
    improvements = [
        replace(m, gain=gain) for m, (_ind, gain) in zip(kept.improvements, gains[:3], strict=False)
    ]
    assert [m.indicator for m in kept.improvements] == [x[0] for x in gains[:3]]
    assert raw.shape[0] == len(kept.items)
    return replace(kept, items=items, improvements=improvements)


def _ids(engine: Engine, run_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.scalars(select(ScoreResult.enterprise_id).where(ScoreResult.run_id == run_id))
        )


def test_kept_populations_explain_as_from_scratch(world: Engine) -> None:
    first = service.run(world, "default", 2024, ACTOR)
    ids = _ids(world, first.run_id)
    with unit_of_work(world) as s:
        for eid in ids[::3]:
            assert explaining.explain(s, eid, 2024, "default") == from_scratch(s, eid, 2024)
    assert len(explaining._kept) == 1 and not explaining._fresh  # verified as the run's input

    # a report corrected after the run: the data are no longer the run's input, so the
    # population is read from today's data (and kept a few seconds only), as before
    changed = ids[len(ids) // 2]
    with unit_of_work(world) as s:
        s.execute(
            update(IndicatorReport)
            .where(IndicatorReport.enterprise_id == changed, IndicatorReport.year == 2024)
            .values(rd_expense=IndicatorReport.rd_expense * 3 + 1_000_000)
        )
    explaining.forget()
    with unit_of_work(world) as s:
        for eid in [*ids[:: max(1, len(ids) // 40)], changed]:
            assert explaining.explain(s, eid, 2024, "default") == from_scratch(s, eid, 2024)
    assert not explaining._kept and len(explaining._fresh) == 1

    # a new run: a new key, kept again, and the explanation follows it
    second = service.run(world, "default", 2024, ACTOR)
    assert second.input_fingerprint != first.input_fingerprint
    with unit_of_work(world) as s:
        for eid in [*ids[:: max(1, len(ids) // 40)], changed]:
            x = explaining.explain(s, eid, 2024, "default")
            assert x.run_id == second.run_id
            assert x == from_scratch(s, eid, 2024)
        assert s.scalar(select(ScoreRun.id).order_by(ScoreRun.id.desc())) == second.run_id
    assert len(explaining._kept) == 1  # the new run's; the old key is simply never asked again


def test_only_a_few_populations_are_kept(world: Engine) -> None:
    for year in (2022, 2023, 2024):
        service.run(world, "default", year, ACTOR)
    service.run(world, "tech-sme", 2024, ACTOR)
    with unit_of_work(world) as s:
        for year, system in ((2022, "default"), (2023, "default"), (2024, "default")):
            run_row = service.latest_run(s, year, system)
            eid = _ids(world, run_row.id)[0]
            explaining.explain(s, eid, year, system)
        run_row = service.latest_run(s, 2024, "tech-sme")
        explaining.explain(s, _ids(world, run_row.id)[0], 2024, "tech-sme")
    assert len(explaining._kept) == explaining.KEEP


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=200),
    st.lists(st.integers(0, 3), min_size=1, max_size=200),
    st.data(),
)
def test_peer_groups_are_the_rows_with_the_same_code(
    fields: list[int], stages: list[int], data: st.DataObject
) -> None:
    n = min(len(fields), len(stages))
    population = scoring_engine.ScoringInput(
        np.arange(n, dtype=np.int64),
        {"field": np.array(fields[:n]), "stage": np.array(stages[:n])},
        {"field": [f"f{i}" for i in range(7)], "stage": [f"s{i}" for i in range(4)]},
        {},
    )
    keys = data.draw(st.sampled_from([(), ("all",), ("field",), ("field", "stage")]))
    groups = explaining.PeerGroups.of(population, keys)
    codes, _size = population.peer_codes(keys)
    for row in range(n):
        assert groups.of_row(row).tolist() == np.flatnonzero(codes == codes[row]).tolist()


def test_a_run_being_read_blocks_only_its_own_explanations(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one run's population is read, another run's is read at the same time and a kept
    run is explained at once; the run's own second explanation waits and reads nothing again.
    (Under one lock for every run, the second and third explanations below would wait for the
    first, which waits for them: the threads would never finish.)"""
    demo.generate_demo(sqlite_engine, TINY, seed=5)
    explaining.forget()
    for year in (2022, 2023, 2024):
        service.run(sqlite_engine, "default", year, ACTOR)
    with unit_of_work(sqlite_engine) as s:
        ids = {
            y: _ids(sqlite_engine, service.latest_run(s, y, "default").id)[0]
            for y in (2022, 2023, 2024)
        }
        explaining.explain(s, ids[2022], 2022, "default")  # kept before the others start

    read = explaining._read_population
    reading_2024, release_2024 = threading.Event(), threading.Event()
    reads: list[int] = []

    def slow_read(session: Any, run_row: ScoreRun, rec: ScoreSystemRecord) -> Any:
        reads.append(run_row.year)
        if run_row.year == 2024:
            reading_2024.set()
            assert release_2024.wait(120), "the 2024 read was never released"
        return read(session, run_row, rec)

    monkeypatch.setattr(explaining, "_read_population", slow_read)
    results: dict[str, explaining.Explanation] = {}

    def explain(name: str, year: int) -> threading.Thread:
        def go() -> None:
            with unit_of_work(sqlite_engine) as s:
                results[name] = explaining.explain(s, ids[year], year, "default")

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        return thread

    first = explain("2024 first", 2024)
    assert reading_2024.wait(120)
    second = explain("2024 second", 2024)  # waits for the first reader
    other = explain("2023", 2023)  # another run: read meanwhile
    kept = explain("2022", 2022)  # a kept run: answered meanwhile
    for thread in (other, kept):
        thread.join(120)
        assert not thread.is_alive(), "blocked by the run being read"
    assert {"2023", "2022"} <= results.keys() and "2024 first" not in results
    assert second.is_alive()  # still waiting for the one reader of 2024
    release_2024.set()
    for thread in (first, second):
        thread.join(120)
        assert not thread.is_alive()
    assert sorted(reads) == [2023, 2024]  # 2024 read once, 2022 not again
    assert results["2024 first"] == results["2024 second"]
    assert not explaining._loading
    explaining.forget()
