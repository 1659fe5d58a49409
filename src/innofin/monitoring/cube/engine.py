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

How it is computed: a loan's attributes are joined once per loan (ids index arrays rather than
being hashed), never per event or per month; the events become flow rows once (`LoanFlows`: each
row's loan, month and amount, grouped by kind, the class moves found in one pass over the touched
loans' sorted events); a grouping numbers its cells from dense integer codes of its columns, each
flow row finds its cell through its loan, each kind of row is summed per cell and month once, and
the month-end running sums are taken along a cells × months grid in NumPy (exact Int64 sums); the
full cube keeps only its non-empty rows.
"""

from __future__ import annotations

import math
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
    return keys.map_batches(_month_ends_of, return_dtype=pl.Date, is_elementwise=True)


def _month_ends_of(keys: pl.Series) -> pl.Series:
    """`month_end_of` over a column: each month between the smallest key and the largest once
    (the day before the next month's first, counted from 1970-01-01 in the proleptic Gregorian
    calendar: H. Hinnant's ``days_from_civil``), then a look-up per row."""
    keys = keys.cast(pl.Int64)
    if keys.null_count() == keys.len():
        return pl.Series(keys.name, [None] * keys.len(), dtype=pl.Date)
    lo, hi = int(keys.min()), int(keys.max())  # type: ignore[arg-type]
    after = np.arange(lo, hi + 1, dtype=np.int64) + 1  # the next month
    year = after // 12 - (after % 12 < 2)  # January and February count in the year before
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * ((after % 12 + 10) % 12) + 2) // 5  # its first day in a year from March
    days = era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719_468 - 1
    table = pl.Series(keys.name, days.astype(np.int32)).cast(pl.Date)
    return table.gather(keys - lo)


# --- the loans' attributes ----------------------------------------------------------------------


def product_kinds(lines: pl.DataFrame) -> pl.DataFrame:
    """`financing_mode` and `product_kind` of each credit line, from its tags (the pool rules'
    ``pure_credit`` / ``ip_pledge`` / ``guaranteed``) and its product (mode, collateral, kind).

    IP pledge first, then guaranteed, then pure credit (no collateral); any other security is
    *other*. A line without a product is bank credit: indirect."""
    has = _tags(lines["tags"], ("ip_pledge", "guaranteed", "pure_credit", "first_loan"))
    collateral = pl.col("collateral").fill_null("")
    kind = pl.col("product_kind_code").fill_null("")
    return lines.with_columns(
        financing_mode=pl.col("financing_mode").fill_null("indirect"),
        product_kind=pl.when(
            pl.lit(has["ip_pledge"]) | (collateral == "ip_pledge") | (kind == "ip_pledge_loan")
        )
        .then(pl.lit("ip_pledge"))
        .when(pl.lit(has["guaranteed"]) | (collateral == "guarantee"))
        .then(pl.lit("guaranteed"))
        .when(
            pl.lit(has["pure_credit"])
            | (collateral == "none")
            | kind.is_in(["pure_credit_loan", "points_loan"])
        )
        .then(pl.lit("pure_credit"))
        .otherwise(pl.lit("other")),
        first_loan=pl.lit(has["first_loan"]),
    )


def _tags(tags: pl.Series, names: Sequence[str]) -> dict[str, pl.Series]:
    """Whether each row's tags (JSON text, null: none) hold each of `names`: looked for in each
    distinct text once (lines share a handful of tag sets), then taken per row by its code."""
    cat = tags.cast(pl.Categorical)
    present = cat.unique().drop_nulls()
    codes = present.to_physical().to_numpy().astype(np.int64)
    top = int(codes.max()) + 1 if codes.size else 0
    rows = cat.to_physical().fill_null(top).to_numpy().astype(np.int64)  # null: no tag
    out = {}
    for name in names:
        table = np.zeros(top + 1, dtype=bool)
        table[codes] = present.cast(pl.String).str.contains(f'"{name}"', literal=True).to_numpy()
        out[name] = pl.Series(name, table[rows])
    return out


def enterprise_categories(
    loans: pl.DataFrame, certifications: pl.DataFrame, key_members: pl.DataFrame
) -> pl.DataFrame:
    """(loan_id, enterprise_category): the borrower's category on the drawdown day, one row per
    loan in the order of `loans`.

    `loans`: loan_id, enterprise_id, drawn_on; `certifications`: enterprise_id, kind (``hnte``,
    ``tech_sme``, …), valid_from, valid_until (null: open); `key_members`: year, enterprise_id
    (members of that year's published key list)."""
    base = loans.select("enterprise_id", "drawn_on").with_row_index("row")
    flags = []
    for kind in ("hnte", "tech_sme"):  # a join per kind, then a flag per loan row it covers
        certs = certifications.filter(pl.col("kind") == kind).select(
            "enterprise_id", "valid_from", "valid_until"
        )
        covered = base.join(certs, on="enterprise_id", how="inner").filter(
            (pl.col("valid_from") <= pl.col("drawn_on"))
            & (pl.col("valid_until").is_null() | (pl.col("valid_until") >= pl.col("drawn_on")))
        )
        flags.append(_flags(covered["row"], base.height))
    keyed = np.zeros(base.height, dtype=bool)
    if key_members.height:
        members = key_members.select(pl.col("year").cast(pl.Int32), "enterprise_id").unique()
        listed = base.with_columns(year=pl.col("drawn_on").dt.year().cast(pl.Int32)).join(
            members, on=["year", "enterprise_id"], how="semi"
        )
        keyed = _flags(listed["row"], base.height)
    code = np.select([flags[0], flags[1], keyed], [0, 1, 2], 3)
    names = pl.Series("enterprise_category", ENTERPRISE_CATEGORIES)
    return loans.select("loan_id").with_columns(names.gather(code))


def _flags(rows: pl.Series, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=bool)
    out[rows.to_numpy()] = True
    return out


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
    base = loans.select("loan_id", "credit_line_id", "institution_id", "enterprise_id", "drawn_on")
    out = left_join(base, line_cols, "credit_line_id")
    out = left_join(
        out, enterprises.select("enterprise_id", "zone_id", "tech_field"), "enterprise_id"
    )
    category = enterprise_categories(loans, certifications, key_members)["enterprise_category"]
    return out.with_columns(category).select("loan_id", "drawn_on", *ATTRIBUTES)


def left_join(left: pl.DataFrame, right: pl.DataFrame, key: str) -> pl.DataFrame:
    """`left` with the other columns of `right`, whose `key` is unique, matched on `key` (null
    where `right` has no row), in the order of `left`: what a left join gives. Ids are numbered
    densely, so each key's row is looked up in an array indexed by the id rather than hashed;
    keys that are not unique, not integers or too sparse for that are joined."""
    rows = _rows_of(left[key], right[key])
    if rows is None:
        return left.join(right, on=key, how="left", maintain_order="left")
    return left.hstack(right.drop(key).select(pl.all().gather(rows)).get_columns())


def _rows_of(keys: pl.Series, ids: pl.Series) -> pl.Series | None:
    """The row of `ids` holding each key (null where none), or None when `ids` are not unique
    integers within a range a few times their number."""
    if not (ids.dtype.is_integer() and keys.dtype.is_integer()) or ids.len() == 0:
        return None
    if ids.null_count():
        return None
    lo, hi = int(ids.min()), int(ids.max())  # type: ignore[arg-type]
    if hi - lo >= 4 * (ids.len() + keys.len()) + 1024:
        return None
    position = np.full(hi - lo + 1, -1, dtype=np.int64)
    position[ids.to_numpy().astype(np.int64) - lo] = np.arange(ids.len(), dtype=np.int64)
    if np.count_nonzero(position >= 0) != ids.len():  # a repeated id
        return None
    wanted = keys.cast(pl.Int64).fill_null(lo - 1).to_numpy() - lo
    inside = (wanted >= 0) & (wanted <= hi - lo)
    rows = np.full(wanted.size, -1, dtype=np.int64)
    rows[inside] = position[wanted[inside]]
    found = pl.Series("row", rows)
    return found.to_frame().select(pl.when(pl.col("row") >= 0).then(pl.col("row")))["row"]


# --- flows ------------------------------------------------------------------------------------


#: the kinds of flow rows: the loan events the cube reads (`_LOAN_KINDS`), then a loan's balance
#: moving into (or out of, negative) each class but pass (`class_moves`)
FLOW_KINDS: Final = (*_LOAN_KINDS, *CLASSES[1:])
#: every event kind the flows read: those of `_LOAN_KINDS`, then the two that set a class
_EVENT_KINDS: Final = (*_LOAN_KINDS, "classified", "defaulted")
#: each stock's and flow's column: kind of flow row → its sign there (drawdowns: a count)
_COLUMNS: Final[dict[str, dict[str, int]]] = {
    "outstanding": {k: v[0] for k, v in _LOAN_KINDS.items() if v[0]},
    **{name: {name: 1} for name in CLASSES[1:]},
    **{
        flow: {k: v[2] for k, v in _LOAN_KINDS.items() if v[1] == flow}
        for flow in ("new_lending", "repaid", "written_off", "recovered")
    },
}

#: the kinds of flow rows a single column reads
_OWN: Final = frozenset(
    k for k in FLOW_KINDS if sum(k in signs for signs in _COLUMNS.values()) == 1
)


@dataclass(frozen=True)
class LoanFlows:
    """The flows of a ledger's loan events, one row each, grouped by kind: the rows of kind
    ``FLOW_KINDS[k]`` are ``bounds[k]`` to ``bounds[k + 1]``; each row has its loan, month key
    and amount (Int64 fen, as booked: the sign is the column's, see `_COLUMNS`)."""

    loan_id: np.ndarray
    month: np.ndarray
    amount: np.ndarray
    bounds: np.ndarray

    def rows(self, kind: str) -> slice:
        k = FLOW_KINDS.index(kind)
        return slice(int(self.bounds[k]), int(self.bounds[k + 1]))

    @property
    def first_month(self) -> int | None:
        return int(self.month.min()) if self.month.size else None

    def frame(self) -> pl.DataFrame:
        """The rows as a frame, in their order: loan_id, month, kind (the index of its kind in
        `FLOW_KINDS`), amount; `from_frame` reads it back."""
        kinds = np.repeat(np.arange(len(FLOW_KINDS), dtype=np.int8), np.diff(self.bounds))
        return pl.DataFrame(
            {
                "loan_id": self.loan_id,
                "month": self.month.astype(np.int32),
                "kind": kinds,
                "amount": self.amount,
            }
        )

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> LoanFlows:
        """The flows `frame` wrote."""
        kinds = frame["kind"].to_numpy().astype(np.int8)
        order = np.argsort(kinds, kind="stable")  # in order already, when written by `frame`
        return cls(
            loan_id=frame["loan_id"].to_numpy().astype(np.int64)[order],
            month=frame["month"].to_numpy().astype(np.int64)[order],
            amount=frame["amount"].to_numpy().astype(np.int64)[order],
            bounds=np.searchsorted(kinds[order], np.arange(len(FLOW_KINDS) + 1)),
        )


def loan_flow_parts(events: pl.DataFrame) -> LoanFlows:
    """The flows of every loan event and the moves between classes (`class_moves`), grouped by
    kind.

    `events`: event_id, loan_id, kind, on (date), principal (Int64 fen, null for none),
    category (the class of a ``classified`` event, else null). Kinds the cube does not read
    (``classified``, ``defaulted``) add nothing but move balances between classes; events
    without a date or a loan are left out."""
    code = (
        events["kind"]
        .replace_strict(
            {k: i for i, k in enumerate(_EVENT_KINDS)}, default=-1, return_dtype=pl.Int8
        )
        .to_numpy()
    )
    dated = (events["on"].is_not_null() & events["loan_id"].is_not_null()).to_numpy()
    code = np.where(dated, code, -1).astype(np.int8)
    loan = events["loan_id"].fill_null(-1).to_numpy().astype(np.int64)
    month = events.select(month_key(pl.col("on").fill_null(pl.date(1970, 1, 1))))
    months = month.to_series().to_numpy().astype(np.int64)
    principal = events["principal"].fill_null(0).to_numpy().astype(np.int64)
    own = (code >= 0) & (code < len(_LOAN_KINDS))
    moves = class_moves(events, code=code, months=months, principal=principal, loan=loan)
    kinds = np.concatenate([code[own], (len(_LOAN_KINDS) - 1 + moves[2]).astype(np.int8)])
    order = np.argsort(kinds, kind="stable")  # a radix sort of small codes
    bounds = np.searchsorted(kinds[order], np.arange(len(FLOW_KINDS) + 1))
    return LoanFlows(
        loan_id=np.concatenate([loan[own], moves[0]])[order],
        month=np.concatenate([months[own], moves[1]])[order],
        amount=np.concatenate([principal[own], moves[3]])[order],
        bounds=bounds,
    )


def class_moves(
    events: pl.DataFrame,
    *,
    code: np.ndarray,
    months: np.ndarray,
    principal: np.ndarray,
    loan: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The five-category balances as flows, for the loans that were ever classified or
    defaulted: (loan_id, month, class 1–4, amount) arrays, a row per change of a non-pass
    class's balance. `code`: each event's index in `_EVENT_KINDS` (−1: none of them),
    `months`, `principal` and `loan` its month key, principal and loan, as arrays.

    The loan's events in the order of history (date, then id); its class after each is the
    latest classification's, at least substandard once defaulted; where it changes, the running
    balance leaves the old class and enters the new one. One pass over the sorted events:
    running sums, latest positions and shifts restart at each loan's first event."""
    classified, defaulted = len(_LOAN_KINDS), len(_LOAN_KINDS) + 1
    setting = (code == classified) | (code == defaulted)
    empty = np.zeros(0, dtype=np.int64)
    if not setting.any():
        return empty, empty, empty, empty
    touched = np.unique(loan[setting])
    picked = np.flatnonzero(np.isin(loan, touched) & (code >= 0))
    days = events["on"].to_numpy()[picked].astype("datetime64[D]").astype(np.int64)
    ids = events["event_id"].fill_null(0).to_numpy()[picked].astype(np.int64)
    picked = picked[np.lexsort((ids, days, loan[picked]))]
    lid, kind = loan[picked], code[picked]
    signs = np.array([v[0] for v in _LOAN_KINDS.values()] + [0, 0], dtype=np.int64)
    delta = principal[picked] * signs[kind]
    n = picked.size
    index = np.arange(n)
    first = np.ones(n, dtype=bool)
    first[1:] = lid[1:] != lid[:-1]
    start = np.maximum.accumulate(np.where(first, index, 0))  # each row's loan's first row
    running = np.cumsum(delta)
    before = running - delta - (running - delta)[start]  # the loan's balance before the row
    rank = {name: i for i, name in enumerate(CLASSES)}
    category = events["category"].gather(pl.Series(picked))
    ranks = category.replace_strict(rank, default=-1, return_dtype=pl.Int8).to_numpy()
    sets = (kind == classified) & (ranks >= 0)  # a classification to a class it knows
    latest = np.maximum.accumulate(np.where(sets, index, -1))
    cls = np.where(latest >= start, ranks[np.maximum(latest, 0)], 0).astype(np.int64)
    fallen = np.maximum.accumulate(np.where(kind == defaulted, index, -1)) >= start
    cls = np.maximum(cls, np.where(fallen, 2, 0))
    prev = np.zeros(n, dtype=np.int64)
    prev[1:] = cls[:-1]
    prev[first] = 0
    changed = np.flatnonzero(cls != prev)
    month = months[picked]
    out_loan = np.concatenate([lid, lid[changed], lid[changed]])
    out_month = np.concatenate([month, month[changed], month[changed]])
    out_cls = np.concatenate([cls, prev[changed], cls[changed]])
    out_amount = np.concatenate([delta, -before[changed], before[changed]])
    keep = (out_cls > 0) & (out_amount != 0)
    return out_loan[keep], out_month[keep], out_cls[keep], out_amount[keep]


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
    sums: dict[str, np.ndarray] = {}
    for name in columns:
        flat = np.zeros(n * span, dtype=np.int64)
        for part, slot in zip(parts, slots, strict=True):
            if name in part.columns:
                flat += _sums(slot, part[name].fill_null(0).to_numpy(), n * span)
        sums[name] = flat
    return _month_ends(sums, cells, months, start, stocks, dense=dense)


def _month_ends(
    sums: dict[str, np.ndarray],
    cells: pl.DataFrame,
    months: Months,
    start: int,
    stocks: Sequence[str],
    *,
    dense: bool,
) -> pl.DataFrame:
    """The month's sums of each column over a cells × months grid from month `start` (flat,
    cell-major) → the frame `accumulate` returns: stocks summed along the months, the months
    before `months.first` dropped, and (unless `dense`) the rows without a figure."""
    n, count = cells.height, months.count
    span = months.last - start + 1
    skip = months.first - start
    grids = {name: flat.reshape(n, span) for name, flat in sums.items()}
    for name in stocks:
        np.cumsum(grids[name], axis=1, out=grids[name])
    if dense or not n:
        cell = np.repeat(np.arange(n, dtype=np.int64), count)
        month = np.tile(np.arange(months.first, months.last + 1, dtype=np.int32), n)
        arrays = {name: grid[:, skip:].ravel() for name, grid in grids.items()}
    else:
        keep = np.zeros((n, count), dtype=bool)
        for grid in grids.values():
            keep |= grid[:, skip:] != 0
        at = np.flatnonzero(keep)
        cell, offset = np.divmod(at, count)
        month = (offset + months.first).astype(np.int32)
        if skip:
            at = cell * span + offset + skip  # the rows kept, in the grid's own flat order
            arrays = {name: sums[name].take(at) for name in sums}
        else:  # the grid is the months': the mask picks the rows kept
            flat = keep.ravel()
            arrays = {name: sums[name][flat] for name in sums}
    out = cells.select(pl.all().gather(cell)) if cells.width else pl.DataFrame()
    return out.with_columns(
        pl.Series("month", month, dtype=pl.Int32),
        *(pl.Series(name, arrays[name], dtype=pl.Int64) for name in sums),
    )


#: every integer of magnitude below 2**53 is a float64 exactly, so are all partial sums of a
#: column whose magnitudes add up to less: such a column is summed per slot by `np.bincount`
#: (float64 weights) exactly; a larger one (90 trillion yuan in fen) by an integer group-by
EXACT_FLOAT: Final = 2**53


def _sums(slots: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """The Int64 sum of `values` per slot (0 to size − 1), exact."""
    values = values.astype(np.int64, copy=False)
    if slots.size * 64 < size:  # a few rows over a large grid: add them in place
        out = np.zeros(size, dtype=np.int64)
        np.add.at(out, slots, values)
        return out
    if int(np.abs(values).sum(dtype=np.int64)) < EXACT_FLOAT:
        summed = np.bincount(slots, weights=values, minlength=size)
        return summed.astype(np.int64)  # whole numbers, exactly
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
    in the order of their values (nulls last).

    Each column of `by` is coded densely in the order of its values (integer ids by their
    offset from the smallest, text through a categorical, anything else by its sorted distinct
    values); the codes make one integer per row, most significant first, whose distinct values
    in order are the cells. Columns too many or too varied for one Int64 are grouped instead."""
    size = int(attributes[key].max() or 0) + 1 if attributes.height else 1  # type: ignore[arg-type]
    lookup = np.full(size, -1, dtype=np.int64)
    if not by:  # one cell: the total
        lookup[attributes[key].to_numpy()] = 0
        return lookup, pl.DataFrame({"_all": [True]}) if attributes.height else pl.DataFrame(
            schema={"_all": pl.Boolean}
        )
    coded = [_codes(attributes[name]) for name in by]
    if math.prod(len(values) for _, values in coded) >= 2**62:
        return _grouped_cells(attributes, by, key, lookup)
    combined = np.zeros(attributes.height, dtype=np.int64)
    for codes, values in coded:
        combined *= len(values)
        combined += codes
    space = math.prod(len(values) for _, values in coded)
    if space <= 16 * attributes.height + 1024:  # few codes: mark those present, then count
        present = np.zeros(space, dtype=bool)
        present[combined] = True
        distinct = np.flatnonzero(present)
        cell = np.cumsum(present, dtype=np.int64)[combined] - 1
    else:
        distinct, cell = np.unique(combined, return_inverse=True)
    lookup[attributes[key].to_numpy()] = cell
    columns = []
    for (_, values), name in zip(reversed(coded), reversed(by), strict=True):
        distinct, digit = np.divmod(distinct, len(values))
        columns.append(values.gather(digit).alias(name))
    return lookup, pl.DataFrame(columns[::-1])


def _codes(values: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """A code per row (Int64, from 0) and the values by code, the codes in the order of the
    values with null last (some codes may stand for values no row has)."""
    n = values.len()
    if values.dtype.is_integer() and values.null_count() < n:
        lo, hi = int(values.min()), int(values.max())  # type: ignore[arg-type]
        if hi - lo < 4 * n + 1024:
            table = pl.concat(
                [pl.Series(values.name, np.arange(lo, hi + 1)), pl.Series([None], dtype=pl.Int64)]
            )
            codes = values.cast(pl.Int64).fill_null(hi + 1).to_numpy() - lo
            return codes, table.cast(values.dtype)
    if values.dtype == pl.String:
        cat = values.cast(pl.Categorical)
        present = cat.unique()
        order = present.cast(pl.String).arg_sort(nulls_last=True).to_numpy()
        physical = present.to_physical().to_numpy()  # (float, NaN for null, when there are nulls)
        known = ~np.isnan(physical) if physical.dtype.kind == "f" else np.ones(order.size, bool)
        top = int(physical[known].max()) + 1 if known.any() else 0
        rank = np.zeros(top + 1, dtype=np.int64)  # the last slot stands for null
        slot = np.where(known, np.nan_to_num(physical), top).astype(np.int64)
        rank[slot[order]] = np.arange(order.size)
        codes = rank[cat.to_physical().fill_null(top).cast(pl.Int64).to_numpy()]
        return codes, present.cast(pl.String).gather(order).alias(values.name)
    table = values.unique().sort(nulls_last=True)
    numbered = table.to_frame("v").with_row_index("code")
    found = values.to_frame("v").join(
        numbered, on="v", how="left", nulls_equal=True, maintain_order="left"
    )
    return found["code"].cast(pl.Int64).to_numpy(), table


def _grouped_cells(
    attributes: pl.DataFrame, by: Sequence[str], key: str, lookup: np.ndarray
) -> tuple[np.ndarray, pl.DataFrame]:
    """`number_cells` by a hash group-by (for groupings whose codes do not fit one Int64)."""
    groups = attributes.group_by(list(by)).agg(pl.col(key)).sort(list(by), nulls_last=True)
    ids = groups.with_row_index("cell").select("cell", key).explode(key)
    lookup[ids[key].to_numpy()] = ids["cell"].to_numpy()
    return lookup, groups.drop(key)


def cube(
    flows: LoanFlows,
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

    `flows` is `loan_flow_parts` of the events; `attributes` `loan_attributes` of the loans
    (filter it to take a part of the ledger: the flows of other loans are left out). Each flow
    row finds its cell through its loan (the loans' attributes are read once per loan, never
    per event), each kind of row is summed per cell and month once, and every column is the
    signed sum of its kinds' grids."""
    lookup, cells = number_cells(attributes, by, "loan_id")
    earliest = flows.first_month
    start = months.first if earliest is None else min(months.first, earliest)
    span = months.last - start + 1
    size = cells.height * span
    loan = flows.loan_id
    if loan.size and (loan.min() < 0 or loan.max() >= lookup.size):
        inside = (loan >= 0) & (loan < lookup.size)
        cell = np.where(inside, lookup[np.where(inside, loan, 0)], -1)
    else:
        cell = lookup[loan]
    kept = cell >= 0
    if flows.month.size and flows.month.max() > months.last:
        kept &= flows.month <= months.last
    slot = cell * span
    slot += flows.month
    slot -= start
    kinds: dict[str, np.ndarray | None] = {}

    def kind_sums(kind: str) -> np.ndarray | None:
        """The amounts of the flow rows of `kind` summed per slot (None: no row)."""
        if kind not in kinds:
            rows = flows.rows(kind)
            keep = kept[rows]
            if not keep.any():
                kinds[kind] = None
            elif keep.all():
                kinds[kind] = _sums(slot[rows], flows.amount[rows], size)
            else:
                kinds[kind] = _sums(slot[rows][keep], flows.amount[rows][keep], size)
        return kinds[kind]

    sums: dict[str, np.ndarray] = {}
    for name in (*STOCKS, *FLOWS):
        signs = _COLUMNS.get(name, {})
        if (
            len(signs) == 1
            and set(signs.values()) == {1}
            and (name not in STOCKS or signs.keys() <= _OWN)
        ):
            # one kind's grid as it is (a stock's, summed in place later, only if no other uses it)
            summed = kind_sums(next(iter(signs)))
            sums[name] = np.zeros(size, dtype=np.int64) if summed is None else summed
            continue
        total = np.zeros(size, dtype=np.int64)
        if name == "drawdowns":
            rows = flows.rows("drawn")
            total += np.bincount(slot[rows][kept[rows]], minlength=size)
        for kind, sign in signs.items():
            summed = kind_sums(kind)
            if summed is not None:
                (np.add if sign == 1 else np.subtract)(total, summed, out=total)
        sums[name] = total
    keep_dense = len(by) < 3 if dense is None else dense
    out = _month_ends(sums, cells, months, start, STOCKS, dense=keep_dense)
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
