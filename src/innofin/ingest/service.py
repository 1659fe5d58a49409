"""Import and export use cases; each import is one transaction.

`import_file` runs the import pipeline (`innofin.ingest.pipeline`: the file streamed in batches,
each one validated, all inside a single transaction) with a row handler that upserts the good rows
by natural key: by default any rejected row rolls everything back (the rejects report says why),
with `skip_invalid` the good rows are kept. Each import records a
`data_source` row (file name, SHA-256) that annual reports point to, field by field, in `lineage`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from innofin.audit.recorder import SYSTEM, Actor, record
from innofin.db.frames import FrameWriter
from innofin.ingest import lookups
from innofin.ingest.errors import IngestError
from innofin.ingest.exporting import count, export_header, export_rows
from innofin.ingest.kinds import FieldType, KindSpec, kind_spec, table_of
from innofin.ingest.mapping import Binding, Mapping, load_mapping
from innofin.ingest.pipeline import BoundFile, RowHandler, run_pipeline
from innofin.ingest.tables import RawBatch
from innofin.ingest.validate import Checked
from innofin.ingest.writers import write_table
from innofin.kernel.progress import ProgressCallback
from innofin.registry.models import IndicatorValue


@dataclass(frozen=True)
class ImportResult:
    kind: str
    path: Path
    encoding: str | None  # of a CSV file
    source_id: int | None  # the data_source row; None when nothing was kept
    rows: int  # data rows read
    written: int  # rows upserted (0 when the import was rolled back)
    rejected: int  # rows refused
    rejects_path: Path | None  # the rejects report, when there is one
    seconds: float


@dataclass(frozen=True)
class ExportResult:
    kind: str
    path: Path
    rows: int


class _Plan:
    """What to write for a bound file: columns, the upsert's update list, lineage values."""

    def __init__(self, conn: Connection, binding: Binding, source_id: int, as_of: dt.date):
        spec = binding.kind
        self.spec, self.binding, self.source_id, self.as_of = spec, binding, source_id, as_of
        mapped = [c.spec.column for c in binding.columns if c.indicator is None]
        defaults = [
            f.column for f in spec.fields if f.name not in binding.fields and f.default is not None
        ]
        extras = {
            "zone-stats": ["source_id"],
            "indicators": ["source_id", "as_of", "lineage"],
            "indicator-definitions": ["is_core"],
        }
        extra = extras.get(spec.name, [])
        columns = list(dict.fromkeys([*spec.db_key, *mapped, *defaults, *extra]))
        update = list(dict.fromkeys([*mapped, *extra]))
        merge = ["lineage"] if spec.name == "indicators" else []
        self.writer = FrameWriter(
            conn, spec.table, columns, key=spec.db_key, update=update, merge_json=merge
        )
        self.lineage_fields = [
            c.field for c in binding.columns if c.indicator is None and c.field in _REPORT_COLUMNS
        ]
        self.extensions = [c for c in binding.columns if c.indicator is not None]
        self.values: FrameWriter | None = None
        if self.extensions:
            names = ["enterprise_id", "year", "indicator_code", "value", "source_id", "as_of"]
            key = ["enterprise_id", "year", "indicator_code"]
            self.values = FrameWriter(
                conn, table_of(IndicatorValue), names, key=key, update=names[3:]
            )
        self.conn = conn

    def _lineage(self) -> pl.Expr:
        """{"field": [source_id, "as_of"], ...} for each report field the file sets."""
        pieces: list[pl.Expr] = []
        for i, name in enumerate(self.lineage_fields):
            pieces.append(pl.lit(("{" if i == 0 else ",") + f'"{name}":[{self.source_id},"'))
            pieces.append(pl.col("as_of").cast(pl.Utf8))
            pieces.append(pl.lit('"]'))
        pieces.append(pl.lit("}" if pieces else "{}"))
        return pl.concat_str(pieces)

    def write(self, good: pl.DataFrame) -> int:
        frame = good
        if self.spec.name in ("zone-stats", "indicators"):
            frame = frame.with_columns(pl.lit(self.source_id).alias("source_id"))
        if self.spec.name == "indicator-definitions":  # a file defines a zone's own indicators
            frame = frame.with_columns(pl.lit(False).alias("is_core"))
        if self.spec.name == "indicators":
            as_of = pl.col("as_of").fill_null(self.as_of) if "as_of" in frame.columns else None
            frame = frame.with_columns(
                (as_of if as_of is not None else pl.lit(self.as_of)).alias("as_of")
            )
            frame = frame.with_columns(self._lineage().alias("lineage"))
        written = self.writer.write(frame)
        if self.values is not None:
            self._write_values(frame)
        if self.spec.name == "institutions" and "parent" in frame.columns:
            later = frame.filter(pl.col("parent").is_not_null() & pl.col("parent_id").is_null())
            lookups.link_parents(self.conn, later.select("code", "parent").rows())
        return written

    def _write_values(self, frame: pl.DataFrame) -> None:
        assert self.values is not None
        parts = []
        for column in self.extensions:
            value = pl.col(column.field)
            if column.spec.type is FieldType.BOOL:
                value = value.cast(pl.Int64) * 10_000
            parts.append(
                frame.filter(pl.col(column.field).is_not_null()).select(
                    "enterprise_id",
                    "year",
                    pl.lit(column.indicator).alias("indicator_code"),
                    value.alias("value"),
                    "source_id",
                    "as_of",
                )
            )
        self.values.write(pl.concat(parts))


_REPORT_COLUMNS = {f.name for f in kind_spec("indicators").fields} - {
    "id_scheme",
    "identifier",
    "year",
    "as_of",
}


class _Upsert(RowHandler):
    """The row handler of the registry's kinds: upserts the good rows by natural key and records
    the import as a `data_source` row, to which annual reports point in their lineage."""

    def __init__(self, kind: str, as_of: dt.date, actor: Actor) -> None:
        self.kind, self.as_of, self.actor = kind, as_of, actor
        self.source_id: int | None = None
        self.written = 0

    def start(self, file: BoundFile) -> None:
        self.source_id = lookups.create_source(file.conn, file.path.name, file.info.sha256)
        self.plan = _Plan(file.conn, file.binding, self.source_id, self.as_of)
        self.name = file.path.name

    def take(self, batch: RawBatch, checked: Checked, doomed: bool) -> None:
        if not doomed:
            self.written += _write(self.plan, checked.good, self.name)

    def finish(self, file: BoundFile, rows: int, rejected: int) -> None:
        summary = {"kind": self.kind, "file": file.path.name, "sha256": file.info.sha256}
        counts = {"rows": rows, "written": self.written, "rejected": rejected}
        record(
            file.conn,
            self.actor,
            action="import",
            entity="data_source",
            entity_id=self.source_id,
            after={**summary, **counts},
        )


def import_file(
    engine: Engine,
    kind: str,
    path: Path,
    *,
    mapping: Path | Mapping | None = None,
    encoding: str | None = None,
    skip_invalid: bool = False,
    check_only: bool = False,
    ignore_extra: bool = False,
    rejects: Path | None = None,
    as_of: dt.date | None = None,
    progress: ProgressCallback | None = None,
    actor: Actor = SYSTEM,
) -> ImportResult:
    """Import `path` (CSV or XLSX) as `kind`; see the module docstring for the transaction.
    `check_only`: run the whole import and roll it back (`pipeline.run_pipeline`): the result
    says what would be written (`written`), and `source_id` is None.

    Raises `RejectedRows` (after writing the rejects report) when rows fail validation and
    `skip_invalid` is off, and other `IngestError`s for files that cannot be read at all.
    `ignore_extra` leaves out columns the mapping does not know instead of refusing the file.
    """
    started = time.perf_counter()
    path = Path(path)
    spec = kind_spec(kind)
    chosen = mapping if isinstance(mapping, Mapping) else load_mapping(mapping, spec.name)
    if chosen.kind != spec.name:
        raise IngestError(f"the mapping is for {chosen.kind}, not {spec.name}", field="mapping")
    handler = _Upsert(spec.name, as_of or dt.date.today(), actor)
    outcome = run_pipeline(
        engine,
        path,
        chosen,
        handler,
        encoding=encoding,
        skip_invalid=skip_invalid,
        check_only=check_only,
        ignore_extra=ignore_extra,
        rejects=rejects,
        progress=progress,
    )
    return ImportResult(
        kind=spec.name,
        path=path,
        encoding=outcome.encoding,
        source_id=None if check_only else handler.source_id,
        rows=outcome.rows,
        written=handler.written,
        rejected=outcome.rejected,
        rejects_path=outcome.rejects_path,
        seconds=time.perf_counter() - started,
    )


def _write(plan: _Plan, good: pl.DataFrame, name: str) -> int:
    """Write a batch; a constraint the checks missed becomes a one-line error, not a traceback."""
    try:
        return plan.write(good)
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise IngestError(
            f"{name}: the database refused a row ({reason}); nothing was imported"
        ) from None


def export_file(
    engine: Engine, kind: str, path: Path, *, progress: ProgressCallback | None = None
) -> ExportResult:
    """Write every `kind` record to `path` (CSV in UTF-8 with BOM, or XLSX by the extension)."""
    spec: KindSpec = kind_spec(kind)
    path = Path(path)
    with engine.connect() as conn, conn.begin():
        header = export_header(conn, spec)
        rows = write_table(path, spec.name, header, export_rows(conn, spec), progress)
    return ExportResult(spec.name, path, rows)


def export_count(engine: Engine, kind: str) -> int:
    """How many rows an export of `kind` will write, about (for a progress bar)."""
    with engine.connect() as conn:
        return count(conn, kind_spec(kind))
