"""Validation of one batch: parse every mapped column, resolve references (zones, enterprises,
institutions), apply the kind's rules, and catch duplicate natural keys.

Every problem becomes one line of the rejects report: the row as the user sees it in the file, the
column as headed in the file, the cell as written, and the reason. A row with any problem is not
written; the rest of the batch is returned ready for the writer, in the table's column names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection

from innofin.ingest import lookups
from innofin.ingest.kinds import FieldSpec, FieldType
from innofin.ingest.mapping import Binding, BoundColumn
from innofin.ingest.parsing import QUOTED_TYPES, Column, parse_batch, storage_scale
from innofin.ingest.rules import RULES
from innofin.ingest.seen import SeenKeys
from innofin.ingest.tables import RawBatch
from innofin.kernel.money import AmountUnit

PROBLEM_SCHEMA = {
    "row": pl.Int64,
    "order": pl.Int32,
    "column": pl.Utf8,
    "value": pl.Utf8,
    "reason": pl.Utf8,
}
_SEP = "\x1f"  # joins the parts of a composite key
_RAGGED = (
    "the row has more cells than the header has columns: put a value that holds the "
    "separator in quotes, or remove the cells past the last column"
)


@dataclass
class Checked:
    """A validated batch: the rows to write and the problems of the others."""

    good: pl.DataFrame
    problems: pl.DataFrame
    rows: int
    rejected: int


@dataclass
class BatchValidator:
    """Validates the batches of one file in order (it remembers keys and codes across batches)."""

    conn: Connection
    binding: Binding
    seen: SeenKeys = field(default_factory=SeenKeys)
    file_codes: set[str] = field(default_factory=set)  # institutions written from this file
    #: the file is CSV: text cells may carry the quote that neutralises formulas (`formulas`)
    quoted_text: bool = False
    _cache: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ helpers

    def lookup(self, name: str, load: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    def accepted(self, spec: FieldSpec) -> dict[str, str] | None:
        if spec.type is not FieldType.CODE:
            return None
        if spec.ref is not None:
            ref = spec.ref
            return dict(self.lookup(ref, lambda: lookups.accepted_codes(self.conn, ref)))
        accepted = {c.lower(): c for c in spec.choices}
        accepted.update({k.lower(): v for k, v in spec.aliases.items()})
        return accepted

    def _column(self, name: str) -> BoundColumn | None:
        for column in self.binding.columns:
            if column.field == name:
                return column
        return None

    def report(self, raw: pl.DataFrame, name: str, reasons: pl.Series) -> pl.DataFrame:
        """Problems of field `name` where `reasons` is not null."""
        column = self._column(name)
        order = self.binding.columns.index(column) if column else len(self.binding.columns)
        values = raw[name] if name in raw.columns else pl.Series([""] * raw.height)
        return (
            pl.DataFrame({"row": raw["__row"], "value": values, "reason": reasons.cast(pl.Utf8)})
            .filter(pl.col("reason").is_not_null())
            .select(
                "row",
                pl.lit(order, pl.Int32).alias("order"),
                pl.lit(column.header if column else name).alias("column"),
                "value",
                "reason",
            )
        )

    def _frame(self, batch: RawBatch) -> pl.DataFrame:
        """The mapped cells of a batch as text columns named by field, with the row numbers."""
        constants = [
            pl.lit(c.constant, pl.Utf8).alias(c.field)
            for c in self.binding.columns
            if c.index is None
        ]
        columns = [
            pl.col(f"c{c.index}").alias(c.field) if c.index is not None else pl.col(c.field)
            for c in self.binding.columns
        ]
        frame = batch.frame.with_columns(constants) if constants else batch.frame
        return frame.select(columns).with_columns(batch.rows.alias("__row"))

    def _ragged(self, batch: RawBatch) -> pl.DataFrame:
        rows = batch.overflow
        return pl.DataFrame(
            {
                "row": rows,
                "order": [-1] * len(rows),
                "column": [""] * len(rows),
                "value": [""] * len(rows),
                "reason": [_RAGGED] * len(rows),
            },
            schema=PROBLEM_SCHEMA,
        )

    # ------------------------------------------------------------------ the check

    def check(self, batch: RawBatch) -> Checked:
        raw = self._frame(batch)
        problems = [self._ragged(batch)]
        columns = self.lookup(
            "columns",
            lambda: [
                Column(
                    c.field,
                    c.spec,
                    c.unit,
                    self.accepted(c.spec),
                    c.formats,
                    c.rate,
                    quoted=self.quoted_text and c.spec.type in QUOTED_TYPES,
                )
                for c in self.binding.columns
            ],
        )
        values, reasons = parse_batch(raw, columns)
        flagged = reasons.select(pl.all().is_not_null().any()).row(0, named=True)
        problems.extend(
            self.report(raw, name, reasons[name]) for name, bad in flagged.items() if bad
        )
        frame = values.with_columns(raw["__row"])
        for spec in self.binding.kind.fields:  # columns the file does not have
            if spec.name not in frame.columns and spec.default is not None:
                frame = frame.with_columns(pl.lit(spec.default).alias(spec.name))
        bad = set(pl.concat(problems)["row"].to_list())
        rule = RULES.get(self.binding.kind.name)  # foreign kinds check their own rows
        frame, found = rule(self, frame, raw, bad) if rule else (frame, [])
        problems.extend(found)
        problems.append(self._pairs(frame, raw))
        problems.append(self._duplicates(frame, raw))
        report = pl.concat(problems).sort("row", "order")
        rejected = report["row"].unique()
        good = frame.filter(~pl.col("__row").is_in(rejected.implode()))
        return Checked(good, report, raw.height, rejected.len())

    def _pairs(self, frame: pl.DataFrame, raw: pl.DataFrame) -> pl.DataFrame:
        """low <= high for the kind's ordered pairs; a missing side is read from the database."""
        kind = self.binding.kind
        found = [pl.DataFrame(schema=PROBLEM_SCHEMA)]
        for low, high in kind.ordered_pairs:
            if low not in frame.columns and high not in frame.columns:
                continue
            keyed = frame.select(kind.db_key)
            values = {}
            for name in (low, high):
                if name in frame.columns:
                    values[name] = frame[name]
                else:
                    values[name] = lookups.existing_values(
                        self.conn, kind.table, kind.db_key, keyed, kind.field(name).column
                    )
            shown = low if low in frame.columns else high
            wrong = (values[low] > values[high]).fill_null(False)
            scale = storage_scale(kind.field(low))
            column = self._column(shown)  # values are echoed in the unit of its header
            unit = column.unit if column is not None else None
            places = scale + (_WAN_YI.get(unit, 0) if isinstance(unit, AmountUnit) else 0)
            reasons = pl.select(
                pl.when(wrong).then(
                    pl.format(
                        f"{low} ({{}}) must not exceed {high} ({{}})",
                        _shown(values[low], places, trim=places != scale),
                        _shown(values[high], places, trim=places != scale),
                    )
                )
            ).to_series()
            if low not in frame.columns or high not in frame.columns:
                reasons = reasons + " as stored"
            found.append(self.report(raw, shown, reasons))
        return pl.concat(found)

    def _duplicates(self, frame: pl.DataFrame, raw: pl.DataFrame) -> pl.DataFrame:
        """Rows whose natural key an earlier row of the file already has."""
        kind = self.binding.kind
        keyed = frame.select("__row", *kind.db_key).drop_nulls()
        if keyed.height == 0:
            return pl.DataFrame(schema=PROBLEM_SCHEMA)
        if len(kind.db_key) == 2 and kind.db_key[1] == "year":
            packed = keyed.select(pl.col(kind.db_key[0]) * 1024 + (pl.col("year") - 1900))
            keys: Any = packed.to_series().to_numpy()
        else:
            text = keyed.select(
                pl.concat_str([pl.col(k).cast(pl.Utf8) for k in kind.db_key], separator=_SEP)
            ).to_series()
            keys = np.array([t.encode() for t in text.to_list()], dtype=bytes)
        rows = keyed["__row"].to_numpy()
        earlier = self.seen.check_and_add(keys, rows)
        dup = pl.DataFrame({"__row": rows, "first": earlier}).filter(pl.col("first") > 0)
        joined = raw.select("__row").with_row_index("__i").join(dup, on="__row", how="left")
        first = joined.sort("__i")["first"]
        text = pl.select(
            pl.when(first.is_not_null()).then(
                pl.format(f"duplicate: the same {' + '.join(kind.key)} as row {{}}", first)
            )
        ).to_series()
        return self.report(raw, next(k for k in kind.key if k != "id_scheme"), text)


_WAN_YI = {AmountUnit.WAN: 4, AmountUnit.YI: 8}


def _shown(values: pl.Series, scale: int, trim: bool = False) -> pl.Expr:
    """Stored integers as the decimals a person wrote (fen as yuan, or as 万元 with `scale` 6
    and `trim` of the zeros after the last digit), without floats."""
    if scale == 0 or values.dtype != pl.Int64:
        return pl.lit(values.cast(pl.Utf8))
    whole = pl.lit(values).abs() // 10**scale
    part = (pl.lit(values).abs() % 10**scale).cast(pl.Utf8).str.pad_start(scale, "0")
    sign = pl.when(pl.lit(values) < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = pl.concat_str([sign, whole.cast(pl.Utf8), pl.lit("."), part])
    return text.str.strip_chars_end("0").str.strip_chars_end(".") if trim else text
