"""Forecasts of a monthly series with an interval, the model chosen by back-test on the series
itself, and the probability that a target is reached.

Candidates (each fitted to the series in yuan, a float: a forecast is an estimate, and the
figures it is compared with are exact):

* ``drift`` — a random walk with drift (the last value plus the mean monthly change; errors from
  the spread of the monthly changes), closed form, always available;
* ``ets`` — exponential smoothing with additive error and trend (statsmodels ``ETSModel``);
* ``ets_damped`` — the same with a damped trend;
* ``arima`` — ARIMA(1,1,0) with drift (statsmodels ``ARIMA``, trend ``t``);
* ``seasonal_drift`` — the same month a year earlier plus the mean yearly change, from 24
  months on (the demo's repayments fall in bunches at year end, and so do many banks'); a
  seasonal ETS would fit this too, but its fit costs about two seconds a series here, fifty
  times the others', and the back-test fits each candidate several times.

`choose` fits each candidate on the series cut at each of the last few months (a rolling
origin), forecasts the months that follow, and keeps the candidate with the smallest weighted
absolute percentage error (Σ|error| / Σ|actual|, which a zero month does not break); ties and
series too short for a back-test go to ``drift``. `forecast` then fits the chosen model to the
whole series and simulates paths of the coming months, so any figure of a path — its value on a
due date, its sum, its growth on a year earlier — gets a distribution: the interval is the
paths' 10th and 90th percentiles and a target's probability the share of paths that reach it.

`naive` is the baseline the back-test is reported beside: last year's growth carried forward
(a balance grows by its growth over the last twelve months, compounded; a monthly flow is the
same month a year earlier times the last twelve months' growth).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

Vector = np.ndarray
#: the interval's quantiles
LOWER, UPPER = 0.10, 0.90
PATHS: Final = 400
MIN_BACKTEST = 12  # months of history before a back-test origin is tried
CANDIDATES: Final = ("drift", "seasonal_drift", "ets", "ets_damped", "arima")


@dataclass(frozen=True)
class Forecast:
    """The chosen model's forecast of the `horizon` months after the series: mean, interval
    and simulated paths (paths × horizon), with the back-test errors that chose it."""

    model: str
    mean: Vector
    lower: Vector
    upper: Vector
    paths: Vector = field(repr=False)
    errors: dict[str, float] = field(default_factory=dict)

    @property
    def horizon(self) -> int:
        return int(self.mean.size)


def _drift_fit(y: Vector) -> tuple[float, float]:
    steps = np.diff(y)
    if steps.size == 0:
        return 0.0, 0.0
    spread = float(np.std(steps, ddof=1)) if steps.size > 1 else 0.0
    return float(np.mean(steps)), spread


def _drift(y: Vector, horizon: int, paths: int, rng: np.random.Generator) -> tuple[Vector, Vector]:
    slope, spread = _drift_fit(y)
    mean = y[-1] + slope * np.arange(1, horizon + 1)
    shocks = (
        rng.normal(0.0, spread, size=(paths, horizon)) if spread > 0 else np.zeros((paths, horizon))
    )
    return mean, y[-1] + np.cumsum(slope + shocks, axis=1)


def _seasonal(y: Vector, horizon: int) -> tuple[Vector, Vector]:
    """The seasonal random walk with drift: its mean and the spread of its error at each step."""
    yearly = y[12:] - y[:-12]
    change = float(np.mean(yearly[-12:]))
    steps = np.arange(horizon)
    mean = y[y.size - 12 + steps % 12] + change * (1 + steps // 12)
    spread = float(np.std(yearly[-12:], ddof=1)) if yearly.size > 1 else 0.0
    return mean, spread * np.sqrt(1 + steps // 12)


def _statsmodels(name: str, y: Vector) -> Any:
    """The fitted statsmodels result of candidate `name` (warnings of the optimiser silenced:
    a model that fits badly loses the back-test anyway)."""
    from statsmodels.tsa.arima.model import ARIMA  # type: ignore[import-untyped]
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # type: ignore[import-untyped]

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if name == "arima":
            return ARIMA(y, order=(1, 1, 0), trend="t").fit()
        kwargs: dict[str, Any] = {"error": "add", "trend": "add"}
        if name == "ets_damped":
            kwargs["damped_trend"] = True
        return ETSModel(y, **kwargs).fit(disp=False, maxiter=200)


def _available(name: str, n: int) -> bool:
    if name == "drift":
        return n >= 2
    if name == "seasonal_drift":
        return n >= 24
    return n >= 10


def _predict(name: str, y: Vector, horizon: int) -> Vector:
    if name == "drift":
        slope, _ = _drift_fit(y)
        return np.asarray(y[-1] + slope * np.arange(1, horizon + 1), dtype=float)
    if name == "seasonal_drift":
        return _seasonal(y, horizon)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(_statsmodels(name, y).forecast(horizon), dtype=float)


def _simulate(
    name: str, y: Vector, horizon: int, paths: int, rng: np.random.Generator
) -> tuple[Vector, Vector]:
    if name == "drift":
        return _drift(y, horizon, paths, rng)
    if name == "seasonal_drift":
        mean, spread = _seasonal(y, horizon)
        return mean, mean + rng.normal(0.0, 1.0, size=(paths, horizon)) * spread
    fitted = _statsmodels(name, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = np.asarray(fitted.forecast(horizon), dtype=float)
        sims = fitted.simulate(horizon, repetitions=paths, anchor="end", rng=rng)
    sims = np.asarray(sims, dtype=float).reshape(horizon, -1).T
    return mean, sims


def wape(actual: Vector, predicted: Vector) -> float:
    """Σ|error| / Σ|actual| (weighted absolute percentage error); inf for an empty or zero
    actual."""
    scale = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(actual - predicted)) / scale) if scale > 0 else float("inf")


def backtest(
    y: Vector,
    predict: Callable[[Vector, int], Vector],
    *,
    horizon: int = 12,
    origins: int = 6,
) -> float:
    """The WAPE of `predict` over rolling origins: cut the series at each of the last
    `origins` possible months (at least `MIN_BACKTEST` months kept) and forecast up to
    `horizon` months after each cut."""
    n = y.size
    cuts = [c for c in range(n - origins, n) if c >= MIN_BACKTEST]
    if not cuts:
        return float("inf")
    actual, predicted = [], []
    for cut in cuts:
        h = min(horizon, n - cut)
        actual.append(y[cut : cut + h])
        predicted.append(predict(y[:cut], h))
    return wape(np.concatenate(actual), np.concatenate(predicted))


def choose(y: Vector, *, horizon: int = 12, origins: int = 4) -> tuple[str, dict[str, float]]:
    """The candidate with the smallest back-test error on `y` (``drift`` when none can be
    back-tested), and every candidate's error."""
    errors: dict[str, float] = {}
    for name in CANDIDATES:
        if not _available(name, max(y.size - origins, 0)):
            continue

        def predict(history: Vector, h: int, name: str = name) -> Vector:
            try:
                return _predict(name, history, h)
            except (ValueError, np.linalg.LinAlgError):
                return np.full(h, np.nan)

        error = backtest(y, predict, horizon=horizon, origins=origins)
        if np.isfinite(error):
            errors[name] = round(error, 6)
    if not errors:
        return "drift", errors
    return min(errors, key=lambda k: (errors[k], CANDIDATES.index(k))), errors


def forecast(
    y: Vector, horizon: int, *, seed: int = 19, paths: int = PATHS, model: str | None = None
) -> Forecast:
    """Forecast `horizon` months after `y` with the model the back-test chooses (or `model`)."""
    y = np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    if horizon <= 0 or y.size == 0:
        empty = np.zeros(0)
        return Forecast("none", empty, empty, empty, np.zeros((paths, 0)))
    errors: dict[str, float] = {}
    if model is None:
        model, errors = choose(y, horizon=min(horizon, 12))
    try:
        mean, sims = _simulate(model, y, horizon, paths, rng)
    except (ValueError, np.linalg.LinAlgError):
        model = "drift"
        mean, sims = _drift(y, horizon, paths, rng)
    if not np.all(np.isfinite(sims)):
        model = "drift"
        mean, sims = _drift(y, horizon, paths, rng)
    lower = np.quantile(sims, LOWER, axis=0)
    upper = np.quantile(sims, UPPER, axis=0)
    return Forecast(model, mean, lower, upper, sims, errors)


def naive(y: Vector, horizon: int, *, flow: bool = False) -> Vector:
    """Last year's growth carried forward: a stock's growth over the last twelve months
    compounded monthly; a flow's same month last year times the last twelve months' growth.
    With less than a year (two for flows) of history: the last value (the last year's months)."""
    y = np.asarray(y, dtype=float)
    steps = np.arange(1, horizon + 1)
    if not flow:
        if y.size > 12 and y[-13] > 0 and y[-1] > 0:
            return np.asarray(y[-1] * (y[-1] / y[-13]) ** (steps / 12), dtype=float)
        return np.full(horizon, y[-1] if y.size else 0.0)
    if y.size < 12:
        return np.full(horizon, float(np.mean(y)) if y.size else 0.0)
    last = float(np.sum(y[-12:]))
    before = float(np.sum(y[-24:-12])) if y.size >= 24 else 0.0
    growth = last / before if before > 0 else 1.0
    season = y[-12:]
    return np.array([season[(s - 1) % 12] * growth ** (1 + (s - 1) // 12) for s in steps])


@dataclass(frozen=True)
class BacktestReport:
    """The forecaster against the naive baseline on one series: WAPE of each over the same
    rolling origins and horizons."""

    model: str
    model_error: float
    naive_error: float
    origins: int
    horizon: int


def compare_with_naive(
    y: Vector, *, flow: bool = False, horizon: int = 12, origins: int = 12
) -> BacktestReport:
    """Back-test the forecaster (choosing its model afresh at each origin, on the history up to
    it) against `naive` at the last `origins` months."""
    y = np.asarray(y, dtype=float)

    def model_predict(history: Vector, h: int) -> Vector:
        name, _ = choose(history, horizon=min(h, 12), origins=4)
        try:
            return _predict(name, history, h)
        except (ValueError, np.linalg.LinAlgError):
            return _predict("drift", history, h)

    chosen, _ = choose(y, horizon=horizon)
    return BacktestReport(
        model=chosen,
        model_error=backtest(y, model_predict, horizon=horizon, origins=origins),
        naive_error=backtest(
            y, lambda h_, h: naive(h_, h, flow=flow), horizon=horizon, origins=origins
        ),
        origins=origins,
        horizon=horizon,
    )


def probability(outcomes: Vector, target: float) -> float:
    """The share of simulated outcomes at or above `target`."""
    outcomes = np.asarray(outcomes, dtype=float)
    return float(np.mean(outcomes >= target)) if outcomes.size else 0.0


def monthly_growth_needed(current: float, target: float, months: int) -> float | None:
    """The compound monthly growth that takes `current` to `target` in `months` (None when
    there is no month left or nothing to grow from)."""
    if months <= 0 or current <= 0:
        return None
    if target <= current:
        return 0.0
    return float((target / current) ** (1 / months) - 1)
