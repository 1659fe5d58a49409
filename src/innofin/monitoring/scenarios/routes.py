"""REST endpoints of scenarios (`monitoring.scenario`): run one on a programme's levers (those
who run the programme), read the stored runs of the programmes one sees (officers)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from innofin.api.deps import RowId, WriteHeaders, allow, ok, reading, write_headers
from innofin.api.errors import ERROR_RESPONSES
from innofin.api.writes import write
from innofin.kernel.jsontypes import AmountIn, IsoDate, MoneyJson, QuantityIn
from innofin.kernel.principal import Principal
from innofin.monitoring.scenarios import service as scenario

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], responses=ERROR_RESPONSES)
Write = Depends(write_headers)


class LeversIn(BaseModel):
    """The levers to change from the programme's baseline (those left out keep it)."""

    model_config = ConfigDict(extra="forbid")

    risk_share: QuantityIn | None = Field(None, description="0–1: the pool's share of a loss")
    rate_cap: QuantityIn | None = Field(None, description="annual rate as a fraction (0.0450)")
    quota: AmountIn | None = Field(None, description="new special credit a year, yuan")
    key_list_size: int | None = Field(None, ge=0, le=10_000_000, strict=True)


class ScenarioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programme_id: int | None = Field(None, ge=1, le=2_147_483_647, strict=True)
    levers: LeversIn | None = None
    months: int = Field(24, ge=12, le=36, strict=True)
    paths: int = Field(1000, ge=100, le=20_000, strict=True)
    seed: int | None = Field(None, ge=0, le=2_147_483_647, strict=True)
    default_shock: QuantityIn | None = Field(
        None, description="σ of a shared shock to default hazards (0–3; none: 0)"
    )
    name: str | None = Field(None, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
    as_of: Annotated[IsoDate, Field(ge=dt.date(1990, 1, 1), le=dt.date(2200, 12, 31))] | None = None


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LeversOut(_Out):
    risk_share: float
    rate_cap: float | None
    quota: float
    key_list_size: int


class AssumptionsOut(_Out):
    months: int
    paths: int
    band: tuple[float, float]
    lending_per_key_firm: float
    new_term_months: int
    new_covered_share: float
    funding_cost: float
    margin: float
    loss_given_default: float
    pool_balance: float
    default_shock: float


class SegmentRateOut(_Out):
    tech_field: str | None
    size_band: int
    exposure_months: float
    defaults: int
    prepayments: int
    default_p: float
    prepay_p: float


class MonthBandOut(_Out):
    month: int
    month_end: dt.date
    balance: MoneyJson
    balance_low: MoneyJson
    balance_high: MoneyJson
    balance_median: MoneyJson
    defaults: MoneyJson
    defaults_low: MoneyJson
    defaults_high: MoneyJson
    defaults_median: MoneyJson
    cumulative_defaults: MoneyJson
    cumulative_defaults_low: MoneyJson
    cumulative_defaults_high: MoneyJson
    cumulative_defaults_median: MoneyJson
    payouts: MoneyJson
    payouts_low: MoneyJson
    payouts_high: MoneyJson
    payouts_median: MoneyJson
    new_lending: MoneyJson


class ScenarioOut(_Out):
    id: int
    programme_id: int | None
    name: str | None
    as_of: dt.date
    months: int
    paths: int
    seed: int
    band: tuple[float, float]
    levers: LeversOut
    baseline: LeversOut
    assumptions: AssumptionsOut
    rates: list[SegmentRateOut]
    book_loans: int
    book_balance: MoneyJson
    book_fingerprint: str
    projection: list[MonthBandOut]
    pool_balance: MoneyJson
    pool_shortfall: float
    engine_version: str
    created_by: str
    created_at: dt.datetime
    seconds: float | None


class ScenarioSummaryOut(_Out):
    id: int
    programme_id: int | None
    name: str | None
    as_of: dt.date
    months: int
    paths: int
    seed: int
    levers: LeversOut
    balance_at_horizon: MoneyJson
    payouts_at_horizon: MoneyJson
    created_by: str
    created_at: dt.datetime


def lever_changes(body: LeversIn | None) -> dict[str, Any]:
    """The levers changed from the baseline, as `scenario.run_scenario` takes them (the scenario
    page's form sends its levers through this request shape too)."""
    out: dict[str, Any] = {}
    if body is None:
        return out
    for name, value in body.model_dump(exclude_none=True).items():
        out[name] = value if name == "key_list_size" else float(value)
    return out


def assumption_changes(body: ScenarioIn) -> dict[str, Any]:
    """The assumptions a request changes (horizon, paths, shared shock)."""
    out: dict[str, Any] = {"months": body.months, "paths": body.paths}
    if body.default_shock is not None:
        out["default_shock"] = float(body.default_shock)
    return out


@router.post(
    "/scenarios",
    response_model=ScenarioOut,
    status_code=201,
    summary="Run a scenario: projected balances, defaults and pool payouts with their band",
)
def post_scenario(
    request: Request,
    body: ScenarioIn,
    w: WriteHeaders = Write,
    p: Principal = allow("scenario:run"),
) -> Response:
    def use(c: Any) -> scenario.ScenarioResult:
        run_id = scenario.run_scenario(
            c.session, p, c.actor, body.programme_id, levers=lever_changes(body.levers),
            assumptions=assumption_changes(body), seed=body.seed,
            name=body.name, as_of=body.as_of, at=c.now,
        )  # fmt: skip
        return scenario.scenario_result(c.session, p, run_id)

    return write(request, p, w, use, ScenarioOut, status_code=201, payload=body)


@router.get("/scenarios", response_model=list[ScenarioSummaryOut], summary="Stored scenario runs")
def list_scenarios(
    request: Request,
    programme_id: int | None = Query(None, ge=1, le=2_147_483_647),
    p: Principal = allow("scenario:read"),
) -> Response:
    with reading(request) as s:
        runs = scenario.scenario_runs(s, p, programme_id)
        return ok([ScenarioSummaryOut.model_validate(r) for r in runs])


@router.get("/scenarios/{run_id}", response_model=ScenarioOut, summary="One stored scenario run")
def get_scenario(
    request: Request, run_id: RowId, p: Principal = allow("scenario:read")
) -> Response:
    with reading(request) as s:
        return ok(ScenarioOut.model_validate(scenario.scenario_result(s, p, run_id)))
