"""Benchmark: the month-end balance cube of the national demo ledger, against a pandas baseline.

    .venv/bin/python benchmarks/bench_cube.py [--scale national] [--seed 1] [--repeat 3]
        [--snapshot DIR]
    (or: make bench-cube)

The ledger is the demo's own: `innofin.demo.service.generate_data` makes the national scale in
memory (500,000 enterprises; about 1.8 M loans and 5.8 M ledger events over 60 months) with the
same engines `innofin demo generate` writes to the database, and the tables the cube reads are
taken from those frames in their stored form (money in fen, the classified events' class read
from their JSON) — what `innofin monitor snapshot` reads from a database holding the same demo,
without the 3–8 minutes of writing it there first. They are written once as a Parquet snapshot
(``benchmarks/out/cube-<scale>-<seed>/``, reused by later runs). Published key lists are not
part of the demo's generation: `innofin demo run` scores the firms and publishes the year's key
list afterwards, and so does this benchmark, in the demo's registry written to SQLite once
(``benchmarks/out/registry-<scale>-<seed>.db``; `national.publish_key_list`),
whose members join the snapshot's key lists — the cube's key-list category and the key-enterprise
coverage of the last year are then the demo's own (printed with the timings).

Then, `--repeat` times each, interleaved:

  polars read+cube   read the snapshot (`cube.service.read_snapshot`) and build the full cube
                     (`Cube.balances()`: every month × institution × zone × field × enterprise
                     category × financing mode × product kind × programme with a balance or a
                     flow: month-end outstanding, the five classes, NPL, new lending,
                     repayments, write-offs, recoveries, drawdowns)
  polars cube        the same from the frames already in memory (attributes, flows, the grid)
  pandas cube        the baseline: the same algorithm written with pandas (the loans'
                     dimensions by merges and the certificates' dates, groupby sums, a groupby
                     cumsum and forward fill for the classes, an unstack to months and a cumsum
                     along them), from the same tables converted to pandas beforehand (the
                     conversion is not timed)

The pandas cube is checked equal to the Polars cube (every row and figure) once. Prints the
medians, the ratio pandas / polars, the goals (≤ 5 s, ≥ 5× pandas), peak memory and the load
average (`uptime`: the machine is shared). Writes benchmarks/out/bench_cube.json. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

import national
from innofin.demo import service as demo
from innofin.monitoring.cube import engine as ce
from innofin.monitoring.cube.service import (
    SCHEMAS,
    Cube,
    LedgerFrames,
    read_snapshot,
    write_snapshot,
)

OUT = Path(__file__).parent / "out"
GOAL_SECONDS = 5.0
GOAL_RATIO = 5.0
STEPS = {"zones", "institutions", "products", "enterprises", "reports", "ledger"}


def demo_frames(scale: str, seed: int, members: pl.DataFrame | None = None) -> LedgerFrames:
    """The cube's tables from the demo's generated frames (stored form, ids as written to an
    empty database), with the published key lists' `members`."""
    steps = [s for s in demo.STEPS if s.name in STEPS]
    data = demo.generate_data(scale, seed, steps).tables
    events = data["ledger_event"]
    loans = data["loan"]
    lines = data["credit_line"].join(
        data["product"].select(
            pl.col("id").alias("product_id"),
            "financing_mode",
            "collateral",
            pl.col("kind").alias("product_kind_code"),
        ),
        on="product_id",
        how="left",
    )
    agreements = data["agreement"].select(
        pl.col("id").alias("agreement_id"), "programme_id", "institution_id"
    )
    tables = {
        "loans": loans.select(
            pl.col("id").alias("loan_id"),
            "credit_line_id",
            "institution_id",
            "enterprise_id",
            "drawn_on",
            "principal",
        ),
        "loan_events": events.filter(pl.col("entity") == "loan").select(
            pl.col("id").alias("event_id"),
            pl.col("entity_id").alias("loan_id"),
            "kind",
            pl.col("effective_on").alias("on"),
            "principal",
            category=pl.when(pl.col("kind") == "classified").then(
                pl.col("data").str.json_path_match("$.category")
            ),
        ),
        "lines": lines.select(
            pl.col("id").alias("credit_line_id"),
            "institution_id",
            "enterprise_id",
            "programme_id",
            "risk_pool_id",
            "commitment_id",
            "product_id",
            "tags",
            "limit_amount",
            "opens_on",
            "matures_on",
            "financing_mode",
            "collateral",
            "product_kind_code",
        ),
        "line_events": events.filter(pl.col("entity") == "credit_line").select(
            pl.col("entity_id").alias("credit_line_id"), "kind", pl.col("effective_on").alias("on")
        ),
        "pool_events": events.filter(pl.col("entity") == "risk_pool").select(
            pl.col("entity_id").alias("pool_id"),
            "kind",
            pl.col("effective_on").alias("on"),
            "amount",
        ),
        "pools": data["risk_pool"].select(pl.col("id").alias("pool_id"), "code", "programme_id"),
        "enterprises": data["enterprise"].select(
            pl.col("id").alias("enterprise_id"), "zone_id", "tech_field"
        ),
        "certifications": data["certification"].select(
            "enterprise_id", "kind", "valid_from", "valid_until"
        ),
        "programmes": data["programme"].select(
            pl.col("id").alias("programme_id"),
            "code",
            "name",
            "starts_on",
            "ends_on",
            "candidate_list",
        ),
        "targets": data["programme_target"].select(
            pl.col("id").alias("target_id"),
            "programme_id",
            "kind",
            "tech_field",
            "amount",
            "count",
            pl.col("rate") / 10_000,
            "period_start",
            "due_on",
        ),
        "commitments": data["agreement_commitment"]
        .rename({"id": "commitment_id"})
        .join(agreements, on="agreement_id", how="left")
        .select(
            "commitment_id",
            "agreement_id",
            "programme_id",
            "institution_id",
            "tech_field",
            "period_start",
            "period_end",
            "amount",
        ),
        "institutions": data["institution"].select(
            pl.col("id").alias("institution_id"), "code", "name", "parent_id"
        ),
        "zones": data["zone"].select(
            pl.col("id").alias("zone_id"), "code", pl.col("name_zh").alias("name"), "province"
        ),
    }
    if members is not None:
        tables["key_members"] = members
    out = {}
    for name, schema in SCHEMAS.items():
        table = tables.get(name, pl.DataFrame(schema=schema))
        out[name] = table.select(pl.col(n).cast(t) for n, t in schema.items())
    return LedgerFrames(dt.datetime.now(dt.UTC).replace(microsecond=0), out)


# --- the pandas baseline ------------------------------------------------------------------------

SIGNS = {
    "drawn": 1,
    "repaid": -1,
    "repaid_reversed": 1,
    "written_off": -1,
    "written_off_reversed": 1,
}
FLOW_OF = {
    "drawn": ("new_lending", 1),
    "repaid": ("repaid", 1),
    "repaid_reversed": ("repaid", -1),
    "written_off": ("written_off", 1),
    "written_off_reversed": ("written_off", -1),
    "recovered": ("recovered", 1),
    "recovered_reversed": ("recovered", -1),
}
RANK = {name: i for i, name in enumerate(ce.CLASSES)}


def pandas_inputs(frames: LedgerFrames) -> dict[str, pd.DataFrame]:
    """The baseline's inputs: the same tables of the reading as pandas frames."""
    names = ("loan_events", "loans", "lines", "enterprises", "certifications", "key_members")
    return {name: _to_pandas(frames[name]) for name in names}


def pandas_attributes(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each loan's dimensions, as `cube_engine.loan_attributes` and `product_kinds` make them."""
    lines = inputs["lines"]
    tags = lines["tags"].fillna("")
    collateral = lines["collateral"].fillna("")
    kind = lines["product_kind_code"].fillna("")
    product_kind = np.select(
        [
            tags.str.contains('"ip_pledge"', regex=False)
            | (collateral == "ip_pledge")
            | (kind == "ip_pledge_loan"),
            tags.str.contains('"guaranteed"', regex=False) | (collateral == "guarantee"),
            tags.str.contains('"pure_credit"', regex=False)
            | (collateral == "none")
            | kind.isin(["pure_credit_loan", "points_loan"]),
        ],
        ["ip_pledge", "guaranteed", "pure_credit"],
        "other",
    )
    line_cols = pd.DataFrame(
        {
            "credit_line_id": lines["credit_line_id"],
            "programme_id": lines["programme_id"],
            "financing_mode": lines["financing_mode"].fillna("indirect"),
            "product_kind": product_kind,
        }
    )
    loans = inputs["loans"][
        ["loan_id", "credit_line_id", "institution_id", "enterprise_id", "drawn_on"]
    ]
    certs = inputs["certifications"]
    certs = certs[certs["kind"].isin(["hnte", "tech_sme"])]
    held = loans[["loan_id", "enterprise_id", "drawn_on"]].merge(certs, on="enterprise_id")
    valid = (held["valid_from"] <= held["drawn_on"]) & (
        held["valid_until"].isna() | (held["valid_until"] >= held["drawn_on"])
    )
    held = held[valid]
    hnte = set(held.loc[held["kind"] == "hnte", "loan_id"])
    sme = set(held.loc[held["kind"] == "tech_sme", "loan_id"])
    members = inputs["key_members"][["year", "enterprise_id"]].drop_duplicates()
    keyed = loans[["loan_id", "enterprise_id"]].assign(year=loans["drawn_on"].dt.year)
    keyed = keyed.merge(members.assign(key=True), on=["year", "enterprise_id"], how="left")
    category = np.select(
        [loans["loan_id"].isin(hnte), loans["loan_id"].isin(sme), keyed["key"].eq(True).to_numpy()],
        ["high_tech", "tech_sme", "key_list"],
        "other",
    )
    out = loans.assign(enterprise_category=category)
    out = out.merge(line_cols, on="credit_line_id", how="left")
    out = out.merge(
        inputs["enterprises"][["enterprise_id", "zone_id", "tech_field"]],
        on="enterprise_id",
        how="left",
    )
    return out[["loan_id", *ce.DIMENSIONS]]


def _to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """Column by column through NumPy (Polars' own `to_pandas` needs pyarrow, which innofin
    does not otherwise use): nullable integers become floats with NaN, as pandas keeps them."""
    return pd.DataFrame({name: frame[name].to_numpy() for name in frame.columns})


def pandas_cube(inputs: dict[str, pd.DataFrame], first: int, last: int) -> pd.DataFrame:
    """The full cube in pandas, the same definitions as `cube_engine` (see its docstring), from
    the same tables of the reading (the loans' dimensions derived here too)."""
    attributes = pandas_attributes(inputs)
    ev = inputs["loan_events"]
    month = (ev["on"].dt.year * 12 + ev["on"].dt.month - 1).astype("int32")
    p = ev["principal"].fillna(0).astype("int64")
    kinds = ev["kind"]
    flows = pd.DataFrame({"loan_id": ev["loan_id"], "month": month})
    flows["outstanding"] = p * kinds.map(SIGNS).fillna(0).astype("int64")
    for column in ("new_lending", "repaid", "written_off", "recovered"):
        sign = kinds.map({k: s for k, (c, s) in FLOW_OF.items() if c == column})
        flows[column] = p * sign.fillna(0).astype("int64")
    flows["drawdowns"] = (kinds == "drawn").astype("int64")
    # the classes: loans ever classified or defaulted, in the order of history
    touched = ev.loc[kinds.isin(["classified", "defaulted"]), "loan_id"].unique()
    rows = ev[ev["loan_id"].isin(touched)].sort_values(["loan_id", "on", "event_id"])
    rows = pd.DataFrame(
        {
            "loan_id": rows["loan_id"].to_numpy(),
            "month": (rows["on"].dt.year * 12 + rows["on"].dt.month - 1).astype("int32").to_numpy(),
            "delta": (
                rows["principal"].fillna(0).astype("int64")
                * rows["kind"].map(SIGNS).fillna(0).astype("int64")
            ).to_numpy(),
            "classified": rows["category"].map(RANK).where(rows["kind"] == "classified").to_numpy(),
            "defaulted": (rows["kind"] == "defaulted").astype("int64").to_numpy(),
        }
    )
    g = rows.groupby("loan_id", sort=False)
    latest = g["classified"].ffill().fillna(0).astype("int64")
    floor = g["defaulted"].cummax() * 2
    rows["cls"] = np.maximum(latest, floor)
    rows["balance"] = g["delta"].cumsum()
    rows["before"] = rows["balance"] - rows["delta"]
    rows["prev"] = rows.groupby("loan_id", sort=False)["cls"].shift(1).fillna(0).astype("int64")
    own = rows[["loan_id", "month", "cls"]].assign(amount=rows["delta"])
    changed = rows[rows["cls"] != rows["prev"]]
    leave = pd.DataFrame(
        {
            "loan_id": changed["loan_id"],
            "month": changed["month"],
            "cls": changed["prev"],
            "amount": -changed["before"],
        }
    )
    enter = changed[["loan_id", "month", "cls"]].assign(amount=changed["before"])
    moves = pd.concat([own, leave, enter], ignore_index=True)
    moves = moves[(moves["cls"] > 0) & (moves["amount"] != 0)]
    for i, name in enumerate(ce.CLASSES[1:], start=1):
        flows_c = moves["amount"].where(moves["cls"] == i, 0)
        moves = moves.assign(**{name: flows_c})
    flows = pd.concat([flows, moves.drop(columns=["cls", "amount"])], ignore_index=True)
    flows = flows.fillna(0)
    # the loans' dimensions, then the cells' monthly sums
    dims = list(ce.DIMENSIONS)
    joined = flows.merge(attributes, on="loan_id", how="inner")
    values = [*ce.STOCKS, *ce.FLOWS]
    joined[values] = joined[values].astype("int64")
    sums = joined.groupby([*dims, "month"], dropna=False, sort=False)[values].sum()
    # the month-end stocks: every cell over every month from the earliest flow, summed along
    start = min(first, int(flows["month"].min()))
    wide = sums.unstack("month", fill_value=0)
    months = range(start, last + 1)
    parts = {}
    for name in values:
        table = wide[name].reindex(columns=months, fill_value=0)
        if name in ce.STOCKS:
            table = table.cumsum(axis=1)
        parts[name] = table.loc[:, first:last].stack()
    out = pd.DataFrame(parts)
    keep = (out[values] != 0).any(axis=1)
    out = out[keep].reset_index().rename(columns={"level_7": "month"})
    out["npl"] = out["substandard"] + out["doubtful"] + out["loss"]
    return out


def same(polars_cube: pl.DataFrame, pandas_out: pd.DataFrame) -> bool:
    """Every row and figure of the two cubes agree."""
    keys = ["month", *ce.DIMENSIONS]
    columns = [*ce.STOCKS, "npl", *ce.FLOWS]
    a = polars_cube.with_columns(month=ce.month_key("month")).select(*keys, *columns)
    b = pl.DataFrame(
        {
            name: pl.Series(name, pandas_out[name].tolist(), strict=False)
            for name in [*keys, *columns]
        }
    )
    b = b.with_columns(
        pl.col(c).fill_nan(None) for c, t in b.schema.items() if t == pl.Float64
    ).cast(dict(a.schema))
    if a.height != b.height:
        print(f"rows differ: polars {a.height:,}, pandas {b.height:,}")
        return False
    return a.sort(keys, nulls_last=True).equals(b.sort(keys, nulls_last=True))


def key_figures(cube: Cube) -> tuple[dict[str, str], Any]:
    """The last month's balance by the borrower's category (亿元) and the key list's coverage."""
    from innofin.monitoring.cube.growth import key_coverage

    last = cube.balances(["enterprise_category"]).filter(pl.col("month") == cube.last_month)
    categories = {
        r["enterprise_category"]: f"{r['outstanding'] / 100 / 1e8:,.2f} 亿元"
        for r in last.sort("enterprise_category").iter_rows(named=True)
    }
    return categories, key_coverage(cube, list_name=national.KEY_LIST)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="national")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snapshot", type=Path, default=None)
    args = parser.parse_args()
    folder = args.snapshot or OUT / f"cube-{args.scale}-{args.seed}"
    manifest = folder / "snapshot.json"
    if not manifest.is_file() or not json.loads(manifest.read_text())["rows"]["key_members"]:
        start = time.perf_counter()
        engine = national.demo_db(args.scale, args.seed, registry_only=True)
        national.publish_key_list(engine, args.scale)
        frames = demo_frames(args.scale, args.seed, national.key_members(engine))
        write_snapshot(frames, folder)
        print(
            f"generated the {args.scale} demo ledger and wrote {folder} in "
            f"{time.perf_counter() - start:.1f} s"
        )
    frames = read_snapshot(folder)
    rows = {name: t.height for name, t in frames.tables.items()}
    print(
        f"snapshot {folder}: {rows['loans']:,} loans, {rows['loan_events']:,} loan events, "
        f"{rows['line_events'] + rows['pool_events'] + rows['loan_events']:,} ledger events "
        f"read, {Cube(frames).months.count} months"
    )
    categories, coverage = key_figures(Cube(frames))
    print(f"  at {coverage.month}: balance by category {categories}")
    print(
        f"  key list {coverage.year}: {coverage.members:,} firms, {coverage.with_credit:,} with "
        f"credit this year ({(coverage.share or 0) * 100:.1f} %), balance "
        f"{coverage.outstanding / 100 / 1e8:,.2f} 亿元, new lending this year "
        f"{coverage.new_lending_ytd / 100 / 1e8:,.2f} 亿元"
    )
    times: dict[str, list[float]] = {"polars read+cube": [], "polars cube": [], "pandas cube": []}
    cpu: dict[str, list[float]] = {name: [] for name in times}
    reference = Cube(frames)
    inputs = pandas_inputs(frames)
    result: pl.DataFrame | None = None
    pandas_result: pd.DataFrame | None = None
    for _ in range(args.repeat):
        gc.collect()
        start, ticks = time.perf_counter(), time.process_time()
        cube = Cube(read_snapshot(folder))
        result = cube.balances()
        times["polars read+cube"].append(time.perf_counter() - start)
        cpu["polars read+cube"].append(time.process_time() - ticks)
        del cube
        gc.collect()
        start, ticks = time.perf_counter(), time.process_time()
        result = Cube(frames).balances()
        times["polars cube"].append(time.perf_counter() - start)
        cpu["polars cube"].append(time.process_time() - ticks)
        gc.collect()
        start, ticks = time.perf_counter(), time.process_time()
        pandas_result = pandas_cube(inputs, reference.months.first, reference.months.last)
        times["pandas cube"].append(time.perf_counter() - start)
        cpu["pandas cube"].append(time.process_time() - ticks)
    assert result is not None and pandas_result is not None
    equal = same(result, pandas_result)
    medians = {k: statistics.median(v) for k, v in times.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu.items()}
    ratio = medians["pandas cube"] / medians["polars cube"]
    cpu_ratio = cpu_medians["pandas cube"] / cpu_medians["polars cube"]
    load = os.getloadavg()
    print(f"full cube: {result.height:,} rows (cells × months with a balance or a flow)")
    for name, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(
            f"  {name:18} median {medians[name]:6.2f} s   runs {runs}   "
            f"(CPU median {cpu_medians[name]:.2f} s, all threads)"
        )
    print(
        f"  pandas / polars    ×{ratio:.1f} (goal ≥ ×{GOAL_RATIO:.0f}: "
        f"{'met' if ratio >= GOAL_RATIO else 'missed'}); in CPU time ×{cpu_ratio:.1f}"
    )
    goal = medians["polars read+cube"] <= GOAL_SECONDS
    print(
        f"  read+cube {medians['polars read+cube']:.2f} s (goal ≤ {GOAL_SECONDS:.0f} s: "
        f"{'met' if goal else 'missed'}); pandas result equal: {equal}"
    )
    print(
        f"  peak RSS {peak_rss_gib():.2f} GiB; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    OUT.mkdir(exist_ok=True)
    report: dict[str, Any] = {
        "scale": args.scale,
        "seed": args.seed,
        "rows": rows,
        "cube_rows": result.height,
        "runs": times,
        "medians": medians,
        "ratio": ratio,
        "equal": equal,
        "cpu_runs": cpu,
        "cpu_medians": cpu_medians,
        "cpu_ratio": cpu_ratio,
        "balance_by_category": categories,
        "key_coverage": {
            k: getattr(coverage, k)
            for k in ("year", "members", "with_credit", "share", "outstanding", "new_lending_ytd")
        },
        "peak_rss_gib": peak_rss_gib(),
        "loadavg": load,
        "when": dt.datetime.now(dt.UTC).isoformat(),
    }
    (OUT / "bench_cube.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
