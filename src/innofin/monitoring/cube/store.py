"""What a Parquet snapshot's figures derive to, kept beside the snapshot so that the next report
on the same reading does not derive it again.

A snapshot is one reading of the ledger (`cube.write_snapshot`). Everything a `Cube` derives
from it — the loans' attributes and flows, the balances of a slice, a programme's new lending
in a period, a target series' forecast with the model its back-test chose — is a pure function
of the snapshot's tables and of the code that derives it. The store keeps those results in
``DIR/derived/<fingerprint>/`` where the fingerprint hashes the snapshot's files (its manifest,
with the as-of time, and every table's bytes) and the sources of the modules that derive them
(`CODE_MODULES`, with the versions of Polars, NumPy and statsmodels). A snapshot written again
(the ledger changed: an event added or reversed, a firm moved) has another fingerprint: its
first reading derives afresh and removes what was kept for the former one. So a figure read
from the store is the figure a derivation from scratch gives; the store is a cache of
derivations, never a second source of truth.

Files are written whole and renamed into place (two reports at once each see a complete file
or none); a folder that cannot be written (a read-only snapshot) leaves the store unused.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

#: the folder beside the snapshot's tables
DERIVED: Final = "derived"
#: the modules whose code derives what is kept (their sources are part of the fingerprint)
CODE_MODULES: Final = (
    "cube/service",
    "cube/engine",
    "cube/store",
    "cube/growth",
    "targets/service",
    "targets/forecast_engine",
)
LIBRARIES: Final = ("polars", "numpy", "statsmodels")


def _code_version() -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    here = Path(__file__).parents[1]
    for name in CODE_MODULES:
        digest.update(name.encode())
        digest.update((here / f"{name}.py").read_bytes())
    for library in LIBRARIES:
        try:
            digest.update(f"{library}={metadata.version(library)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library}=none".encode())
    return digest.digest()


def fingerprint(snapshot: Path) -> str:
    """The hash of a snapshot's files (manifest and tables) and of the deriving code."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(_code_version())
    for path in sorted(snapshot.iterdir()):
        if path.is_file() and (path.suffix == ".parquet" or path.suffix == ".json"):
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
    return digest.hexdigest()


def key_of(name: str, *args: Any) -> str:
    """A file name for the result of `name` on `args` (dimensions, filters, dates, ids)."""

    def encode(value: Any) -> Any:
        if isinstance(value, pl.Series):
            return {"series": value.to_list()}
        if isinstance(value, set | frozenset):
            return {"set": sorted(value, key=repr)}
        if hasattr(value, "isoformat"):
            return {type(value).__name__: value.isoformat()}
        if isinstance(value, np.generic):  # a NumPy number
            return value.item()
        return {type(value).__qualname__: repr(value)}

    text = json.dumps([name, args], sort_keys=True, default=encode, ensure_ascii=False)
    return f"{name}-{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"


class CubeStore:
    """The derived results of one snapshot, in ``folder`` (see the module's documentation)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writable = True

    @classmethod
    def for_snapshot(cls, snapshot: Path) -> CubeStore:
        """The store of the snapshot as it is now; what was kept for earlier contents of the
        folder is removed."""
        print_ = fingerprint(snapshot)
        root = snapshot / DERIVED
        store = cls(root / print_)
        try:
            store.folder.mkdir(parents=True, exist_ok=True)
            for old in root.iterdir():
                if old.name != print_ and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
        except OSError:
            store.writable = False
        return store

    def _path(self, key: str, suffix: str) -> Path:
        return self.folder / f"{key}{suffix}"

    def _write(self, path: Path, data: bytes) -> None:
        if not self.writable:
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError:
            self.writable = False

    # --- frames, JSON values and arrays ---------------------------------------------------------

    # a file that is missing, or went while it was read (a newer snapshot's first reading
    # removes the former one's folder), is derived again

    def frame(self, key: str) -> pl.DataFrame | None:
        try:
            return pl.read_parquet(self._path(key, ".parquet"))
        except (OSError, pl.exceptions.ComputeError):
            return None

    def put_frame(self, key: str, frame: pl.DataFrame) -> None:
        out = io.BytesIO()
        frame.write_parquet(out, compression="lz4", statistics=False)
        self._write(self._path(key, ".parquet"), out.getvalue())

    def value(self, key: str) -> Any:
        try:
            return json.loads(self._path(key, ".json").read_text(encoding="utf-8"))["value"]
        except OSError:
            return None

    def put_value(self, key: str, value: Any) -> None:
        self._write(self._path(key, ".json"), json.dumps({"value": value}).encode())

    def arrays(self, key: str) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self._path(key, ".npz"), allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except OSError:
            return None

    def put_arrays(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        out = io.BytesIO()
        np.savez(out, **arrays)  # type: ignore[arg-type]
        self._write(self._path(key, ".npz"), out.getvalue())

    def frames(
        self, key: str, compute: Callable[[], tuple[pl.DataFrame, ...]], count: int
    ) -> tuple[pl.DataFrame, ...]:
        """`count` frames kept under `key` (``key.0``, ``key.1``, …), computed when missing."""
        found = [self.frame(f"{key}.{i}") for i in range(count)]
        if all(f is not None for f in found):
            return tuple(f for f in found if f is not None)
        made = compute()
        for i, frame in enumerate(made):
            self.put_frame(f"{key}.{i}", frame)
        return made
