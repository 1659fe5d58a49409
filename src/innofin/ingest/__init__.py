"""Import and export of registry data: CSV (UTF-8, GBK/GB18030) and XLSX, with column mappings.

The public surface is the service functions and their results; everything else may move.
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
    from innofin.ingest.kinds import KINDS
    from innofin.ingest.mapping import Mapping, load_mapping
    from innofin.ingest.service import ExportResult, ImportResult, export_file, import_file

#: where each public name lives; imported on first use, so that `innofin.ingest.commands` (and
#: with it the CLI's start-up) does not pay for Polars and the database models
_HOMES = {
    "KINDS": "kinds",
    "Mapping": "mapping",
    "load_mapping": "mapping",
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
    "CorruptFile",
    "EmptyFile",
    "ExportResult",
    "ImportResult",
    "IngestError",
    "Mapping",
    "MappingError",
    "MissingColumn",
    "RejectedRows",
    "UnitMismatch",
    "UnknownColumn",
    "WrongEncoding",
    "export_file",
    "import_file",
    "load_mapping",
]
