"""Import and export of registry data: CSV (UTF-8, GBK/GB18030) and XLSX, with column mappings.

The public surface is the service functions and their results, and for other rooms' imports
(bank returns) the pipeline they run with their own row handler and the kinds and mappings it
reads; everything else may move.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from innofin.ingest.errors import (
        CorruptFile,
        EmptyFile,
        IngestError,
        MappingError,
        MissingColumn,
        RejectedRows,
        UnitMismatch,
        UnknownColumn,
        WrongEncoding,
    )
    from innofin.ingest.kinds import (
        KINDS,
        FieldSpec,
        FieldType,
        KindSpec,
        register_foreign_kind,
        table_of,
    )
    from innofin.ingest.mapping import Binding, Mapping, load_mapping
    from innofin.ingest.pipeline import BoundFile, PipelineOutcome, RowHandler, run_pipeline
    from innofin.ingest.rejects import summary_path
    from innofin.ingest.service import ExportResult, ImportResult, export_file, import_file
    from innofin.ingest.tables import RawBatch
    from innofin.ingest.validate import PROBLEM_SCHEMA, Checked

#: where each public name lives; imported on first use, so that `innofin.ingest.commands` (and
#: with it the CLI's start-up) does not pay for Polars and the database models
_HOMES = {
    "KINDS": "kinds",
    "FieldSpec": "kinds",
    "FieldType": "kinds",
    "KindSpec": "kinds",
    "register_foreign_kind": "kinds",
    "table_of": "kinds",
    "Binding": "mapping",
    "Mapping": "mapping",
    "load_mapping": "mapping",
    "BoundFile": "pipeline",
    "PipelineOutcome": "pipeline",
    "RowHandler": "pipeline",
    "run_pipeline": "pipeline",
    "summary_path": "rejects",
    "RawBatch": "tables",
    "PROBLEM_SCHEMA": "validate",
    "Checked": "validate",
    "ExportResult": "service",
    "ImportResult": "service",
    "export_file": "service",
    "import_file": "service",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module(f"innofin.ingest.{_HOMES.get(name, 'errors')}")
        return getattr(module, name)
    raise AttributeError(f"module 'innofin.ingest' has no attribute {name!r}")


__all__ = [
    "KINDS",
    "PROBLEM_SCHEMA",
    "Binding",
    "BoundFile",
    "Checked",
    "CorruptFile",
    "EmptyFile",
    "ExportResult",
    "FieldSpec",
    "FieldType",
    "ImportResult",
    "IngestError",
    "KindSpec",
    "Mapping",
    "MappingError",
    "MissingColumn",
    "PipelineOutcome",
    "RawBatch",
    "RejectedRows",
    "RowHandler",
    "UnitMismatch",
    "UnknownColumn",
    "WrongEncoding",
    "export_file",
    "import_file",
    "load_mapping",
    "register_foreign_kind",
    "run_pipeline",
    "summary_path",
    "table_of",
]
