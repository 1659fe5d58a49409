"""Innovation points for every enterprise at once: raw values, normalisation, stage weights, ranks.

Pure computation on columns (NumPy), no database. The input is a `ScoringInput` (one row per
enterprise: peer-group codes, stage, and float64 columns for report fields, last year's fields,
certificates and extension values); the output a `Scores` table. Money enters as float64 yuan: the
analytics side of the platform may use floats (see the architecture note), the ledger never does.

Results do not depend on the order of the rows: every group statistic is computed from a sort,
sums across indicators run in the system's order, and group sums run in sorted order. The same
inputs give bit-identical outputs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from innofin.scoring.expressions import CERT, EXT, PREV
from innofin.scoring.groups_engine import (
    combine_codes,
    group_mean_sd,
    group_median,
    group_order,
    group_percentile,
    group_quantile,
)
from innofin.scoring.system import Alternative, Indicator, NormalisationSpec, System

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
PEER_KEYS = ("zone", "province", "field", "stage", "size")


@dataclass(frozen=True)
class ScoringInput:
    """One row per enterprise.

    ``codes[key]`` are int codes 0..len(labels[key])-1 for each peer key (zone, province, field,
    stage, size); ``stage`` indexes the system's stages. ``columns`` holds float64 columns by the
    names expressions use: report fields, ``prev:<field>``, ``cert:<kind>``, ``ext:<code>``,
    ``age``.
    """

    enterprise_id: I64
    codes: Mapping[str, I64]
    labels: Mapping[str, Sequence[str]]
    columns: Mapping[str, F64]

    @property
    def n(self) -> int:
        return int(self.enterprise_id.shape[0])

    def take(self, rows: npt.NDArray[np.intp]) -> ScoringInput:
        return ScoringInput(
            self.enterprise_id[rows],
            {k: v[rows] for k, v in self.codes.items()},
            self.labels,
            {k: v[rows] for k, v in self.columns.items()},
        )

    def peer_codes(self, keys: Sequence[str]) -> tuple[I64, int]:
        if not keys or list(keys) == ["all"]:
            return np.zeros(self.n, dtype=np.int64), 1
        return combine_codes(*((self.codes[k], len(self.labels[k])) for k in keys if k != "all"))

    def peer_label(self, keys: Sequence[str], row: int) -> str:
        if not keys or list(keys) == ["all"]:
            return "all"
        return ", ".join(f"{k}={self.labels[k][self.codes[k][row]]}" for k in keys if k != "all")


@dataclass(frozen=True)
class ReferenceTable:
    """Reference values of one year, per indicator alternative and reference group.

    ``values[(indicator, alternative)]`` is an array over the reference groups (codes of
    ``system.spec.reference.by``) with the last entry for the whole population; likewise ``means``,
    ``sds`` and ``counts``.
    """

    keys: tuple[str, ...]
    labels: tuple[str, ...]  # one per reference group, then "all"
    values: Mapping[tuple[str, int], F64]
    means: Mapping[tuple[str, int], F64]
    sds: Mapping[tuple[str, int], F64]
    counts: Mapping[tuple[str, int], I64]


@dataclass
class Scores:
    """Points and their breakdown. The per-indicator columns are kept as computed; the (n, k)
    matrices `raw`, `normalised`, `alternative`, `missing` and `contribution` are assembled when
    first asked for (a million rows × 23 indicators is ~180 MB per matrix)."""

    enterprise_id: I64
    indicator_ids: tuple[str, ...]
    raw_columns: list[F64]  # the value of the alternative that scored best; NaN where missing
    normalised_columns: list[F64]  # in [0, 1] after the missing-value policy
    alternative_columns: list[npt.NDArray[np.int8] | None]  # which alternative (None: the only)
    contribution_columns: list[F64]  # signed points (negative groups subtract)
    group_ids: tuple[str, ...]
    group_points: F64  # (n, g) after the caps of bonus and negative groups
    points: F64
    rank: dict[str, I64] = field(default_factory=dict)  # national, zone, field, stage
    percentile: F64 | None = None  # national, 0–100
    qualified: npt.NDArray[np.bool_] | None = None
    verdict: npt.NDArray[np.object_] | None = None  # why (not) qualified, a code per row
    _cache: dict[str, npt.NDArray[Any]] = field(default_factory=dict, repr=False)

    def _matrix(self, name: str, cols: Sequence[npt.NDArray[Any]], dtype: Any) -> Any:
        if name not in self._cache:
            out = np.empty((self.points.shape[0], len(cols)), dtype=dtype, order="F")
            for i, c in enumerate(cols):
                out[:, i] = c
            self._cache[name] = out
        return self._cache[name]

    @property
    def raw(self) -> F64:
        m: F64 = self._matrix("raw", self.raw_columns, np.float64)
        return m

    @property
    def normalised(self) -> F64:
        m: F64 = self._matrix("normalised", self.normalised_columns, np.float64)
        return m

    @property
    def contribution(self) -> F64:
        m: F64 = self._matrix("contribution", self.contribution_columns, np.float64)
        return m

    @property
    def alternative(self) -> npt.NDArray[np.int8]:
        zero = np.zeros(self.points.shape[0], dtype=np.int8)
        cols = [zero if c is None else c for c in self.alternative_columns]
        m: npt.NDArray[np.int8] = self._matrix("alternative", cols, np.int8)
        return m

    @property
    def missing(self) -> npt.NDArray[np.bool_]:
        return np.isnan(self.raw)


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def evaluate(system: System, data: ScoringInput) -> dict[str, F64]:
    """The raw value of every derived value and indicator alternative, by name; indicators'
    own names hold their first alternative (what other expressions read)."""
    env: dict[str, F64] = dict(data.columns)
    # values nobody supplied: no certificate, extension values and last year missing
    for prefix, fill in ((CERT, 0.0), (EXT, np.nan), (PREV, np.nan)):
        for code in system.needs(prefix):
            env.setdefault(prefix + code, np.full(data.n, fill))
    if "age" not in env:
        env["age"] = np.full(data.n, np.nan)
    for name, expr in system.derived:
        env[name] = np.asarray(expr(env), dtype=np.float64)
    for i in system.order:
        ind = system.indicators[i]
        for j, alt in enumerate(ind.alternatives):
            env[f"{ind.id}#{j}"] = np.asarray(alt.expr(env), dtype=np.float64)
        env[ind.id] = env[f"{ind.id}#0"]
    return env


def normalise(
    spec: NormalisationSpec,
    values: F64,
    *,
    higher: bool,
    codes: I64,
    n_groups: int,
    reference: F64 | None = None,
    mean: F64 | None = None,
    sd: F64 | None = None,
) -> F64:
    """Scores in [0, 1] (NaN where the value is missing). `reference`, `mean`, `sd` are per row."""
    v = values
    if spec.method == "percentile":  # NaN where missing already
        return group_percentile(v if higher else -v, codes, n_groups)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if spec.method == "ratio":
            ref = _ref(spec, reference, v)
            ratio = v / ref if higher else np.where(v > 0, ref / v, spec.cap)
            out = np.where(
                ref > 0, np.clip(ratio, 0.0, spec.cap), _no_reference(v, ref, higher, spec.cap)
            )
        elif spec.method == "log_ratio":
            ref = _ref(spec, reference, v)
            lv, lr = np.log1p(np.maximum(v, 0.0)), np.log1p(np.maximum(ref, 0.0))
            ratio = lv / lr if higher else np.where(lv > 0, lr / lv, spec.cap)
            out = np.where(
                lr > 0, np.clip(ratio, 0.0, spec.cap), _no_reference(v, ref, higher, spec.cap)
            )
        elif spec.method == "zscore":
            assert mean is not None and sd is not None
            z = np.where(sd > 0, (v - mean) / np.where(sd > 0, sd, 1.0), 0.0)
            z = np.clip(z if higher else -z, -spec.clip, spec.clip)
            out = (z + spec.clip) / (2 * spec.clip)
        else:  # steps
            assert spec.steps is not None
            bounds = np.array([s.at_least for s in spec.steps])
            scores = np.concatenate(([0.0], [s.score for s in spec.steps]))
            out = scores[np.searchsorted(bounds, np.nan_to_num(v, nan=-np.inf), side="right")]
    return np.where(np.isnan(v), np.nan, out)


def _no_reference(v: F64, ref: F64, higher: bool, cap: float) -> F64:
    """Scores where the reference value is 0 or less (most of a peer group reports nothing, as
    with equity financing), so no ratio exists. Higher is better: a positive value beats the
    reference and scores full marks (`cap`); 0 (or less) earns nothing — nothing done is not
    full marks. Lower is better: a value at or below the reference scores full marks, any more
    scores 0."""
    hit = v > 0 if higher else v <= ref
    return np.where(hit, cap, 0.0)


def _ref(spec: NormalisationSpec, reference: F64 | None, v: F64) -> F64:
    if isinstance(spec.reference, float | int):
        return np.full(v.shape, float(spec.reference))
    assert reference is not None, "a table reference needs the reference table"
    return reference


def build_reference(system: System, data: ScoringInput) -> ReferenceTable:
    """Reference values from a population: per indicator alternative and reference group, the
    configured percentile of the raw values, their mean and standard deviation."""
    ref = system.spec.reference
    keys = tuple(k for k in ref.by if k != "all")
    codes, size = data.peer_codes(keys)
    labels = (*tuple(_combination_labels(data, keys, size)), "all")
    env = evaluate(system, data)
    all_codes = np.zeros(data.n, dtype=np.int64)
    values, means, sds, counts = {}, {}, {}, {}
    for ind in system.indicators:
        for j, alt in enumerate(ind.alternatives):
            if not alt.normalise.uses_table:
                continue
            raw = env[f"{ind.id}#{j}"]
            q = ref.percentile / 100.0
            per = group_quantile(raw, codes, size, q)
            whole = group_quantile(raw, all_codes, 1, q)
            m, s = group_mean_sd(raw, codes, size)
            m_all, s_all = group_mean_sd(raw, all_codes, 1)
            valid = ~np.isnan(raw)
            counts[(ind.id, j)] = np.concatenate(
                (np.bincount(codes[valid], minlength=size), [int(valid.sum())])
            ).astype(np.int64)
            values[(ind.id, j)] = np.concatenate((per, whole))
            means[(ind.id, j)] = np.concatenate((m, m_all))
            sds[(ind.id, j)] = np.concatenate((s, s_all))
    return ReferenceTable(keys, labels, values, means, sds, counts)


def _combination_labels(data: ScoringInput, keys: Sequence[str], size: int) -> list[str]:
    if not keys:
        return ["all"]
    out = [""] * size
    # decode each combined code back into its parts (loops over groups, not rows)
    for code in range(size):
        parts, rest = [], code
        for k in reversed(keys):
            n = len(data.labels[k])
            parts.append(f"{k}={data.labels[k][rest % n]}")
            rest //= n
        out[code] = ";".join(reversed(parts))
    return out


def reference_rows(
    system: System, data: ScoringInput, table: ReferenceTable, key: tuple[str, int]
) -> tuple[F64, F64, F64]:
    """Per-row reference value, mean and sd for one alternative (whole population where the
    row's reference group has fewer than ``min_count`` members)."""
    codes, _size = _reference_codes(system, data, table)
    counts = table.counts[key]
    use = np.where(counts[codes] >= system.spec.reference.min_count, codes, len(table.labels) - 1)
    return table.values[key][use], table.means[key][use], table.sds[key][use]


def _reference_codes(system: System, data: ScoringInput, table: ReferenceTable) -> tuple[I64, int]:
    # the table's groups are labelled by label text: map the input's combinations onto them
    codes, size = data.peer_codes(table.keys)
    mine = _combination_labels(data, table.keys, size)
    position = {label: i for i, label in enumerate(table.labels)}
    lookup = np.array([position.get(label, len(table.labels) - 1) for label in mine])
    return lookup[codes], len(table.labels)


def score(system: System, data: ScoringInput, reference: ReferenceTable | None = None) -> Scores:
    """Points for every row of `data` under `system`."""
    env = evaluate(system, data)
    k = len(system.indicators)
    n = data.n
    stage = data.codes["stage"]
    peer_cache: dict[tuple[str, ...], tuple[I64, int]] = {}
    for ind in system.indicators:
        key = tuple(ind.spec.peer)
        if key not in peer_cache:
            peer_cache[key] = data.peer_codes(key)

    sign = [-1.0 if ind.group.kind == "negative" else 1.0 for ind in system.indicators]

    def one(i: int) -> tuple[F64, F64, npt.NDArray[np.int8] | None, F64]:
        ind = system.indicators[i]
        codes, size = peer_cache[tuple(ind.spec.peer)]
        which: npt.NDArray[np.int8] | None = None
        if len(ind.alternatives) == 1:
            raw = _apply_missing(ind, env[f"{ind.id}#0"], codes, size)
            best = _normalise_alt(
                system, data, ind, 0, ind.alternatives[0], raw, codes, size, reference
            )
            best = np.nan_to_num(best, nan=0.0, copy=False)
            best_raw = env[f"{ind.id}#0"]
        else:
            best = np.full(n, -np.inf)
            best_raw = np.full(n, np.nan)
            which = np.zeros(n, dtype=np.int8)
            for j, alt in enumerate(ind.alternatives):
                raw = _apply_missing(ind, env[f"{ind.id}#{j}"], codes, size)
                s = _normalise_alt(system, data, ind, j, alt, raw, codes, size, reference)
                s = np.nan_to_num(s, nan=0.0, copy=False)
                better = s > best
                best = np.where(better, s, best)
                best_raw = np.where(better, env[f"{ind.id}#{j}"], best_raw)
                which = np.where(better, np.int8(j), which)
        contribution = best * (system.weights[i] * sign[i])[stage]
        return best_raw, best, which, contribution

    with ThreadPoolExecutor(_workers()) as pool:
        parts = list(pool.map(one, range(k)))
    group_ids = tuple(g.id for g in system.groups)
    gp = np.zeros((n, len(group_ids)), order="F")
    for gi, g in enumerate(system.groups):
        cols = [i for i, ind in enumerate(system.indicators) if ind.group.id == g.id]
        total = np.zeros(n)
        for c in cols:  # in the system's order: the same sums whatever the row order
            total += parts[c][3]
        if g.max_points is not None:
            np.clip(total, -g.max_points, g.max_points, out=total)
        gp[:, gi] = total
    points = np.zeros(n)
    for gi in range(len(group_ids)):
        points += gp[:, gi]
    out = Scores(
        data.enterprise_id,
        tuple(i.id for i in system.indicators),
        [p[0] for p in parts],
        [p[1] for p in parts],
        [p[2] for p in parts],
        [p[3] for p in parts],
        group_ids,
        gp,
        points,
    )
    _rank(out, data)
    if system.passing is not None:
        _qualify(system, env, out)
    return out


def _apply_missing(ind: Indicator, raw: F64, codes: I64, size: int) -> F64:
    if ind.spec.missing != "peer_median" or not np.isnan(raw).any():
        return raw
    med = group_median(raw, codes, size)
    return np.where(np.isnan(raw), med[codes], raw)


def _normalise_alt(
    system: System,
    data: ScoringInput,
    ind: Indicator,
    j: int,
    alt: Alternative,
    raw: F64,
    codes: I64,
    size: int,
    reference: ReferenceTable | None,
) -> F64:
    ref = mean = sd = None
    if alt.normalise.uses_table:
        if reference is None or (ind.id, j) not in reference.values:
            raise ValueError(f"indicator {ind.id} needs the reference table")
        ref, mean, sd = reference_rows(system, data, reference, (ind.id, j))
    return normalise(
        alt.normalise,
        raw,
        higher=ind.spec.direction == "higher",
        codes=codes,
        n_groups=size,
        reference=ref,
        mean=mean,
        sd=sd,
    )


def _rank(out: Scores, data: ScoringInput) -> None:
    whole = np.zeros(data.n, dtype=np.int64)
    national = group_order(out.points, whole, 1)
    out.rank["national"] = national.rank_descending()
    out.percentile = national.percentile() * 100.0
    for key in ("zone", "field", "stage"):
        codes, size = data.peer_codes([key])
        out.rank[key] = group_order(out.points, codes, size).rank_descending()


def _qualify(system: System, env: dict[str, F64], out: Scores) -> None:
    """Rule sets such as the tech-SME evaluation: every condition, then pass or a direct rule."""
    renv = dict(env)
    renv["points"] = out.points
    for gi, gid in enumerate(out.group_ids):
        renv[gid] = out.group_points[:, gi]
    verdict = np.full(out.points.shape[0], "pass", dtype=object)
    assert system.passing is not None
    passed = _holds(system.passing(renv))
    verdict[~passed] = "below_pass"
    direct = np.zeros(passed.shape, dtype=bool)
    for rule in reversed(system.direct):  # the first matching rule names the verdict
        hit = _holds(rule.expr(renv))
        verdict[hit] = f"direct:{rule.spec.id}"
        direct |= hit
    verdict[passed & ~direct] = "pass"
    ok = passed | direct
    for rule in reversed(system.conditions):
        fails = ~_holds(rule.expr(renv))
        verdict[fails] = f"fails:{rule.spec.id}"
        ok &= ~fails
    out.qualified = ok
    out.verdict = verdict


def _holds(values: F64) -> npt.NDArray[np.bool_]:
    # a rule holds where its value is non-zero and not missing (missing is false, as in
    # the expression language's own conditions)
    out: npt.NDArray[np.bool_] = np.nan_to_num(values, nan=0.0) != 0
    return out


def fingerprint_arrays(*arrays: npt.NDArray[np.generic]) -> str:
    """A SHA-256 over the bytes of arrays (the inputs or results of a run)."""
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        b = np.ascontiguousarray(a)
        h.update(str(b.dtype).encode())
        h.update(str(b.shape).encode())
        h.update(b.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class WhatIf:
    indicator: str
    step: float
    gain: float  # points added by one step


def what_if(
    system: System,
    ind_index: int,
    row: int,
    peers_raw: F64,
    stage: int,
    current: float,
    reference: tuple[float, float, float] | None,
    step: float,
) -> float:
    """Points one enterprise would gain if indicator `ind_index`'s value rose by `step`, its
    peers unchanged. `peers_raw` are the raw values of its peer group (itself at `row`).

    Only the row's new score is needed: a percentile is counted directly (peers below and
    equal, as `group_percentile` scores it), and the other methods, which score each value on
    its own, score the one value — the same figures as normalising the whole group, without
    sorting it."""
    ind = system.indicators[ind_index]
    spec = ind.alternatives[0].normalise
    value = peers_raw[row]
    value = (0.0 if np.isnan(value) else float(value)) + step
    higher = ind.spec.direction == "higher"
    new: float
    if spec.method == "percentile":
        new = _percentile_at(peers_raw, row, value, higher)
    else:
        kw: dict[str, F64] = {}
        if reference is not None:
            r, m, s = reference
            kw = {"reference": np.array([r]), "mean": np.array([m]), "sd": np.array([s])}
        codes = np.zeros(1, dtype=np.int64)
        one = np.array([value])
        new = float(normalise(spec, one, higher=higher, codes=codes, n_groups=1, **kw)[0])
    sign = -1.0 if ind.group.kind == "negative" else 1.0
    return float((np.nan_to_num(new) - current) * system.weights[ind_index, stage] * sign)


def _percentile_at(values: F64, row: int, value: float, higher: bool) -> float:
    """The percentile score `group_percentile` gives `values` with `values[row]` set to `value`,
    at `row`: (below + (equal + 1) / 2) / count over the present values, ties exact."""
    v = values if higher else -values
    x = value if higher else -value
    others = np.delete(v, row)
    below = int(np.count_nonzero(others < x))
    equal = int(np.count_nonzero(others == x)) + 1
    count = int(np.count_nonzero(~np.isnan(others))) + 1
    # as group_percentile: twice the score in integers, halved, then over the count
    return float(2 * below + equal + 1) * 0.5 / float(count)
