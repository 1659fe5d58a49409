"""Import and export of registry data: CSV (UTF-8, GBK/GB18030) and XLSX, with column mappings.

The public surface is the service functions and their results; everything else may move.
"""

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
