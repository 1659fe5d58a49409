"""Natural keys already seen in a file, to catch duplicates across batches in little memory.

A Python set of a million tuples costs well over 100 MB; here keys are packed into numpy arrays
(int64 for (id, year) keys, fixed-width bytes otherwise) kept as a few sorted runs that merge like
a binary counter, so memory is about 12 bytes a row (an int64 key and an int32 row number) and
each check is a binary search per run.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class SeenKeys:
    """Exact membership of keys with the row each was first seen on."""

    def __init__(self) -> None:
        self._runs: list[tuple[npt.NDArray[np.generic], npt.NDArray[np.int32]]] = []

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._runs)

    def check_and_add(
        self, keys: npt.NDArray[np.generic], rows: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """For each key, the row of an earlier occurrence (0 if none); then remember the new ones.

        An earlier occurrence is one in a previous batch or on an earlier row of this batch.
        """
        count = len(keys)
        first = np.zeros(count, dtype=np.int64)
        if count == 0:
            return first
        order = np.lexsort((rows, keys))
        sorted_keys, sorted_rows = keys[order], rows[order].astype(np.int32)
        repeat = np.zeros(count, dtype=bool)
        repeat[1:] = sorted_keys[1:] == sorted_keys[:-1]
        run_start = np.maximum.accumulate(np.where(repeat, 0, np.arange(count)))
        earlier = np.where(repeat, sorted_rows[run_start], 0)
        known = np.zeros(count, dtype=bool)
        for run_keys, run_rows in self._runs:
            at = np.searchsorted(run_keys, sorted_keys)
            inside = at < len(run_keys)
            hit = np.zeros(count, dtype=bool)
            hit[inside] = run_keys[at[inside]] == sorted_keys[inside]
            earlier = np.where(hit, run_rows[np.minimum(at, len(run_keys) - 1)], earlier)
            known |= hit
        fresh = ~repeat & ~known
        self._add(sorted_keys[fresh], sorted_rows[fresh])
        first[order] = earlier
        return first

    def _add(self, keys: npt.NDArray[np.generic], rows: npt.NDArray[np.int32]) -> None:
        if len(keys) == 0:
            return
        self._runs.append((keys, rows))
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            (a_keys, a_rows), (b_keys, b_rows) = self._runs.pop(), self._runs.pop()
            merged_keys = np.concatenate([b_keys, a_keys])
            merged_rows = np.concatenate([b_rows, a_rows])
            order = np.argsort(merged_keys, kind="stable")
            self._runs.append((merged_keys[order], merged_rows[order]))
