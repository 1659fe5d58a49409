"""The demo generator's core: scales, the per-step random streams, and running the generators.

Pure computation: NumPy draws, Polars tables, no database and no I/O. A *generator* takes a
`StepInput` (the scale, its own random stream, the tables made so far) and returns new tables by
name; `generate` runs a list of them in order. The service pairs each generator with a writer.

Conventions of the tables produced (shared by every generator, relied on by the writer):

- Table and column names are those of the database; ``id`` and foreign keys are 1-based *local*
  ids (the writer shifts them past rows already in the database).
- Exact decimals travel as int64 scaled by their column's scale: money in fen (1/100 yuan),
  `Quantity` values (rates) in 1/10,000 units. Nothing here turns money into `float` at the edge.
- JSON documents travel as compact JSON text.
- A null is a missing value, as the database will hold it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.scales import SCALES as SCALES
from innofin.demo.scales import Scale as Scale
from innofin.demo.scales import ScaleName as ScaleName
from innofin.demo.scales import get_scale as get_scale
from innofin.kernel import periods
from innofin.kernel.errors import InvalidInput

EPOCH = periods.EPOCH


@dataclass(frozen=True)
class StepInput:
    """What a generator sees: the scale, its own random stream, and every table made before it."""

    scale: Scale
    seed: int
    rng: np.random.Generator
    tables: Mapping[str, pl.DataFrame]
    #: values shared between generators that are not tables (e.g. latent firm traits)
    extras: Mapping[str, Any]


#: A generator returns new tables by name; a name starting with "_" is kept in `extras`.
GenerateFn = Callable[[StepInput], Mapping[str, Any]]


@dataclass
class DemoData:
    """The generated tables, in the order they were made (which is a valid write order)."""

    scale: Scale
    seed: int
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # time taken to generate

    def counts(self) -> dict[str, int]:
        return {name: frame.height for name, frame in self.tables.items()}


def step_rng(seed: int, step: str) -> np.random.Generator:
    """A PCG64 stream for one step, derived from the seed and the step's name.

    Each step draws from its own stream so that adding, removing or changing a step leaves the
    data of every other step bit-for-bit the same (a later capability appending a generator
    does not reshuffle the enterprises).
    """
    if seed < 0:
        raise InvalidInput("the seed must be a non-negative integer", field="seed")
    key = zlib.crc32(step.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


def generate(
    scale: Scale,
    seed: int,
    steps: Sequence[tuple[str, GenerateFn]],
    on_step: Callable[[str], None] | None = None,
) -> DemoData:
    """Run the generators in order and collect their tables."""
    started = time.perf_counter()
    data = DemoData(scale=scale, seed=seed)
    for name, fn in steps:
        made = fn(StepInput(scale, seed, step_rng(seed, name), data.tables, data.extras))
        for key, value in made.items():
            if key.startswith("_"):
                data.extras[key] = value
            else:
                data.tables[key] = value
        if on_step is not None:
            on_step(name)
    data.seconds = time.perf_counter() - started
    return data


# --------------------------------------------------------------------------- shared helpers


def to_fen(yuan: np.ndarray) -> np.ndarray:
    """Round float64 yuan (a model quantity) to int64 fen, the exact form that is stored."""
    return np.rint(np.asarray(yuan, dtype=np.float64) * 100.0).astype(np.int64)


def date_series(name: str, days_since_epoch: np.ndarray) -> pl.Series:
    """A Polars Date column from day numbers."""
    return pl.Series(name, np.asarray(days_since_epoch, dtype=np.int32)).cast(pl.Date)


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def year_start_days(years: np.ndarray) -> np.ndarray:
    """Day numbers of 1 January of each year (vectorised)."""
    result: np.ndarray = periods.days_from_civil(years, 1, 1)
    return result


def json_text(doc: Any) -> str:
    """JSON as the demo stores it: compact, UTF-8 kept readable."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def allocate(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split `total` into integer parts proportional to `weights` (largest remainder).

    Deterministic (no draws), so counts such as institutions per kind do not jitter with the seed.
    """
    weights = np.asarray(weights, dtype=np.float64)
    spare = total - minimum * len(weights)
    if spare < 0:
        raise InvalidInput(f"cannot give {minimum} to each of {len(weights)} parts of {total}")
    exact = spare * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    remainder = spare - int(parts.sum())
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[:remainder]] += 1
    result: np.ndarray = parts + minimum
    return result
