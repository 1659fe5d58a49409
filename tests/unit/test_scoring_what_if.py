"""`engine.what_if` scores only the improved row (a percentile counted directly, other methods on
the one value) and gives exactly the gain of normalising the whole peer group, as it did."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.scoring import engine
from innofin.scoring.system import System, load_system, shipped_systems

SYSTEMS: list[System] = [load_system(name) for name in shipped_systems()]
CASES = [(s, i) for s in SYSTEMS for i in range(len(s.indicators))]


def whole_group(
    system: System,
    i: int,
    row: int,
    peers_raw: np.ndarray,
    stage: int,
    current: float,
    reference: tuple[float, float, float] | None,
    step: float,
) -> float:
    """The gain as computed before: the whole group normalised with the row improved."""
    ind = system.indicators[i]
    spec = ind.alternatives[0].normalise
    values = peers_raw.copy()
    if np.isnan(values[row]):
        values[row] = 0.0
    values[row] = values[row] + step
    kw = {}
    if reference is not None:
        r, m, s = reference
        kw = {k: np.full(values.shape, x) for k, x in (("reference", r), ("mean", m), ("sd", s))}
    new = engine.normalise(
        spec,
        values,
        higher=ind.spec.direction == "higher",
        codes=np.zeros(values.shape[0], dtype=np.int64),
        n_groups=1,
        **kw,
    )[row]
    sign = -1.0 if ind.group.kind == "negative" else 1.0
    return float((np.nan_to_num(new) - current) * system.weights[i, stage] * sign)


#: few distinct values, so ties (and -0.0 beside 0.0) are common
VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 3.0, 100.0, -4.0, float("nan")]),
    st.floats(-1e6, 1e6, allow_nan=False),
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(CASES),
    st.lists(VALUES, min_size=1, max_size=40),
    st.data(),
)
def test_the_gain_is_that_of_normalising_the_whole_group(
    case: tuple[System, int], raw: list[float], data: st.DataObject
) -> None:
    system, i = case
    peers = np.array(raw, dtype=np.float64)
    row = data.draw(st.integers(0, len(raw) - 1))
    stage = data.draw(st.integers(0, len(system.stages) - 1))
    current = data.draw(st.floats(0.0, 1.0))
    step = data.draw(st.sampled_from([1.0, 0.5, 10.0, 1e5]))
    reference = data.draw(
        st.one_of(
            st.none(),
            st.tuples(
                st.floats(-10.0, 1e6, allow_nan=False),
                st.floats(-10.0, 1e6, allow_nan=False),
                st.floats(0.0, 1e4, allow_nan=False),
            ),
        )
    )
    spec = system.indicators[i].alternatives[0].normalise
    if spec.uses_table and reference is None:
        reference = (1.0, 1.0, 1.0)  # a table reference always comes with one
    before = peers.copy()
    got = engine.what_if(system, i, row, peers, stage, current, reference, step)
    assert np.array_equal(peers, before, equal_nan=True)  # the peers are left as they were
    want = whole_group(system, i, row, peers, stage, current, reference, step)
    assert got == want or (np.isnan(got) and np.isnan(want)), (spec.method, got, want)
