"""Growth at any slice: year-on-year and month-on-month growth of the balance, year-to-date new
lending, the NPL ratio, pure-credit share, credit-line utilisation and first-loan firms (首贷户);
special-credit use against each field's quota and each institution's commitment; key-enterprise
coverage.

Every function reads a `Cube` (one reading of the ledger) and returns Polars frames whose
amounts are Int64 fen and whose ratios are floats (a ratio is an estimate for display; the
amounts it is made of stay exact), each row carrying the reading's ``as_of``.

Definitions (as officials read the figures, DOMAIN.md):

* ``yoy`` — the month-end balance over the same month-end a year earlier, less one; ``mom`` —
  over the previous month-end; null where the earlier balance is zero;
* ``new_lending_ytd`` — drawdowns from January to the month;
* ``npl_ratio`` — substandard + doubtful + loss over the balance;
* ``pure_credit_share`` — the balance of pure-credit loans (信用贷款) over the balance;
* ``utilisation`` — the balance over the limits of the credit lines open at the month end
  (用信 / 有效授信), where the slice is one credit lines have (`cube_engine.LINE_DIMENSIONS`);
* ``first_loan_firms`` — firms whose first drawdown on a line marked ``first_loan`` (首贷, as the
  bank reports it) falls in the month, counted in the slice of that drawdown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from innofin.monitoring.cube import engine as ce
from innofin.monitoring.cube.service import Cube


def _ratio(numerator: str | pl.Expr, denominator: str | pl.Expr) -> pl.Expr:
    num = pl.col(numerator) if isinstance(numerator, str) else numerator
    den = pl.col(denominator) if isinstance(denominator, str) else denominator
    return pl.when(den != 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))


def growth(
    cube: Cube,
    by: Sequence[str] = (),
    where: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """The month-by-month figures of a slice: every cell of `by` in every month, with the
    balances and flows of `Cube.balances` and ``yoy``, ``mom``, ``new_lending_ytd``,
    ``npl_ratio``, ``pure_credit_outstanding``, ``pure_credit_share``, ``first_loan_firms``
    and (for slices credit lines have) ``limit`` and ``utilisation``."""
    by = list(by)
    frame = cube.balances(by, where, dense=True).sort([*by, "month"], nulls_last=True)

    def lag(months: int) -> pl.Expr:
        shifted = pl.col("outstanding").shift(months)
        return shifted.over(by) if by else shifted

    pure_where = {**(where or {}), "product_kind": "pure_credit"}
    pure = cube.balances(by, pure_where, dense=True).select(
        "month", *by, pure_credit_outstanding="outstanding"
    )
    year = pl.col("month").dt.year()
    frame = frame.with_columns(
        yoy=_ratio("outstanding", lag(12)) - 1.0,
        mom=_ratio("outstanding", lag(1)) - 1.0,
        new_lending_ytd=pl.col("new_lending").cum_sum().over([*by, year] if by else year),
        npl_ratio=_ratio("npl", "outstanding"),
    )
    frame = _join(frame, pure, by).with_columns(
        pure_credit_outstanding=pl.col("pure_credit_outstanding").fill_null(0)
    )
    frame = frame.with_columns(pure_credit_share=_ratio("pure_credit_outstanding", "outstanding"))
    frame = _join(frame, first_loan_firms(cube, by, where), by).with_columns(
        first_loan_firms=pl.col("first_loan_firms").fill_null(0)
    )
    if all(name in ce.LINE_DIMENSIONS for name in (*by, *(where or {}))):
        limits = cube.line_limits(by, where).select("month", *by, "limit")
        frame = _join(frame, limits, by).with_columns(limit=pl.col("limit").fill_null(0))
        frame = frame.with_columns(utilisation=_ratio("outstanding", "limit"))
    return frame


def _join(left: pl.DataFrame, right: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    right = right.drop("as_of", strict=False)
    return left.join(right, on=["month", *by], how="left", nulls_equal=True)


def first_loan_firms(
    cube: Cube, by: Sequence[str] = (), where: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """First-loan firms (首贷户) by month: firms whose first drawdown on a line marked
    ``first_loan`` falls in the month, in the slice of that drawdown."""
    args = (list(by), dict(where or {}))
    return cube.memo_frame("first_loan_firms", args, lambda: _first_loan_firms(cube, by, where))


def _first_loan_firms(
    cube: Cube, by: Sequence[str], where: Mapping[str, Any] | None
) -> pl.DataFrame:
    loans = cube.loans(where).filter(pl.col("first_loan").fill_null(False))
    first = (
        loans.sort("drawn_on", "loan_id")
        .group_by("enterprise_id", maintain_order=True)
        .first()
        .with_columns(month=ce.month_end_of(ce.month_key("drawn_on")))
    )
    return first.group_by("month", *by).agg(first_loan_firms=pl.len().cast(pl.Int64))


def on_month(frame: pl.DataFrame, month: dt.date) -> pl.DataFrame:
    """The rows of one month end."""
    return frame.filter(pl.col("month") == month)


# --- special credit against quotas and commitments ---------------------------------------------


def quota_use(cube: Cube, programme_id: int | None = None) -> pl.DataFrame:
    """Special-credit use against each field's quota: every ``new_credit`` target (with or
    without a field) and the programme's new lending in its field and period so far —
    target_id, programme_id, tech_field, period_start, due_on, quota, used, share, as_of."""
    targets = cube.frames["targets"].filter(pl.col("kind") == "new_credit")
    programmes = cube.frames["programmes"]
    if programme_id is not None:
        targets = targets.filter(pl.col("programme_id") == programme_id)
    rows = []
    for t in targets.join(
        programmes.select("programme_id", "starts_on"), on="programme_id", how="left"
    ).iter_rows(named=True):
        start = t["period_start"] or t["starts_on"]
        where: dict[str, Any] = {"programme_id": t["programme_id"]}
        if t["tech_field"] is not None:
            where["tech_field"] = t["tech_field"]
        used = new_lending_between(cube, where, start, t["due_on"])
        rows.append(
            {
                **{k: t[k] for k in ("target_id", "programme_id", "tech_field", "due_on")},
                "period_start": start,
                "quota": t["amount"],
                "used": used,
            }
        )
    schema = {
        "target_id": pl.Int64,
        "programme_id": pl.Int64,
        "tech_field": pl.String,
        "due_on": pl.Date,
        "period_start": pl.Date,
        "quota": pl.Int64,
        "used": pl.Int64,
    }
    out = pl.DataFrame(rows, schema=schema, orient="row")
    return out.with_columns(share=_ratio("used", "quota"), as_of=pl.lit(cube.as_of))


def commitment_use(cube: Cube, programme_id: int | None = None) -> pl.DataFrame:
    """Each institution's commitments (承诺额度) and the credit drawn under them in their
    periods so far: commitment_id, programme_id, institution_id, tech_field, period_start,
    period_end, amount, used, share, as_of."""
    return cube.memo_frame(
        "commitment_use", (programme_id,), lambda: _commitment_use(cube, programme_id)
    )


def _commitment_use(cube: Cube, programme_id: int | None) -> pl.DataFrame:
    commitments = cube.frames["commitments"]
    if programme_id is not None:
        commitments = commitments.filter(pl.col("programme_id") == programme_id)
    drawn = (
        cube.loans({"commitment_id": commitments["commitment_id"].to_list()})
        .join(commitments.select("commitment_id", "period_start", "period_end"), on="commitment_id")
        .filter(pl.col("drawn_on").is_between(pl.col("period_start"), pl.col("period_end")))
        .select("loan_id", "commitment_id")
    )
    amounts = cube.frames["loans"].select("loan_id", "principal")
    used = (
        drawn.join(amounts, on="loan_id")
        .group_by("commitment_id")
        .agg(used=pl.col("principal").sum())
    )
    out = commitments.join(used, on="commitment_id", how="left").with_columns(
        used=pl.col("used").fill_null(0)
    )
    return out.select(
        "commitment_id",
        "programme_id",
        "institution_id",
        "tech_field",
        "period_start",
        "period_end",
        "amount",
        "used",
        share=_ratio("used", "amount"),
        as_of=pl.lit(cube.as_of),
    )


def new_lending_between(
    cube: Cube, where: Mapping[str, Any] | None, start: dt.date, end: dt.date
) -> int:
    """New lending (fen) of the loans `where` selects, drawn from `start` to `end`."""

    def compute() -> int:
        loans = cube.loans(where).filter(pl.col("drawn_on").is_between(start, end))
        amounts = cube.frames["loans"].select("loan_id", "principal")
        total = loans.select("loan_id").join(amounts, on="loan_id")["principal"].sum()
        return int(total or 0)

    return cube.memo_number("new_lending_between", (dict(where or {}), start, end), compute)


# --- key enterprises ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyCoverage:
    """This year's key list and credit (重点企业覆盖): members, members with credit (a balance
    at the month end or a drawdown this year), their share, their balance and their new
    lending this year (fen)."""

    year: int
    month: dt.date
    list_name: str | None
    members: int
    with_credit: int
    share: float | None
    outstanding: int
    new_lending_ytd: int
    as_of: dt.datetime


def key_members(cube: Cube, year: int, list_name: str | None = None) -> pl.Series:
    members = cube.frames["key_members"].filter(pl.col("year") == year)
    if list_name is not None:
        members = members.filter(pl.col("name") == list_name)
    return members["enterprise_id"].unique()


def served_by_month(
    cube: Cube,
    members: pl.Series,
    start: dt.date,
    where: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """For each month from `start`'s on: members first served in the period (a balance at
    the month end or a drawdown in the month) — month, newly_served, served (cumulative)."""
    where = {**(where or {}), "enterprise_id": members.to_list()}
    frame = cube.balances(["enterprise_id"], where, dense=False)
    first = (
        frame.filter(
            (pl.col("month") >= start) & ((pl.col("outstanding") > 0) | (pl.col("new_lending") > 0))
        )
        .group_by("enterprise_id")
        .agg(pl.col("month").min())
        .group_by("month")
        .agg(newly_served=pl.len().cast(pl.Int64))
    )
    months = (
        pl.DataFrame(
            {"month": pl.date_range(start, cube.last_month, "1mo", eager=True).dt.month_end()}
        )
        if start <= cube.last_month
        else pl.DataFrame(schema={"month": pl.Date})
    )
    out = months.join(first, on="month", how="left").with_columns(
        newly_served=pl.col("newly_served").fill_null(0)
    )
    return out.sort("month").with_columns(served=pl.col("newly_served").cum_sum())


def key_coverage(
    cube: Cube,
    year: int | None = None,
    list_name: str | None = None,
    where: Mapping[str, Any] | None = None,
) -> KeyCoverage:
    """Coverage of `year`'s key list (default: the cube's last year) at the year's last month
    in the cube, of the loans `where` selects (a programme's, say)."""
    year = year or cube.last_month.year
    month = min(cube.last_month, dt.date(year, 12, 31))
    members = key_members(cube, year, list_name)
    start = dt.date(year, 1, 1)
    frame = cube.balances(
        ["enterprise_id"], {**(where or {}), "enterprise_id": members.to_list()}, dense=False
    )
    ytd = frame.filter(pl.col("month").is_between(start, month))
    at_month = ytd.filter(pl.col("month") == month)
    served = ytd.filter((pl.col("outstanding") > 0) | (pl.col("new_lending") > 0))
    with_credit = served["enterprise_id"].n_unique() if served.height else 0
    count = members.len()
    return KeyCoverage(
        year=year,
        month=ce_month_end(month),
        list_name=list_name,
        members=count,
        with_credit=with_credit,
        share=with_credit / count if count else None,
        outstanding=int(at_month["outstanding"].sum() or 0),
        new_lending_ytd=int(ytd["new_lending"].sum() or 0),
        as_of=cube.as_of,
    )


def ce_month_end(day: dt.date) -> dt.date:
    from innofin.kernel.periods import month_end

    return month_end(day)
