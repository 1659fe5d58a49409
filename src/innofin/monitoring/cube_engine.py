"""The balance cube (余额立方): month-end outstanding principal and the month's flows, by month ×
institution × zone × technology field × enterprise category × financing mode × product kind ×
programme, computed from the ledger's events alone.

Pure (Polars and NumPy over the columns `monitoring.cube` reads from the database or a Parquet
snapshot). Money is Int64 fen throughout: sums are exact, and nothing passes through a float.

How a figure is made:

* every loan event is a *flow* of the month its ``effective_on`` falls in: a drawdown adds to the
  outstanding principal and to new lending (新增投放), a repayment takes from the outstanding and
  adds to repayments, a write-off takes from the outstanding; a reversal is the same flow with
  the opposite sign in the month of the event it undoes (the ledger dates it so), so a cube
  rebuilt after a reversal changes exactly the months from that one on;
* a *stock* (month-end balance 月末余额) is the running sum of its flows over the months;
* the five-category balances: a loan's class at a month end is its latest ``classified`` event's
  class, at least substandard once it has defaulted (as `ledger.replay` derives it); a change of
  class moves the loan's running balance from the old class to the new one in that month, so
  only loans that ever left *pass* are sorted, and *pass* is the outstanding less the others;
* a loan's dimensions are fixed at its drawdown: the institution, the programme, the product
  kind and the financing mode of its credit line, the zone and field of its borrower, and the
  borrower's category on the drawdown day — a valid high-tech enterprise (HNTE) certificate
  first, then a valid tech-based SME one, then membership of that year's key list, else
  *other* — so a month's figure never changes when a certificate later lapses.

Cells are numbered once per grouping and the month-end running sums are taken over a dense
cells × months grid in NumPy (each cell's flows are unique per month after grouping, so the grid
is filled by assignment, never by a float sum); the full cube keeps only its non-empty rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

#: the cube's dimensions (every one a column of `loan_attributes`)
DIMENSIONS: Final = (
    "institution_id",
    "zone_id",
    "tech_field",
    "enterprise_category",
    "financing_mode",
    "product_kind",
    "programme_id",
)
#: further attributes of a loan a slice may group or filter by
ATTRIBUTES: Final = (
    *DIMENSIONS,
    "risk_pool_id",
    "commitment_id",
    "credit_line_id",
    "enterprise_id",
    "first_loan",
)
#: attributes a credit line has (its limit is counted by these; see `line_limits`)
LINE_DIMENSIONS: Final = (
    "institution_id",
    "zone_id",
    "tech_field",
    "financing_mode",
    "product_kind",
    "programme_id",
    "risk_pool_id",
    "commitment_id",
)
ENTERPRISE_CATEGORIES: Final = ("high_tech", "tech_sme", "key_list", "other")
PRODUCT_KINDS: Final = ("pure_credit", "ip_pledge", "guaranteed", "other")
FINANCING_MODES: Final = ("direct", "indirect")
CLASSES: Final = ("pass", "special_mention", "substandard", "doubtful", "loss")
#: month-end balances (running sums of their flows)
STOCKS: Final = ("outstanding", "special_mention", "substandard", "doubtful", "loss")
#: flows of the month
FLOWS: Final = ("new_lending", "repaid", "written_off", "recovered", "drawdowns")
#: loan event kind → (change of the outstanding, the flow column it adds to, its sign)
_LOAN_KINDS: Final = {
    "drawn": (1, "new_lending", 1),
    "repaid": (-1, "repaid", 1),
    "repaid_reversed": (1, "repaid", -1),
    "written_off": (-1, "written_off", 1),
    "written_off_reversed": (1, "written_off", -1),
    "recovered": (0, "recovered", 1),
    "recovered_reversed": (0, "recovered", -1),
}


def month_key(column: str | pl.Expr) -> pl.Expr:
    """Months since year 0 of a date column (``year × 12 + month − 1``, as
    `periods.month_index`)."""
    c = pl.col(column) if isinstance(column, str) else column
    return (c.dt.year().cast(pl.Int32) * 12 + c.dt.month().cast(pl.Int32) - 1).cast(pl.Int32)


def month_end_of(keys: pl.Expr) -> pl.Expr:
    """The last day of each month key (the inverse of `month_key`, to the month's end)."""
    year = (keys // 12).cast(pl.Int32)
    month = (keys % 12 + 1).cast(pl.Int8)
    return pl.date(year, month, 1).dt.month_end()


# --- the loans' attributes ----------------------------------------------------------------------


def product_kinds(lines: pl.DataFrame) -> pl.DataFrame:
    """`financing_mode` and `product_kind` of each credit line, from its tags (the pool rules'
    ``pure_credit`` / ``ip_pledge`` / ``guaranteed``) and its product (mode, collateral, kind).

    IP pledge first, then guaranteed, then pure credit (no collateral); any other security is
    *other*. A line without a product is bank credit: indirect."""
    tags = pl.col("tags").fill_null("")
    collateral = pl.col("collateral").fill_null("")
    kind = pl.col("product_kind_code").fill_null("")
    return lines.with_columns(
        financing_mode=pl.col("financing_mode").fill_null("indirect"),
        product_kind=pl.when(
            tags.str.contains('"ip_pledge"', literal=True)
            | (collateral == "ip_pledge")
            | (kind == "ip_pledge_loan")
        )
        .then(pl.lit("ip_pledge"))
        .when(tags.str.contains('"guaranteed"', literal=True) | (collateral == "guarantee"))
        .then(pl.lit("guaranteed"))
        .when(
            tags.str.contains('"pure_credit"', literal=True)
            | (collateral == "none")
            | kind.is_in(["pure_credit_loan", "points_loan"])
        )
        .then(pl.lit("pure_credit"))
        .otherwise(pl.lit("other")),
        first_loan=tags.str.contains('"first_loan"', literal=True),
    )


def enterprise_categories(
    loans: pl.DataFrame, certifications: pl.DataFrame, key_members: pl.DataFrame
) -> pl.DataFrame:
    """(loan_id, enterprise_category): the borrower's category on the drawdown day.

    `loans`: loan_id, enterprise_id, drawn_on; `certifications`: enterprise_id, kind (``hnte``,
    ``tech_sme``, …), valid_from, valid_until (null: open); `key_members`: year, enterprise_id
    (members of that year's published key list)."""
    base = loans.select("loan_id", "enterprise_id", "drawn_on")
    held = []
    for kind in ("hnte", "tech_sme"):  # a join per kind, then the loans it covers: no group-by
        certs = certifications.filter(pl.col("kind") == kind).select(
            "enterprise_id", "valid_from", "valid_until"
        )
        covered = base.join(certs, on="enterprise_id", how="inner").filter(
            (pl.col("valid_from") <= pl.col("drawn_on"))
            & (pl.col("valid_until").is_null() | (pl.col("valid_until") >= pl.col("drawn_on")))
        )
        held.append(covered["loan_id"].unique().implode())
    members = key_members.select(
        pl.col("year").cast(pl.Int32), "enterprise_id", key=pl.lit(True)
    ).unique(subset=["year", "enterprise_id"])
    out = base.with_columns(year=pl.col("drawn_on").dt.year().cast(pl.Int32)).join(
        members, on=["year", "enterprise_id"], how="left"
    )
    return out.select(
        "loan_id",
        enterprise_category=pl.when(pl.col("loan_id").is_in(held[0]))
        .then(pl.lit("high_tech"))
        .when(pl.col("loan_id").is_in(held[1]))
        .then(pl.lit("tech_sme"))
        .when(pl.col("key").fill_null(False))
        .then(pl.lit("key_list"))
        .otherwise(pl.lit("other")),
    )


def loan_attributes(
    loans: pl.DataFrame,
    lines: pl.DataFrame,
    enterprises: pl.DataFrame,
    certifications: pl.DataFrame,
    key_members: pl.DataFrame,
) -> pl.DataFrame:
    """One row per loan: loan_id, drawn_on and every one of `ATTRIBUTES`.

    `loans`: loan_id, credit_line_id, institution_id, enterprise_id, drawn_on; `lines`: the
    output of `product_kinds` (credit_line_id, programme_id, risk_pool_id, commitment_id,
    financing_mode, product_kind, first_loan); `enterprises`: enterprise_id, zone_id,
    tech_field."""
    line_cols = lines.select(
        "credit_line_id",
        "programme_id",
        "risk_pool_id",
        "commitment_id",
        "financing_mode",
        "product_kind",
        "first_loan",
    )
    out = (
        loans.select("loan_id", "credit_line_id", "institution_id", "enterprise_id", "drawn_on")
        .join(line_cols, on="credit_line_id", how="left")
        .join(
            enterprises.select("enterprise_id", "zone_id", "tech_field"),
            on="enterprise_id",
            how="left",
        )
        .join(enterprise_categories(loans, certifications, key_members), on="loan_id", how="left")
    )
    return out.select("loan_id", "drawn_on", *ATTRIBUTES)


# --- flows ------------------------------------------------------------------------------------


def loan_flows(events: pl.DataFrame) -> pl.DataFrame:
    """`loan_flow_parts` in one frame (each part's missing columns zero)."""
    return pl.concat(list(loan_flow_parts(events)), how="diagonal").fill_null(0)


def loan_flow_parts(events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The month's flows of every loan event: loan_id, month and one column per stock and flow;
    in two parts, the events' own flows and the moves between classes (`class_moves`), which
    `cube` reads without joining them.

    `events`: event_id, loan_id, kind, on (date), principal (Int64 fen, null for none),
    category (the class of a ``classified`` event, else null). Kinds the cube does not read
    (``classified``, ``defaulted``) add nothing here but move balances between classes."""
    kinds = list(_LOAN_KINDS)
    # each kind a small code once; the columns are then table look-ups over NumPy arrays
    code = (
        events["kind"]
        .replace_strict({k: i for i, k in enumerate(kinds)}, default=-1, return_dtype=pl.Int8)
        .to_numpy()
    )
    keep = code >= 0
    code = code[keep].astype(np.int64)
    p = events["principal"].fill_null(0).to_numpy()[keep].astype(np.int64)
    table = {"outstanding": [v[0] for v in _LOAN_KINDS.values()]}
    for flow in ("new_lending", "repaid", "written_off", "recovered"):
        table[flow] = [v[2] if v[1] == flow else 0 for v in _LOAN_KINDS.values()]
    columns = {
        name: pl.Series(name, p * np.asarray(signs, dtype=np.int64)[code])
        for name, signs in table.items()
    }
    columns["drawdowns"] = pl.Series("drawdowns", (code == kinds.index("drawn")).astype(np.int64))
    known = events.filter(pl.Series(keep))
    flows = known.select("loan_id", month=month_key("on")).with_columns(**columns)
    return flows, class_moves(events)


def class_moves(events: pl.DataFrame) -> pl.DataFrame:
    """The five-category balances as flows: loan_id, month and the change of each non-pass
    class's balance, for the loans that were ever classified or defaulted.

    The loan's events in the order of history (date, then id); its class after each is the
    latest classification's, at least substandard once defaulted; where it changes, the running
    balance leaves the old class and enters the new one."""
    rank = {name: i for i, name in enumerate(CLASSES)}
    touched = events.filter(pl.col("kind").is_in(["classified", "defaulted"]))["loan_id"].unique()
    if touched.len() == 0:
        empty = {"loan_id": pl.Int64, "month": pl.Int32}
        return pl.DataFrame(schema=empty | dict.fromkeys(CLASSES[1:], pl.Int64))
    rows = events.filter(pl.col("loan_id").is_in(touched.implode())).sort(
        "loan_id", "on", "event_id"
    )
    sign = pl.col("kind").replace_strict(
        {k: v[0] for k, v in _LOAN_KINDS.items()}, default=0, return_dtype=pl.Int64
    )
    rows = rows.select(
        "loan_id",
        month=month_key("on"),
        delta=pl.col("principal").fill_null(0).cast(pl.Int64) * sign,
        classified=pl.when(pl.col("kind") == "classified").then(
            pl.col("category").replace_strict(rank, default=None, return_dtype=pl.Int8)
        ),
        defaulted=(pl.col("kind") == "defaulted").cast(pl.Int8),
    )
    rows = rows.with_columns(
        latest=pl.col("classified").forward_fill().over("loan_id").fill_null(0),
        floor=pl.col("defaulted").cum_max().over("loan_id") * 2,
        balance=pl.col("delta").cum_sum().over("loan_id"),
    ).with_columns(cls=pl.max_horizontal("latest", "floor"))
    rows = rows.with_columns(
        before=pl.col("balance") - pl.col("delta"),
        prev=pl.col("cls").shift(1).over("loan_id").fill_null(0),
    )
    own = rows.select("loan_id", "month", "cls", amount=pl.col("delta"))
    changed = rows.filter(pl.col("cls") != pl.col("prev"))
    leave = changed.select("loan_id", "month", cls=pl.col("prev"), amount=-pl.col("before"))
    enter = changed.select("loan_id", "month", "cls", amount=pl.col("before"))
    moves = pl.concat([own, leave, enter]).filter((pl.col("cls") > 0) & (pl.col("amount") != 0))
    columns = {
        name: pl.when(pl.col("cls") == i).then(pl.col("amount")).otherwise(0)
        for i, name in enumerate(CLASSES)
        if i > 0
    }
    return moves.select("loan_id", "month", **columns)


# --- the grid -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Months:
    """The months of a cube: month keys `first` to `last` inclusive (see `month_key`)."""

    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def accumulate(
    flows: pl.DataFrame | Sequence[pl.DataFrame],
    cells: pl.DataFrame,
    months: Months,
    stocks: Sequence[str],
    flow_columns: Sequence[str],
    *,
    dense: bool = True,
) -> pl.DataFrame:
    """Flows (cell, month, values…; one frame or several, each with some of the columns) → one
    row per cell and month of `months`: month-end stocks (running sums from the earliest flow
    on) and the month's flows.

    `cells` holds the dimension values of each cell, row `i` for cell `i`. `dense`: every cell
    in every month; otherwise only the rows with a stock or a flow other than zero."""
    columns = [*stocks, *flow_columns]
    parts = [flows] if isinstance(flows, pl.DataFrame) else list(flows)
    earliest = [int(p["month"].min()) for p in parts if p.height]  # type: ignore[arg-type]
    start = min([months.first, *earliest])
    parts = [p.filter(pl.col("month") <= months.last) for p in parts]
    span = months.last - start + 1
    n = cells.height
    slots = [
        p["cell"].to_numpy().astype(np.int64) * span
        + (p["month"].to_numpy().astype(np.int64) - start)
        for p in parts
    ]
    skip = months.first - start
    arrays: dict[str, np.ndarray] = {}
    for name in columns:
        flat = np.zeros(n * span, dtype=np.int64)
        for part, slot in zip(parts, slots, strict=True):
            if name in part.columns:
                flat += _sums(slot, part[name].fill_null(0).to_numpy(), n * span)
        grid = flat.reshape(n, span)
        if name in stocks:
            np.cumsum(grid, axis=1, out=grid)
        arrays[name] = grid[:, skip:].ravel()
    count = months.count
    cell = np.repeat(np.arange(n, dtype=np.int64), count)
    month = np.tile(np.arange(months.first, months.last + 1, dtype=np.int32), n)
    if not dense and n:
        keep = np.zeros(n * count, dtype=bool)
        for name in columns:
            keep |= arrays[name] != 0
        cell, month = cell[keep], month[keep]
        arrays = {name: values[keep] for name, values in arrays.items()}
    out = cells.select(pl.all().gather(cell)) if cells.width else pl.DataFrame()
    return out.with_columns(
        pl.Series("month", month, dtype=pl.Int32),
        *(pl.Series(name, arrays[name], dtype=pl.Int64) for name in columns),
    )


#: every integer of magnitude below 2**53 is a float64 exactly, so are all partial sums of a
#: column whose magnitudes add up to less: such a column is summed per slot by `np.bincount`
#: (float64 weights) exactly; a larger one (90 trillion yuan in fen) by an integer group-by
EXACT_FLOAT: Final = 2**53


def _sums(slots: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """The Int64 sum of `values` per slot (0 to size − 1), exact."""
    values = values.astype(np.int64, copy=False)
    if slots.size * 8 < size:  # a few rows over a large grid: add them in place
        out = np.zeros(size, dtype=np.int64)
        np.add.at(out, slots, values)
        return out
    if int(np.abs(values).sum(dtype=np.int64)) < EXACT_FLOAT:
        summed = np.bincount(slots, weights=values, minlength=size)
        return np.rint(summed).astype(np.int64)
    out = np.zeros(size, dtype=np.int64)
    frame = (
        pl.DataFrame({"slot": slots, "value": values}).group_by("slot").agg(pl.col("value").sum())
    )
    out[frame["slot"].to_numpy()] = frame["value"].to_numpy()
    return out


def number_cells(
    attributes: pl.DataFrame, by: Sequence[str], key: str
) -> tuple[np.ndarray, pl.DataFrame]:
    """Cell numbers of the rows of `attributes` (grouped by `by`; nulls form a group of their
    own), as a lookup array indexed by the row's `key` (−1 where no row), and the cells' values
    in the order of their values. (A hash group-by: cheaper here than ranking each column and
    sorting one mixed key.)"""
    if not by:  # one cell: the total
        attributes, by = attributes.with_columns(_all=pl.lit(True)), ("_all",)
    size = int(attributes[key].max() or 0) + 1 if attributes.height else 1  # type: ignore[arg-type]
    lookup = np.full(size, -1, dtype=np.int64)
    groups = attributes.group_by(list(by)).agg(pl.col(key)).sort(list(by), nulls_last=True)
    ids = groups.with_row_index("cell").select("cell", key).explode(key)
    lookup[ids[key].to_numpy()] = ids["cell"].to_numpy()
    return lookup, groups.drop(key)


def cube(
    flows: pl.DataFrame | Sequence[pl.DataFrame],
    attributes: pl.DataFrame,
    months: Months,
    by: Sequence[str] = DIMENSIONS,
    *,
    dense: bool | None = None,
) -> pl.DataFrame:
    """The balance cube grouped by `by` (any of `ATTRIBUTES`; none: the total), one row per
    cell and month: month (key), the cell's values, the month-end `STOCKS` and the month's
    `FLOWS`, all Int64 fen (``drawdowns`` a count). `dense` (default: when grouped by fewer than
    three attributes) keeps every cell in every month; the full cube keeps non-empty rows.

    `flows` is `loan_flows` (or `loan_flow_parts`) of the events; `attributes`
    `loan_attributes` of the loans (filter it to take a part of the ledger: the flows of other
    loans are left out)."""
    lookup, cells = number_cells(attributes, by, "loan_id")
    tagged = []
    for part in [flows] if isinstance(flows, pl.DataFrame) else flows:
        loan_ids = part["loan_id"].to_numpy()
        inside = loan_ids < lookup.size
        cell = np.full(loan_ids.size, -1, dtype=np.int64)
        cell[inside] = lookup[loan_ids[inside]]
        tagged.append(part.with_columns(cell=pl.Series(cell)).filter(pl.col("cell") >= 0))
    keep_dense = len(by) < 3 if dense is None else dense
    out = accumulate(tagged, cells, months, STOCKS, FLOWS, dense=keep_dense)
    return out.select(
        "month",
        *by,
        *STOCKS,
        npl=pl.col("substandard") + pl.col("doubtful") + pl.col("loss"),
        **{
            "pass": pl.col("outstanding")
            - pl.col("special_mention")
            - pl.col("substandard")
            - pl.col("doubtful")
            - pl.col("loss")
        },
        **{name: pl.col(name) for name in FLOWS},
    )


# --- credit lines and risk pools ----------------------------------------------------------------


def line_limits(
    lines: pl.DataFrame, line_events: pl.DataFrame, months: Months, by: Sequence[str] = ()
) -> pl.DataFrame:
    """The limits of the credit lines open at each month end (有效授信额度), grouped by `by` (of
    `LINE_DIMENSIONS`): month, the cell's values, ``limit`` (fen) and ``lines`` (count).

    A line is open from its approval (or historical load) — not before it opens — until it
    matures, is closed or rejected; `lines` carries credit_line_id, limit_amount, opens_on,
    matures_on and the attributes; `line_events`: credit_line_id, kind, on."""
    lifecycle = line_events.group_by("credit_line_id").agg(
        approved=pl.col("on").filter(pl.col("kind").is_in(["line_approved", "line_loaded"])).min(),
        ended=pl.col("on").filter(pl.col("kind").is_in(["line_closed", "line_rejected"])).min(),
    )
    spans = (
        lines.join(lifecycle, on="credit_line_id", how="inner")
        .filter(pl.col("approved").is_not_null())
        .with_columns(
            start=month_key(pl.max_horizontal("approved", "opens_on")),
            # open at a month end while the end day is after it: the end's month is the first
            # month-end at which the line no longer counts, unless it ends on the last day
            stop=month_key(
                pl.min_horizontal("matures_on", pl.col("ended").fill_null(pl.date(9999, 1, 1)))
            ),
        )
        .filter(pl.col("stop") > pl.col("start"))
    )
    spans = spans.with_row_index("row")
    lookup, cells = number_cells(spans, by, "row")
    spans = spans.with_columns(cell=pl.Series(lookup[spans["row"].to_numpy()]))
    opening = spans.select(
        "cell", month=pl.col("start"), limit=pl.col("limit_amount"), lines=pl.lit(1, pl.Int64)
    )
    closing = spans.select(
        "cell", month=pl.col("stop"), limit=-pl.col("limit_amount"), lines=pl.lit(-1, pl.Int64)
    )
    out = accumulate(pl.concat([opening, closing]), cells, months, ("limit", "lines"), ())
    return out.select("month", *by, "limit", "lines")


def pool_flows(pool_events: pl.DataFrame, months: Months) -> pl.DataFrame:
    """Each risk pool by month: contributions, claims paid and recoveries shared in the month,
    and its month-end balance (contributed − paid out + recovered). `pool_events`: pool_id,
    kind, on, amount (fen)."""
    names = {
        "contributed": "contributed",
        "claim_paid": "claims_paid",
        "recovery_shared": "recoveries",
    }
    rows = pool_events.filter(pl.col("kind").is_in(list(names))).with_columns(
        month=month_key("on"), flow=pl.col("kind").replace_strict(names)
    )
    cells = pool_events.select("pool_id").unique().sort("pool_id")
    if cells.height == 0:
        return pl.DataFrame(schema={"pool_id": pl.Int64, "month": pl.Int32})
    lookup = np.full(int(cells["pool_id"].max()) + 1, -1, dtype=np.int64)  # type: ignore[arg-type]
    lookup[cells["pool_id"].to_numpy()] = np.arange(cells.height)
    values = {
        name: pl.when(pl.col("flow") == name).then(pl.col("amount")).otherwise(0).cast(pl.Int64)
        for name in names.values()
    }
    sign = pl.when(pl.col("flow") == "claims_paid").then(-1).otherwise(1)
    flows = rows.select(
        cell=pl.Series(lookup[rows["pool_id"].to_numpy()]),
        month="month",
        balance=pl.col("amount").cast(pl.Int64) * sign,
        **values,
    )
    return accumulate(flows, cells, months, ("balance",), tuple(names.values()))
