"""Scenario pages (情景分析): a programme's stored runs (levers, horizon, paths, seed, who and
when) with the form that runs a new one on its levers — the risk-compensation share, the rate
cap, the yearly quota, the key list's size, the horizon (12–36 months), the number of paths and
the seed —, and one run: its levers beside the programme's baseline, what it assumed, and the
projected balances, defaults and pool payouts month by month as the band of the paths around
their median, charted (ECharts, served offline as on the dashboard) and tabled.

Everything goes through `monitoring.scenarios.service` with the scenario API's actions and its
request shape (`scenarios.routes.ScenarioIn`): officers read the runs of the programmes they see
(``scenario:read``; another programme's run is a 404 page), those who run the programme run
them (``scenario:run``; a programme seen but not run is a 403 page). A run's figures are the
programme's whole book, which only officers read, so no institution opens these pages (the API's
rule: no anonymous aggregates are shown here).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from innofin.access.policy import may
from innofin.api.deps import RowId, reading
from innofin.audit.recorder import SYSTEM
from innofin.db.queries import visible
from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import column_unit
from innofin.kernel.numtext import fold_width, plain_decimal
from innofin.kernel.principal import Principal
from innofin.ledger.models import Programme
from innofin.ledger.scopes import programme_run_scope, programme_scope
from innofin.web import i18n
from innofin.web.deps import page
from innofin.web.forms import Once, csrf_form, perform
from innofin.web.render import N_, gettext_for, render

router = APIRouter(include_in_schema=False)
WAN = Decimal(10_000)
HUNDRED = Decimal(100)
RUNS = 100

#: the projection's figures, each charted and tabled as its band around the median
FIGURES = (
    ("balance", N_("Projected balance")),
    ("defaults", N_("Defaults in the month")),
    ("payouts", N_("Pool payouts, cumulative")),
)
MEDIAN = N_("Median")
MEAN = N_("Mean")
#: the band's edges, e.g. "5th percentile"
PERCENTILE = N_("P%(q)s")


def _runs_it(s: Session, p: Principal, programme_id: int) -> bool:
    if not may(p, "scenario:run"):
        return False
    runs = select(Programme.id).where(Programme.id == programme_id, programme_run_scope(p))
    return s.scalar(runs) is not None


def _unit(values: Iterable[Decimal | None]) -> Any:
    return column_unit([v for v in values if v is not None])


def _decimal(text: str, name: str) -> Decimal | None:
    """A form's number (blank: not given), full-width digits and separators folded."""
    cleaned = fold_width(text).replace(",", "").strip()
    if not cleaned:
        return None
    value = plain_decimal(cleaned)
    if value is None:
        raise InvalidInput(f"{name} is not a number", field=name)
    return value


def _whole(text: str, name: str) -> int | None:
    value = _decimal(text, name)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise InvalidInput(f"{name} is a whole number", field=name)
    return int(value)


# --------------------------------------------------------------------------- runs


@router.get("/monitoring/programmes/{programme_id}/scenarios")
def runs(request: Request, programme_id: RowId, p: Principal = page("scenario:read")) -> Response:
    """The programme's stored runs, newest first, and (for those who run it) the form."""
    from innofin.monitoring.scenarios import service as scenario

    with reading(request) as s:
        programme = visible(s, Programme, programme_id, programme_scope(p), "programme")
        stored = scenario.scenario_runs(s, p, programme_id)[:RUNS]
        running = _runs_it(s, p, programme_id)
    quotas = [Decimal(repr(round(r.levers.quota, 2))) for r in stored]
    context = {
        "programme": programme,
        "runs": [(r, q) for r, q in zip(stored, quotas, strict=True)],
        "running": running,
        "quota_unit": _unit(quotas),
        "horizon_unit": _unit(
            [v for r in stored for v in (r.balance_at_horizon, r.payouts_at_horizon)]
        ),
        "latest": stored[0] if stored else None,
    }
    return render(request, "monitoring/scenarios.html", context)


@router.post("/monitoring/programmes/{programme_id}/scenarios")
def run(
    request: Request,
    programme_id: RowId,
    risk_share_pct: Annotated[str, Form(max_length=40)] = "",
    rate_cap_pct: Annotated[str, Form(max_length=40)] = "",
    quota_wan: Annotated[str, Form(max_length=40)] = "",
    key_list_size: Annotated[str, Form(max_length=40)] = "",
    months: Annotated[str, Form(max_length=40)] = "24",
    paths: Annotated[str, Form(max_length=40)] = "1000",
    seed: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    once: Once = None,
    _: None = Depends(csrf_form),
    p: Principal = page("scenario:run"),
) -> Response:
    """Run the programme's baseline with the levers given (blank: the baseline's), as the API's
    POST /api/v1/monitoring/scenarios does; then the run's page."""
    from innofin.monitoring.scenarios import routes as scenario_routes
    from innofin.monitoring.scenarios import service as scenario

    share = _decimal(risk_share_pct, "risk_share")
    cap = _decimal(rate_cap_pct, "rate_cap")
    quota = _decimal(quota_wan, "quota")
    levers: dict[str, Any] = {
        "risk_share": None if share is None else format(share / HUNDRED, "f"),
        "rate_cap": None if cap is None else format(cap / HUNDRED, "f"),
        "quota": None if quota is None else format((quota * WAN).quantize(Decimal("0.01")), "f"),
        "key_list_size": _whole(key_list_size, "key_list_size"),
    }
    try:
        body = scenario_routes.ScenarioIn.model_validate(
            {
                "programme_id": programme_id,
                "levers": {k: v for k, v in levers.items() if v is not None},
                "months": _whole(months, "months") or 24,
                "paths": _whole(paths, "paths") or 1000,
                "seed": _whole(seed, "seed"),
                "name": name.strip() or None,
            }
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(x) for x in error.get("loc", ())) or "scenario"
        raise InvalidInput(str(error.get("msg", "invalid")), field=field) from None

    def change(s: Session) -> int:
        actor = s.info.get("actor", SYSTEM)
        return scenario.run_scenario(
            s, p, actor, programme_id, levers=scenario_routes.lever_changes(body.levers),
            assumptions=scenario_routes.assumption_changes(body), seed=body.seed, name=body.name,
        )  # fmt: skip

    made = perform(request, p, change, once=once, payload=body.model_dump(mode="json"))
    if made is None:  # the same form sent again: nothing run twice
        return RedirectResponse(f"/monitoring/programmes/{programme_id}/scenarios", 303)
    return RedirectResponse(f"/monitoring/scenarios/{made}", status_code=303)


# --------------------------------------------------------------------------- one run


def _chart(result: Any, key: str, title: str, lang: str) -> tuple[Any, dict[str, Any]]:
    """The band of `key` (low–high quantiles of the paths) around its median, and its mean."""
    from innofin.monitoring.reports.html import chart_option
    from innofin.monitoring.reports.model import Chart, Line, Words

    words = Words(lang, gettext_for(lang))
    low, high = (round(q * 100) for q in result.band)
    rows = result.projection
    lines = (
        Line(words(PERCENTILE, q=low), tuple(getattr(m, f"{key}_low") for m in rows), "lower"),
        Line(words(PERCENTILE, q=high), tuple(getattr(m, f"{key}_high") for m in rows), "upper"),
        Line(MEDIAN, tuple(getattr(m, f"{key}_median") for m in rows)),
        Line(MEAN, tuple(getattr(m, key) for m in rows), "dashed"),
    )
    chart = Chart(key, title, tuple(f"{m.month_end:%Y-%m}" for m in rows), lines)
    return chart.value_unit(), chart_option(chart, words)


@router.get("/monitoring/scenarios/{run_id}")
def one_run(request: Request, run_id: RowId, p: Principal = page("scenario:read")) -> Response:
    from innofin.monitoring.scenarios import service as scenario

    lang = i18n.language(request)
    with reading(request) as s:
        result = scenario.scenario_result(s, p, run_id)  # 404: a programme not seen
        programme = (
            s.get(Programme, result.programme_id) if result.programme_id is not None else None
        )
        running = programme is not None and _runs_it(s, p, programme.id)
    charts = []
    units: dict[str, Any] = {}
    for key, title in FIGURES:
        unit, option = _chart(result, key, title, lang)
        units[key] = unit
        charts.append((key, title, unit, option))
    rows = result.projection
    levers = [result.levers, result.baseline]
    context = {
        "run": result,
        "programme": programme,
        "running": running,
        "charts": charts,
        "rows": rows,
        "units": units,
        "lending_unit": _unit(m.new_lending for m in rows),
        "low": round(result.band[0] * 100),
        "high": round(result.band[1] * 100),
        "quota_unit": _unit(Decimal(repr(round(lv.quota, 2))) for lv in levers),
        "quotas": [Decimal(repr(round(lv.quota, 2))) for lv in levers],
        "book_unit": _unit([result.book_balance, result.pool_balance]),
    }
    return render(request, "monitoring/scenario.html", context)
