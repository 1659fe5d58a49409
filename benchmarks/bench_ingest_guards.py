"""Benchmark: what the import's guards cost — the XLSX check before openpyxl reads a workbook, and
reading full-width digits — each against its baseline in the same run.

    .venv/bin/python benchmarks/bench_ingest_guards.py [--rows 20000] [--bomb-mb 300] [--runs 5]

1. A workbook of `--rows` rows × 12 columns: `check_xlsx` (the members' declared sizes, then every
   XML member streamed once for a cell longer than the limit) against openpyxl's read-only read
   of the same file, which every XLSX import does anyway. Target: the check under 5 % of the read.
2. A small workbook holding one `--bomb-mb` MB cell: the time and peak traced memory until
   `inspect` refuses it. Target: well under a second and 32 MB (openpyxl alone went past 4 GB).
3. `parse_batch` over `--rows` × 10 amount cells in ASCII against the same cells in full-width
   digits (which take the exact per-cell path). Reported as a ratio; typed with a Chinese input
   method such files are the exception, so this only needs to stay reasonable.

Medians of `--runs` runs (interleaved where there is a baseline); prints the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
from openpyxl import Workbook, load_workbook

from innofin.ingest.errors import IngestError
from innofin.ingest.kinds import FieldSpec, FieldType
from innofin.ingest.parsing import Column, parse_batch
from innofin.ingest.readers import check_xlsx, inspect
from innofin.kernel.money import AmountUnit

FULL = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def median_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def workbook(path: Path, rows: int) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["identifier", "year", *(f"c{i}" for i in range(10))])
    for r in range(rows):
        sheet.append(["91110108MA0000001X", 2023, *(f"{r * 7 % 99991}.{r % 100:02d}",) * 10])
    book.save(path)
    return path


def bomb(path: Path, megabytes: int) -> Path:
    small = path.with_name("small.xlsx")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["identifier", "year", "revenue"])
    sheet.append(["X", 2023, "@@"])
    book.save(small)
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if b"@@" not in data:
                dst.writestr(item, data)
                continue
            before, after = data.split(b"@@")
            with dst.open(item.filename, "w", force_zip64=True) as member:
                member.write(before)
                for _ in range(megabytes):
                    member.write(b"A" * (1 << 20))
                member.write(after)
    return path


def read_all(path: Path) -> int:
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        return sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--bomb-mb", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="innofin-bench-") as folder:
        book = workbook(Path(folder) / "book.xlsx", args.rows)
        unpacked = sum(i.file_size for i in zipfile.ZipFile(book).infolist())
        check = median_of(args.runs, lambda: check_xlsx(book))
        read = median_of(max(1, args.runs // 2), lambda: read_all(book))
        print(
            f"1. {args.rows:,} rows, {book.stat().st_size / 1e6:.1f} MB "
            f"({unpacked / 1e6:.1f} MB unpacked): check_xlsx {check:.3f} s, openpyxl read "
            f"{read:.2f} s (baseline): the check is {check / read:.1%} of the read (target < 5 %)"
        )

        target = bomb(Path(folder) / "bomb.xlsx", args.bomb_mb)
        tracemalloc.start()
        started = time.perf_counter()
        try:
            inspect(target)
            refused = "NOT refused"
        except IngestError as exc:
            refused = f"refused ({exc})"
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"2. {target.stat().st_size / 1e3:,.0f} KB workbook, one {args.bomb_mb} MB cell: "
            f"{refused} in {seconds:.3f} s, peak traced memory {peak / 2**20:.1f} MB"
        )

    spec = FieldSpec("revenue", FieldType.MONEY)
    ascii_cells = [f"{r * 7919 % 10**9}.{r % 100:02d}" for r in range(args.rows)]
    frames = {
        "ascii": pl.DataFrame({f"c{i}": ascii_cells for i in range(10)}),
        "full-width": pl.DataFrame(
            {f"c{i}": [c.translate(FULL) for c in ascii_cells] for i in range(10)}
        ),
    }
    columns = [Column(f"c{i}", spec, AmountUnit.YUAN) for i in range(10)]
    times: dict[str, list[float]] = {name: [] for name in frames}
    for _ in range(args.runs):
        for name, frame in frames.items():
            started = time.perf_counter()
            parse_batch(frame, columns)
            times[name].append(time.perf_counter() - started)
    ascii_s, full_s = (statistics.median(times[n]) for n in frames)
    print(
        f"3. parse_batch, {args.rows:,} rows × 10 amounts: ASCII {ascii_s:.3f} s (baseline), "
        f"full-width {full_s:.3f} s: ×{full_s / ascii_s:.1f}"
    )


if __name__ == "__main__":
    main()
