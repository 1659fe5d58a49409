"""Programme targets: progress, a forecast with its interval, the probability of reaching each
target by its date, the monthly growth still needed, and a programme's summary.

What each kind of target measures (from the programme's loans: those on its credit lines):

* ``financing_balance`` — the month-end outstanding principal (in the target's field, if it
  names one) on the due date: amount reached when the balance is at or above it then;
* ``new_credit`` — new lending from the target's period start (else the programme's start) to
  the due date, in its field if it names one (special credit, 专项信贷);
* ``key_enterprises`` — members of the due year's key list (the programme's candidate list, if
  it names one) served in the period: a balance at a month end or a drawdown in it;
* ``balance_growth`` — the balance's year-on-year growth on the due date.

The forecast runs from the cube's last month to the due date on the monthly series the target
reads (the balance; the monthly new lending; the members newly served each month), by the model
`forecast_engine.choose` picks on that series. Simulated paths give each target's figure on the
due date a distribution: the interval is its 10th–90th percentile and the probability the share
of paths that reach the target. A target whose due date has passed is settled: probability 1 if
it was reached, 0 if not; a cumulative target (new credit, key enterprises) already reached is 1.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from innofin.kernel.errors import NotFound
from innofin.monitoring.cube import growth as gr
from innofin.monitoring.cube.service import Cube
from innofin.monitoring.targets import forecast_engine as fe

FEN = Decimal("0.01")
#: forecasts already made in this process, by series and horizon (a summary asks several
#: targets of one series)
_FORECASTS: dict[tuple[str, int], fe.Forecast] = {}


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def yuan(fen: float | int | None) -> Decimal | None:
    """Fen (an exact count, or a forecast's float) as Decimal yuan to the fen."""
    if fen is None:
        return None
    return (Decimal(round(fen)) * FEN).quantize(FEN)


@dataclass(frozen=True)
class SeriesPoint:
    month: dt.date
    value: float


@dataclass(frozen=True)
class TargetStatus:
    """One target's state. Money in yuan (``Decimal``), counts as ints, rates as fractions;
    ``forecast``/``lower``/``upper`` the figure the target reads, projected to its due date."""

    target_id: int
    programme_id: int
    kind: str
    tech_field: str | None
    period_start: dt.date | None
    due_on: dt.date
    goal: Decimal | int | float
    current: Decimal | int | float | None
    progress: float | None
    forecast: Decimal | int | float | None
    lower: Decimal | int | float | None
    upper: Decimal | int | float | None
    probability: float | None
    #: compound monthly growth still needed (balances, counts, growth), or the amount a month
    #: still needed (new credit, yuan)
    monthly_needed: float | Decimal | None
    months_left: int
    model: str | None
    settled: bool
    as_of: dt.datetime
    #: the monthly series (history) and the forecast band, for charts
    history: list[SeriesPoint] = field(default_factory=list, repr=False)
    band: list[tuple[dt.date, float, float, float]] = field(default_factory=list, repr=False)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "history":
                value = [[p.month.isoformat(), p.value] for p in value]
            elif name == "band":
                value = [[m.isoformat(), mean, lo, hi] for m, mean, lo, hi in value]
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, dt.date | dt.datetime):
                value = value.isoformat()
            out[name] = value
        return out


def _forecast(cube: Cube, series: np.ndarray, horizon: int) -> fe.Forecast:
    """`forecast_engine.forecast` of `series`, made once per series and horizon in a process
    and, with the cube's store (a snapshot's), once per snapshot: the forecast is kept with the
    series' fingerprint, and so is the model its back-test chose, which a forecast of the same
    series to another horizon reuses (the back-test is the costly part, and only it needs
    statsmodels when a simple model wins)."""
    series = np.asarray(series, dtype=float)
    digest = hashlib.sha256(series.tobytes()).hexdigest()
    key = (digest, horizon)
    found = _FORECASTS.get(key)
    if found is None and cube.store is not None:
        found = _kept_forecast(cube, digest, series, horizon)
    if found is None:
        found = fe.forecast(series, horizon)
    if len(_FORECASTS) > 256:
        _FORECASTS.clear()
    _FORECASTS[key] = found
    return found


def _kept_forecast(cube: Cube, digest: str, series: np.ndarray, horizon: int) -> fe.Forecast:
    """The forecast kept in the cube's store, else made (with the kept choice of model, when
    the back-test already ran on this series) and kept."""
    store = cube.store
    assert store is not None
    name = f"forecast-{digest[:32]}-{horizon}-{fe.PATHS}"
    kept = store.arrays(name)
    if kept is not None:
        return fe.Forecast(
            str(kept["model"]),
            kept["mean"],
            kept["lower"],
            kept["upper"],
            kept["paths"],
            json.loads(str(kept["errors"])),
        )
    # `forecast` chooses by `choose(series, horizon=min(horizon, 12))` and then simulates the
    # chosen model from a fresh generator: the same as simulating the kept choice
    choice_name = f"choice-{digest[:32]}-{min(horizon, 12)}"
    choice = store.value(choice_name)
    if choice is None and horizon > 0 and series.size:
        model, errors = fe.choose(series, horizon=min(horizon, 12))
        choice = {"model": model, "errors": errors}
        store.put_value(choice_name, choice)
    if choice is None:
        made = fe.forecast(series, horizon)
    else:
        made = fe.forecast(series, horizon, model=choice["model"])
        made = dataclasses.replace(made, errors=choice["errors"])
    store.put_arrays(
        name,
        {
            "model": np.array(made.model),
            "mean": made.mean,
            "lower": made.lower,
            "upper": made.upper,
            "paths": made.paths,
            "errors": np.array(json.dumps(made.errors)),
        },
    )
    return made


def _band(
    last: dt.date, f: fe.Forecast, scale: float = 1.0
) -> list[tuple[dt.date, float, float, float]]:
    out = []
    for step in range(f.horizon):
        month = gr.ce_month_end(_add_months(last, step + 1))
        out.append((month, f.mean[step] * scale, f.lower[step] * scale, f.upper[step] * scale))
    return out


def _add_months(day: dt.date, months: int) -> dt.date:
    from innofin.kernel.periods import add_months

    return add_months(day.replace(day=1), months)


def target_status(
    cube: Cube, target: Mapping[str, Any], programme: Mapping[str, Any]
) -> TargetStatus:
    """The state of one target row (`cube.frames["targets"]`) of `programme`."""
    kind = target["kind"]
    where: dict[str, Any] = {"programme_id": target["programme_id"]}
    if target["tech_field"] is not None:
        where["tech_field"] = target["tech_field"]
    due = target["due_on"]
    last = cube.last_month
    due_month = gr.ce_month_end(due)
    left = max(_months_between(last, due_month), 0)
    settled = due_month <= last
    base: dict[str, Any] = {
        "target_id": target["target_id"],
        "programme_id": target["programme_id"],
        "kind": kind,
        "tech_field": target["tech_field"],
        "period_start": target["period_start"],
        "due_on": due,
        "months_left": left,
        "settled": settled,
        "as_of": cube.as_of,
    }
    if kind in ("financing_balance", "balance_growth"):
        return _balance_target(cube, target, where, base)
    if kind == "new_credit":
        return _new_credit_target(cube, target, programme, where, base)
    return _key_target(cube, target, programme, where, base)


def _balance_series(cube: Cube, where: Mapping[str, Any]) -> pl.DataFrame:
    return cube.balances([], where, dense=True).select("month", "outstanding").sort("month")


def _balance_target(
    cube: Cube, target: Mapping[str, Any], where: Mapping[str, Any], base: dict[str, Any]
) -> TargetStatus:
    series = _balance_series(cube, where)
    values = series["outstanding"].to_numpy().astype(float)
    months = series["month"].to_list()
    history = [SeriesPoint(m, v / 100) for m, v in zip(months, values, strict=True)]
    due_month = gr.ce_month_end(target["due_on"])
    left = base["months_left"]
    growth_kind = target["kind"] == "balance_growth"
    at_due = values[months.index(due_month)] if due_month in months else None
    current = float(values[-1]) if values.size else 0.0
    f = _forecast(cube, values, left) if left > 0 and values.size >= 2 else None

    if growth_kind:
        goal: Any = float(target["rate"])
        yoy_now = _yoy(values)
        if base["settled"]:
            idx = months.index(due_month) if due_month in months else None
            reached = (
                idx is not None
                and idx >= 12
                and values[idx - 12] > 0
                and (values[idx] / values[idx - 12] - 1 >= goal)
            )
            return TargetStatus(
                **base,
                goal=goal,
                current=_yoy(values[: (idx or 0) + 1]),
                progress=None,
                forecast=None,
                lower=None,
                upper=None,
                probability=1.0 if reached else 0.0,
                monthly_needed=None,
                model=None,
                history=history,
            )
        assert f is not None
        end = f.paths[:, -1]
        if left >= 12:
            before = f.paths[:, left - 13] if left > 12 else np.full(end.size, current)
        else:
            before = np.full(end.size, values[values.size - 1 - (12 - left)])
        rates = np.where(before > 0, end / np.where(before > 0, before, 1) - 1, -np.inf)
        needed_level = before.mean() * (1 + goal)
        return TargetStatus(
            **base,
            goal=goal,
            current=yoy_now,
            progress=None if yoy_now is None or goal == 0 else yoy_now / goal,
            forecast=float(np.median(rates)),
            lower=float(np.quantile(rates, fe.LOWER)),
            upper=float(np.quantile(rates, fe.UPPER)),
            probability=fe.probability(rates, goal),
            monthly_needed=fe.monthly_growth_needed(current, float(needed_level), left),
            model=f.model,
            history=history,
            band=_band(cube.last_month, f, 0.01),
        )
    goal_fen = int(target["amount"])
    goal = yuan(goal_fen)
    progress = current / goal_fen if goal_fen else None
    if base["settled"] or f is None:
        value = at_due if at_due is not None else current
        return TargetStatus(
            **base,
            goal=goal,
            current=yuan(current),
            progress=progress,
            forecast=None,
            lower=None,
            upper=None,
            probability=1.0 if value >= goal_fen else 0.0,
            monthly_needed=None,
            model=None,
            history=history,
        )
    end = f.paths[:, -1]
    return TargetStatus(
        **base,
        goal=goal,
        current=yuan(current),
        progress=progress,
        forecast=yuan(float(f.mean[-1])),
        lower=yuan(float(np.quantile(end, fe.LOWER))),
        upper=yuan(float(np.quantile(end, fe.UPPER))),
        probability=fe.probability(end, goal_fen),
        monthly_needed=fe.monthly_growth_needed(current, goal_fen, left),
        model=f.model,
        history=history,
        band=_band(cube.last_month, f, 0.01),
    )


def _yoy(values: np.ndarray) -> float | None:
    if values.size > 12 and values[-13] > 0:
        return float(values[-1] / values[-13] - 1)
    return None


def _new_credit_target(
    cube: Cube,
    target: Mapping[str, Any],
    programme: Mapping[str, Any],
    where: Mapping[str, Any],
    base: dict[str, Any],
) -> TargetStatus:
    start = target["period_start"] or programme["starts_on"]
    base["period_start"] = start
    monthly = cube.balances([], where, dense=True).select("month", "new_lending").sort("month")
    values = monthly["new_lending"].to_numpy().astype(float)
    months = monthly["month"].to_list()
    history = [SeriesPoint(m, v / 100) for m, v in zip(months, values, strict=True)]
    achieved = gr.new_lending_between(cube, where, start, min(target["due_on"], cube.last_month))
    goal_fen = int(target["amount"])
    left = base["months_left"]
    common: dict[str, Any] = {
        "goal": yuan(goal_fen),
        "current": yuan(achieved),
        "progress": achieved / goal_fen if goal_fen else None,
        "history": history,
    }
    if achieved >= goal_fen or base["settled"] or left == 0 or values.size < 2:
        return TargetStatus(
            **base,
            **common,
            forecast=None,
            lower=None,
            upper=None,
            probability=1.0 if achieved >= goal_fen else 0.0,
            monthly_needed=None,
            model=None,
        )
    # months of the period still ahead (the period may start after the last month)
    ahead = min(
        left, _months_between(gr.ce_month_end(start), gr.ce_month_end(target["due_on"])) + 1
    )
    f = _forecast(cube, values, left)
    sums = achieved + np.clip(f.paths[:, left - ahead :], 0, None).sum(axis=1)
    return TargetStatus(
        **base,
        **common,
        forecast=yuan(float(achieved + np.clip(f.mean[left - ahead :], 0, None).sum())),
        lower=yuan(float(np.quantile(sums, fe.LOWER))),
        upper=yuan(float(np.quantile(sums, fe.UPPER))),
        probability=fe.probability(sums, goal_fen),
        monthly_needed=yuan((goal_fen - achieved) / ahead),
        model=f.model,
        band=_band(cube.last_month, f, 0.01),
    )


def _key_target(
    cube: Cube,
    target: Mapping[str, Any],
    programme: Mapping[str, Any],
    where: Mapping[str, Any],
    base: dict[str, Any],
) -> TargetStatus:
    due = target["due_on"]
    start = target["period_start"] or dt.date(due.year, 1, 1)
    base["period_start"] = start
    members = gr.key_members(cube, due.year, programme.get("candidate_list"))
    goal = int(target["count"] or 0)
    left = base["months_left"]
    if members.len() == 0:  # no key list published for the year: nothing to measure yet
        return TargetStatus(
            **base,
            goal=goal,
            current=None,
            progress=None,
            forecast=None,
            lower=None,
            upper=None,
            probability=None,
            monthly_needed=None,
            model=None,
        )
    if start > cube.last_month:
        return TargetStatus(
            **base,
            goal=goal,
            current=0,
            progress=0.0 if goal else None,
            forecast=None,
            lower=None,
            upper=None,
            probability=None,
            monthly_needed=None,
            model=None,
        )
    served = gr.served_by_month(cube, members, gr.ce_month_end(start), where)
    served = served.filter(pl.col("month") <= gr.ce_month_end(due))
    count = int(served["served"][-1]) if served.height else 0
    history = [SeriesPoint(m, float(v)) for m, v in served.select("month", "served").iter_rows()]
    common: dict[str, Any] = {
        "goal": goal,
        "current": count,
        "progress": count / goal if goal else None,
        "history": history,
    }
    if count >= goal or base["settled"] or left == 0:
        return TargetStatus(
            **base,
            **common,
            forecast=None,
            lower=None,
            upper=None,
            probability=1.0 if count >= goal else 0.0,
            monthly_needed=None,
            model=None,
        )
    flows = served["newly_served"].to_numpy().astype(float)
    f = _forecast(cube, flows, left) if flows.size >= 2 else None
    if f is None:
        return TargetStatus(
            **base,
            **common,
            forecast=None,
            lower=None,
            upper=None,
            probability=None,
            monthly_needed=None,
            model=None,
        )
    remaining = members.len() - count  # no more can be served than the list holds
    sums = count + np.minimum(np.clip(f.paths, 0, None).sum(axis=1), remaining)
    return TargetStatus(
        **base,
        **common,
        forecast=round(float(np.median(sums))),
        lower=int(np.quantile(sums, fe.LOWER)),
        upper=int(np.quantile(sums, fe.UPPER)),
        probability=fe.probability(sums, goal),
        monthly_needed=fe.monthly_growth_needed(count, goal, left),
        model=f.model,
    )


# --- programmes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeSummary:
    """A programme at the cube's last month: its balance, growth, new lending this year, NPL
    ratio, pure-credit share, first-loan firms this year, and every target's state."""

    programme_id: int
    code: str
    name: str
    month: dt.date
    outstanding: Decimal
    yoy: float | None
    new_lending_ytd: Decimal
    npl_ratio: float | None
    pure_credit_share: float | None
    first_loan_firms_ytd: int
    targets: list[TargetStatus]
    as_of: dt.datetime

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "targets":
                value = [t.as_json() for t in value]
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, dt.date | dt.datetime):
                value = value.isoformat()
            out[name] = value
        return out


def programme_targets(cube: Cube, programme_id: int) -> list[TargetStatus]:
    """The state of every target of the programme, in the order of their ids."""
    programme = _programme(cube, programme_id)
    targets = cube.frames["targets"].filter(pl.col("programme_id") == programme_id)
    return [
        target_status(cube, t, programme) for t in targets.sort("target_id").iter_rows(named=True)
    ]


def _programme(cube: Cube, programme_id: int) -> dict[str, Any]:
    found = cube.frames["programmes"].filter(pl.col("programme_id") == programme_id)
    if found.height == 0:
        raise NotFound(f"programme {programme_id} does not exist")
    return found.row(0, named=True)


def programme_summary(cube: Cube, programme_id: int) -> ProgrammeSummary:
    """The summary of one programme: figures at the cube's last month and its targets."""
    programme = _programme(cube, programme_id)
    frame = gr.growth(cube, [], {"programme_id": programme_id})
    month = cube.last_month
    row = gr.on_month(frame, month)

    def first(name: str) -> Any:
        return row[name][0] if row.height else None

    year_rows = frame.filter(pl.col("month").dt.year() == month.year)
    return ProgrammeSummary(
        programme_id=programme_id,
        code=programme["code"],
        name=programme["name"],
        month=month,
        outstanding=yuan(first("outstanding") or 0) or Decimal(0),
        yoy=first("yoy"),
        new_lending_ytd=yuan(first("new_lending_ytd") or 0) or Decimal(0),
        npl_ratio=first("npl_ratio"),
        pure_credit_share=first("pure_credit_share"),
        first_loan_firms_ytd=int(year_rows["first_loan_firms"].sum() or 0),
        targets=programme_targets(cube, programme_id),
        as_of=cube.as_of,
    )


def programme_summaries(cube: Cube) -> list[ProgrammeSummary]:
    """Every programme's summary, in the order of their ids."""
    ids = cube.frames["programmes"].sort("programme_id")["programme_id"].to_list()
    return [programme_summary(cube, pid) for pid in ids]
