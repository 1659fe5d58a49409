"""Benchmark: the programme funnel and the institution scorecards on the national demo, against a
pandas baseline of the same figures in the same run.

    .venv/bin/python benchmarks/bench_funnel.py [--scale national] [--db PATH] [--seed 1]
        [--repeat 3]
    (or: make bench-funnel)

The database is the national demo in SQLite (500,000 enterprises, about 40,000 financing needs,
1.8 M loans), written by `innofin demo generate --scale national` unless `--db` names one made
already (default ``benchmarks/out/<scale>-<seed>.db``, made on the first run and reused; shared
with bench_cube, which publishes the demo's key list in it).
The demo posts needs but refers none, so a first run adds a seeded set of referrals the way
firms and banks use the platform: each need referred to one to three institutions — first one
of the firm's own lenders when it has any —, four in five answered within days (exponential,
mean three), of those three in five opting in and the rest declining with a reason, half of
those opting in approving, an approval naming the firm's credit line at that institution when
the ledger has one; the rest wait, some past their deadline (written once, in one transaction,
and kept in the database).

Then, `--repeat` times each, interleaved, over every need and institution (the admin's and the
national office's view):

  funnel      `monitoring.funnel.service.funnel_summary` — the steps needs → referred → answered →
              opted in → approved → credit lines → drawn with counts, firms and amounts, the
              median days to an answer, to approval and to the first drawdown, declines by
              reason, each institution's row — as the API, the CLI and the report call it
  scorecards  `monitoring.funnel.scorecard.scorecards` — per institution: answers and their median
              time, overdue referrals, approval rate by field × size band, points-based share
              of credit lines, default rate by count and principal
  pandas      the baseline: the same tables read with `pandas.read_sql_query` and the same
              figures computed with merges and group-bys (both timed, reading included, as the
              services read too)

The pandas figures are checked equal to the services' once (every step, median and institution
row; amounts to the fen). Prints the medians, the ratios pandas / service, peak memory and the
load average (`uptime`: the machine is shared). Writes benchmarks/out/bench_funnel.json. Not
part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sqlalchemy import Engine, func, select

import national
from innofin.audit.recorder import Actor, record
from innofin.db.frames import FrameWriter
from innofin.kernel.disclosure import DisclosureRule
from innofin.matching.models import NeedReferral
from innofin.matching.recommend import track_engine
from innofin.matching.referrals.engine import DECLINE_REASONS
from innofin.matching.scopes import OPERATOR
from innofin.monitoring.funnel.scorecard import NON_PERFORMING, POINTS_KIND, Scorecards, scorecards
from innofin.monitoring.funnel.service import FunnelSummary, funnel_summary

OUT = Path(__file__).parent / "out"
AT = dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)  # "today" of every figure: fixed
CODES = [c for c in DECLINE_REASONS if c != "other"]


# --- the database -------------------------------------------------------------------------------


def add_referrals(engine: Engine, seed: int) -> int:
    """Referrals of the demo's needs (see the module), once; returns how many there are."""
    with engine.connect() as conn:
        have = int(conn.scalar(select(func.count()).select_from(NeedReferral)) or 0)
    if have:
        return have
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        needs = pd.read_sql_query(
            "SELECT id, enterprise_id, posted_at FROM financing_need ORDER BY id", conn
        )
        banks = pd.read_sql_query(
            "SELECT DISTINCT institution_id FROM credit_line ORDER BY institution_id", conn
        )["institution_id"].to_numpy()
        lines = pd.read_sql_query(
            "SELECT id, institution_id, enterprise_id FROM credit_line "
            "WHERE status = 'approved' ORDER BY id",
            conn,
        )
    line_of = {
        (int(i), int(e)): int(lid)
        for lid, i, e in lines[["id", "institution_id", "enterprise_id"]].itertuples(index=False)
    }
    lenders: dict[int, list[int]] = {}
    for inst, firm in line_of:
        lenders.setdefault(firm, []).append(inst)
    posted = pd.to_datetime(needs["posted_at"], utc=True, format="ISO8601")
    rows: dict[str, list[Any]] = {k: [] for k in ("need_id", "institution_id", "status")}
    extra: dict[str, list[Any]] = {
        k: []
        for k in (
            "referred_at", "deadline", "responded_at", "approved_at", "declined_at",
            "decline_code", "credit_line_id",
        )
    }  # fmt: skip
    for need, firm, at in zip(needs["id"], needs["enterprise_id"], posted, strict=True):
        own = lenders.get(int(firm), [])
        k = int(rng.integers(1, 4))
        chosen: list[int] = [int(rng.choice(own))] if own else []
        while len(chosen) < k:
            pick = int(rng.choice(banks))
            if pick not in chosen:
                chosen.append(pick)
        for inst in chosen:
            referred = at.to_pydatetime() + dt.timedelta(days=float(rng.uniform(0, 3)))
            status, responded, approved, declined, code, line = (
                "referred", None, None, None, None, None,
            )  # fmt: skip
            if rng.random() < 0.8:
                responded = referred + dt.timedelta(days=float(rng.exponential(3.0)))
                if rng.random() < 0.6:
                    status = "opted_in"
                    if rng.random() < 0.5:
                        status = "approved"
                        approved = responded + dt.timedelta(days=float(rng.exponential(10.0)))
                        line = line_of.get((inst, int(firm)))
                else:
                    status, declined = "declined", responded
                    code = CODES[int(rng.integers(0, len(CODES)))]
            rows["need_id"].append(int(need))
            rows["institution_id"].append(inst)
            rows["status"].append(status)
            extra["referred_at"].append(referred)
            extra["deadline"].append((referred + dt.timedelta(days=7)).date())
            extra["responded_at"].append(responded)
            extra["approved_at"].append(approved)
            extra["declined_at"].append(declined)
            extra["decline_code"].append(code)
            extra["credit_line_id"].append(line)
    moment = pl.Datetime("us", "UTC")
    frame = pl.DataFrame(
        {
            **rows,
            "source": ["recommendation"] * len(rows["need_id"]),
            "reasons": ["[]"] * len(rows["need_id"]),
            "consent_at": pl.Series(extra["referred_at"], dtype=moment),
            "referred_at": pl.Series(extra["referred_at"], dtype=moment),
            "deadline": pl.Series(extra["deadline"], dtype=pl.Date),
            "responded_at": pl.Series(extra["responded_at"], dtype=moment),
            "approved_at": pl.Series(extra["approved_at"], dtype=moment),
            "declined_at": pl.Series(extra["declined_at"], dtype=moment),
            "decline_code": pl.Series(extra["decline_code"], dtype=pl.String),
            "credit_line_id": pl.Series(extra["credit_line_id"], dtype=pl.Int64),
        }
    )
    with engine.begin() as conn:
        FrameWriter(conn, NeedReferral.__table__, frame.columns).write(frame)  # type: ignore[arg-type]
        record(
            conn, Actor.cli("bench_funnel"), action="import", entity="need_referral",
            entity_id=None, after={"rows": frame.height, "seed": seed},
        )  # fmt: skip
    return frame.height


# --- the pandas baseline ------------------------------------------------------------------------


def _moments(frame: pd.DataFrame, *names: str) -> None:
    for n in names:
        frame[n] = pd.to_datetime(frame[n], utc=True, format="ISO8601")


def pandas_figures(engine: Engine) -> dict[str, Any]:
    """The funnel's and the scorecards' figures (officers' view, every need) with pandas."""
    with engine.connect() as conn:
        needs = pd.read_sql_query("SELECT id, enterprise_id, amount FROM financing_need", conn)
        refs = pd.read_sql_query(
            "SELECT r.institution_id, n.enterprise_id, e.tech_field, r.status, r.referred_at, "
            "r.deadline, r.responded_at, r.approved_at, r.declined_at, r.decline_code, "
            "r.credit_line_id FROM need_referral r "
            "JOIN financing_need n ON n.id = r.need_id JOIN enterprise e ON e.id = n.enterprise_id",
            conn,
        )
        lines = pd.read_sql_query(
            "SELECT l.id, l.institution_id, l.limit_amount, l.status, p.kind "
            "FROM credit_line l LEFT JOIN product p ON p.id = l.product_id",
            conn,
        )
        loans = pd.read_sql_query(
            "SELECT institution_id, credit_line_id, drawn_on, principal, defaulted_on, category "
            "FROM loan",
            conn,
        )
        revenue = pd.read_sql_query(
            "SELECT enterprise_id, year, revenue FROM indicator_report WHERE revenue IS NOT NULL",
            conn,
        )
    for frame, col in ((needs, "amount"), (lines, "limit_amount"), (loans, "principal")):
        frame[col] = frame[col] / 100  # SQLite keeps money as integer fen
    revenue["revenue"] = revenue["revenue"] / 100
    _moments(refs, "referred_at", "responded_at", "approved_at", "declined_at")
    refs["deadline"] = pd.to_datetime(refs["deadline"])
    loans["drawn_on"] = pd.to_datetime(loans["drawn_on"])
    today = pd.Timestamp((AT + dt.timedelta(hours=8)).date())

    # --- the funnel
    refs["answered"] = refs["responded_at"].notna()
    refs["opted_in"] = refs["answered"] & (
        (refs["status"] != "declined") | (refs["responded_at"] != refs["declined_at"])
    )
    refs["approved"] = refs["approved_at"].notna()
    ref_lines = lines[lines["id"].isin(refs["credit_line_id"].dropna())]
    drawn = (
        loans[loans["credit_line_id"].isin(ref_lines["id"])]
        .groupby("credit_line_id")
        .agg(first=("drawn_on", "min"), total=("principal", "sum"))
    )
    refs = refs.merge(
        ref_lines[["id", "limit_amount", "status"]].rename(
            columns={"id": "credit_line_id", "status": "line_status"}
        ),
        on="credit_line_id",
        how="left",
    ).merge(drawn, left_on="credit_line_id", right_index=True, how="left")
    refs["with_line"] = refs["line_status"] == "approved"
    refs["drew"] = refs["with_line"] & refs["first"].notna()

    def step(mask: pd.Series, amount: pd.Series | None = None) -> tuple[int, int, float | None]:
        chosen = refs[mask]
        total = None if amount is None else round(float(amount[mask].sum()), 2)
        return int(mask.sum()), int(chosen["enterprise_id"].nunique()), total

    every = pd.Series(True, index=refs.index)
    steps = {
        "needs": (
            len(needs),
            int(needs["enterprise_id"].nunique()),
            round(float(needs["amount"].sum()), 2),
        ),
        "referred": step(every),
        "answered": step(refs["answered"]),
        "opted_in": step(refs["opted_in"]),
        "approved": step(refs["approved"]),
        "credit_lines": step(refs["with_line"], refs["limit_amount"]),
        "drawn": step(refs["drew"], refs["total"]),
    }  # fmt: skip
    days = (refs["responded_at"] - refs["referred_at"]).dt.total_seconds() / 86400
    to_approval = (refs["approved_at"] - refs["referred_at"]).dt.total_seconds() / 86400
    referred_day = (refs["referred_at"] + pd.Timedelta(hours=8)).dt.tz_localize(None).dt.floor("D")
    to_credit = (refs["first"] - referred_day).dt.days.astype("float64")
    refs["days"], refs["to_credit"] = days, to_credit
    has_line = refs["credit_line_id"].notna()
    median = lambda s: None if s.dropna().empty else round(float(s.dropna().median()), 3)  # noqa: E731
    declined = refs[refs["status"] == "declined"]
    refs["is_declined"] = refs["status"] == "declined"
    refs["overdue"] = (refs["status"] == "referred") & (refs["deadline"] < today)
    per_inst = refs.groupby("institution_id").agg(
        referred=("status", "size"),
        answered=("answered", "sum"),
        opted_in=("opted_in", "sum"),
        approved=("approved", "sum"),
        declined=("is_declined", "sum"),
        credit_lines=("with_line", "sum"),
        drawn=("drew", "sum"),
        overdue=("overdue", "sum"),
        response=("days", "median"),
        credit=("to_credit", "median"),
    )
    drawn_amount = refs[refs["drew"]].groupby("institution_id")["total"].sum()
    funnel = {
        "steps": steps,
        "median_days_to_response": median(days),
        "median_days_to_approval": median(to_approval[refs["approved"] & has_line]),
        "median_days_to_credit": median(to_credit[has_line & refs["first"].notna()]),
        "declines": {k: int(v) for k, v in declined["decline_code"].value_counts().items()},
        "institutions": {
            int(i): (
                int(r.referred), int(r.answered), int(r.opted_in), int(r.approved),
                int(r.declined), int(r.credit_lines), int(r.drawn),
                round(float(drawn_amount.get(i, 0.0)), 2), int(r.overdue),
                None if pd.isna(r.response) else round(float(r.response), 3),
                None if pd.isna(r.credit) else round(float(r.credit), 3),
            )
            for i, r in per_inst.iterrows()
        },
    }  # fmt: skip

    # --- the scorecards
    latest = revenue.sort_values("year").groupby("enterprise_id").tail(1)
    bands = pd.Series(
        track_engine.size_band(latest["revenue"].to_numpy(np.float64)).astype(np.int64),
        index=latest["enterprise_id"].to_numpy(),
    )
    refs["decided"] = refs["approved"] | refs["is_declined"]
    refs["size"] = refs["enterprise_id"].map(bands).fillna(-1).astype(np.int64)
    decided = refs[refs["decided"]]
    cells = (
        decided.assign(field=decided["tech_field"].fillna(""))
        .groupby(["institution_id", "field", "size"])
        .agg(
            decided=("decided", "size"),
            approved=("approved", "sum"),
            firms=("enterprise_id", "nunique"),
        )
    )
    few = DisclosureRule().min_contributors  # a cell of fewer firms is hidden in every card
    cards_refs = refs.groupby("institution_id").agg(
        referred=("status", "size"), answered=("answered", "sum"), overdue=("overdue", "sum"),
        decided=("decided", "sum"), approved=("approved", "sum"), response=("days", "median"),
    )  # fmt: skip
    open_lines = lines[lines["status"].isin(["approved", "closed"])].assign(
        points=lambda f: f["kind"] == POINTS_KIND
    )
    open_lines["points_limit"] = open_lines["limit_amount"].where(open_lines["points"], 0.0)
    cards_lines = open_lines.groupby("institution_id").agg(
        lines=("id", "size"), limit=("limit_amount", "sum"), points_lines=("points", "sum"),
        points_limit=("points_limit", "sum"),
    )  # fmt: skip
    bad = loans["defaulted_on"].notna() | loans["category"].isin(NON_PERFORMING)
    loans["bad"], loans["bad_principal"] = bad, loans["principal"].where(bad, 0.0)
    cards_loans = loans.groupby("institution_id").agg(
        loans=("principal", "size"), drawn=("principal", "sum"), bad=("bad", "sum"),
        bad_principal=("bad_principal", "sum"),
    )  # fmt: skip
    table = cards_refs.join(cards_lines, how="outer").join(cards_loans, how="outer").fillna(0)
    cards = {
        int(i): (
            int(r.referred), int(r.answered), int(r.overdue), int(r.decided), int(r.approved),
            int(r.lines), round(float(r.limit), 2), int(r.points_lines),
            round(float(r.points_limit), 2), int(r.loans), round(float(r.drawn), 2), int(r.bad),
            round(float(r.bad_principal), 2),
            None if not r.answered else round(float(r.response), 3),
        )
        for i, r in table.iterrows()
    }  # fmt: skip
    by_cell = {
        (int(i), f or None, int(s)): (
            (int(r.decided), int(r.approved)) if r.firms >= few else (None, None)
        )
        for (i, f, s), r in cells.iterrows()
    }
    return {"funnel": funnel, "cards": cards, "cells": by_cell}


# --- the services' figures, in the baseline's shape ---------------------------------------------


def _money(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 2)


def service_figures(funnel: FunnelSummary, cards: Scorecards) -> dict[str, Any]:
    return {
        "funnel": {
            "steps": {s.step: (s.count, s.enterprises, _money(s.amount)) for s in funnel.steps},
            "median_days_to_response": funnel.median_days_to_response,
            "median_days_to_approval": funnel.median_days_to_approval,
            "median_days_to_credit": funnel.median_days_to_credit,
            "declines": dict(funnel.declines),
            "institutions": {
                i.institution_id: (
                    i.referred,
                    i.answered,
                    i.opted_in,
                    i.approved,
                    i.declined,
                    i.credit_lines,
                    i.drawn,
                    _money(i.drawn_amount),
                    i.overdue,
                    i.median_days_to_response,
                    i.median_days_to_credit,
                )
                for i in funnel.institutions
            },
        },
        "cards": {
            c.institution_id: (
                c.referred,
                c.answered,
                c.overdue,
                c.decided,
                c.approved,
                c.credit_lines,
                _money(c.credit_limit),
                c.points_lines,
                _money(c.points_limit),
                c.loans,
                _money(c.drawn),
                c.defaulted_loans,
                _money(c.defaulted_principal),
                c.median_days_to_response,
            )
            for c in cards.cards
        },
        "cells": {
            (c.institution_id, cell.tech_field, cell.size_band): (cell.decided, cell.approved)
            for c in cards.cards
            for cell in c.approval_by_cell
        },
    }


def _same(a: Any, b: Any, path: str = "") -> list[str]:
    """Differences between two figure trees (floats within 0.011: fen, and medians of days)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}/{k}: only one side" for k in set(a) ^ set(b)]
        for k in set(a) & set(b):
            out += _same(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _same(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) or isinstance(b, float):
        ok = a is not None and b is not None and abs(float(a) - float(b)) <= 0.011
        return [] if ok else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a} != {b}"]


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="national")
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = args.db or OUT / f"{args.scale}-{args.seed}.db"
    engine = national.demo_db(args.scale, args.seed, path)
    referrals = add_referrals(engine, args.seed)
    with engine.connect() as conn:
        sizes = {
            t: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() or 0)
            for t in ("financing_need", "need_referral", "credit_line", "loan", "institution")
        }
    print(f"database {path}: {sizes}", flush=True)

    def run_funnel() -> FunnelSummary:
        from sqlalchemy.orm import Session

        with Session(engine) as s:
            return funnel_summary(s, OPERATOR, at=AT)

    def run_cards() -> Scorecards:
        from sqlalchemy.orm import Session

        with Session(engine) as s:
            return scorecards(s, OPERATOR, at=AT)

    times: dict[str, list[float]] = {"funnel": [], "scorecards": [], "pandas": []}
    results: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, fn in (("funnel", run_funnel), ("scorecards", run_cards),
                         ("pandas", lambda: pandas_figures(engine))):  # fmt: skip
            started = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - started)
    ours = service_figures(results["funnel"], results["scorecards"])
    differences = _same(ours, results["pandas"])
    assert not differences, "pandas and the services differ:\n" + "\n".join(differences[:20])
    medians = {k: statistics.median(v) for k, v in times.items()}
    both = medians["funnel"] + medians["scorecards"]
    load = os.getloadavg()
    steps = {s.step: (s.count, s.enterprises) for s in results["funnel"].steps}
    report = {
        "rows": sizes,
        "referrals_added": referrals,
        "repeat": args.repeat,
        "seconds": times,
        "median": medians,
        "ratio_pandas_over_services": round(medians["pandas"] / both, 3),
        "steps": steps,
        "institutions": len(results["scorecards"].cards),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "load_average": load,
    }
    (OUT / "bench_funnel.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"steps (count, firms): {steps}")
    for k, v in medians.items():
        print(f"{k:>11}: median {v:6.2f} s  ({', '.join(f'{t:.2f}' for t in times[k])})")
    print(f"funnel + scorecards {both:.2f} s; pandas {medians['pandas']:.2f} s: "
          f"pandas / services ×{medians['pandas'] / both:.2f}")  # fmt: skip
    print(f"peak memory {report['peak_rss_mb']} MB; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} on {os.cpu_count()} cores")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
