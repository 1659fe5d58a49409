"""REST endpoints of the balance cube, growth, programme summaries and quota use
(`monitoring.records`): officers see the loans of their scope; an institution its own figures
and the other institutions' only as anonymous aggregates under the disclosure rule (the
settings' ``INNOFIN_DISCLOSURE_*``). Every answer carries the as-of time of the ledger reading
its figures come from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from innofin.api.deps import allow, api_state, ok, reading
from innofin.api.errors import ERROR_RESPONSES
from innofin.kernel.errors import InvalidInput
from innofin.kernel.jsontypes import MoneyJson
from innofin.kernel.principal import Principal
from innofin.monitoring import records

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], responses=ERROR_RESPONSES)
MAX_ID = 2_147_483_647
ProgrammeQuery = Query(None, ge=1, le=MAX_ID, description="A programme (none: every loan)")
ProgrammePath = Path(..., ge=1, le=MAX_ID)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class BalanceCellOut(_Out):
    #: the cell's values of the grouping (institution_id, zone_id, tech_field, …)
    key: dict[str, Any]
    outstanding: MoneyJson | None
    npl: MoneyJson | None
    new_lending: MoneyJson | None
    repaid: MoneyJson | None
    loans_drawn: int | None


class BalancesOut(_Out):
    month: dt.date
    as_of: dt.datetime
    by: list[str]
    programme_id: int | None
    own_only: bool
    cells: list[BalanceCellOut]
    others: list[BalanceCellOut] | None
    others_by: list[str]


class GrowthPointOut(_Out):
    month: dt.date
    outstanding: MoneyJson | None
    yoy: float | None
    mom: float | None
    new_lending_ytd: MoneyJson | None
    npl_ratio: float | None
    pure_credit_share: float | None
    first_loan_firms: int | None


class GrowthOut(_Out):
    as_of: dt.datetime
    programme_id: int | None
    own_only: bool
    series: list[GrowthPointOut]
    others: list[GrowthPointOut] | None


class TargetOut(_Out):
    target_id: int
    kind: str
    tech_field: str | None
    period_start: dt.date | None
    due_on: dt.date
    #: yuan (a string) for balance and credit targets, a count, or a rate
    goal: str
    current: str | None
    progress: float | None
    forecast: str | None
    lower: str | None
    upper: str | None
    probability: float | None
    monthly_needed: str | None
    months_left: int
    model: str | None
    settled: bool


class SummaryOut(_Out):
    programme_id: int
    code: str
    name: str
    month: dt.date
    as_of: dt.datetime
    disclosed: bool
    outstanding: MoneyJson | None
    yoy: float | None
    new_lending_ytd: MoneyJson | None
    npl_ratio: float | None
    pure_credit_share: float | None
    first_loan_firms_ytd: int | None
    targets: list[TargetOut]


class QuotaRowOut(_Out):
    target_id: int
    tech_field: str | None
    period_start: dt.date
    due_on: dt.date
    quota: MoneyJson
    used: MoneyJson | None
    share: float | None


class CommitmentRowOut(_Out):
    commitment_id: int
    institution_id: int
    tech_field: str | None
    period_start: dt.date
    period_end: dt.date
    amount: MoneyJson
    used: MoneyJson
    share: float | None


class QuotaOut(_Out):
    programme_id: int
    as_of: dt.datetime
    own_only: bool
    quotas: list[QuotaRowOut]
    commitments: list[CommitmentRowOut]


def _month(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        year, month = (int(x) for x in text.split("-"))
        return dt.date(year, month, 1)
    except ValueError:
        raise InvalidInput(f"month must be YYYY-MM, not {text!r}", field="month") from None


@router.get(
    "/balances",
    response_model=BalancesOut,
    summary="Month-end balances by institution, zone, field, firm category, product, programme",
)
def get_balances(
    request: Request,
    by: str = Query("", max_length=200, description="Comma-separated groupings (none: total)"),
    programme_id: int | None = ProgrammeQuery,
    month: str | None = Query(None, pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM"),
    p: Principal = allow("monitor:balances"),
) -> Response:
    state = api_state(request)
    groups = [b.strip() for b in by.split(",") if b.strip()]
    with reading(request) as s:
        view = records.balances(s, state.engine, p, groups, programme_id=programme_id,
                                month=_month(month), rule=state.settings.disclosure)  # fmt: skip
    return ok(BalancesOut.model_validate(view))


@router.get(
    "/growth",
    response_model=GrowthOut,
    summary="Balance, YoY and MoM growth, new lending this year, NPL ratio, pure-credit share",
)
def get_growth(
    request: Request,
    programme_id: int | None = ProgrammeQuery,
    months: int = Query(13, ge=1, le=120),
    p: Principal = allow("monitor:balances"),
) -> Response:
    state = api_state(request)
    with reading(request) as s:
        view = records.growth(s, state.engine, p, programme_id=programme_id, months=months,
                              rule=state.settings.disclosure)  # fmt: skip
    return ok(GrowthOut.model_validate(view))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@router.get(
    "/programmes/{programme_id}/summary",
    response_model=SummaryOut,
    summary="A programme's targets: progress, forecast with its interval, probability",
)
def get_summary(
    request: Request,
    programme_id: int = ProgrammePath,
    p: Principal = allow("monitor:targets"),
) -> Response:
    state = api_state(request)
    with reading(request) as s:
        view = records.programme_summary(s, state.engine, p, programme_id,
                                         state.settings.disclosure)  # fmt: skip
    summary, shown = view.summary, view.disclosed
    targets = [
        TargetOut(
            target_id=t.target_id, kind=t.kind, tech_field=t.tech_field,
            period_start=t.period_start, due_on=t.due_on, goal=str(t.goal),
            current=_text(t.current), progress=t.progress, forecast=_text(t.forecast),
            lower=_text(t.lower), upper=_text(t.upper), probability=t.probability,
            monthly_needed=_text(t.monthly_needed), months_left=t.months_left, model=t.model,
            settled=t.settled,
        )
        for t in summary.targets
    ]  # fmt: skip
    return ok(
        SummaryOut(
            programme_id=summary.programme_id, code=summary.code, name=summary.name,
            month=summary.month, as_of=summary.as_of, disclosed=shown,
            outstanding=summary.outstanding if shown else None,
            yoy=summary.yoy, new_lending_ytd=summary.new_lending_ytd if shown else None,
            npl_ratio=summary.npl_ratio, pure_credit_share=summary.pure_credit_share,
            first_loan_firms_ytd=summary.first_loan_firms_ytd if shown else None,
            targets=targets,
        )
    )  # fmt: skip


@router.get(
    "/programmes/{programme_id}/quota",
    response_model=QuotaOut,
    summary="Special credit against each field's quota and each institution's commitment",
)
def get_quota(
    request: Request,
    programme_id: int = ProgrammePath,
    p: Principal = allow("monitor:quota"),
) -> Response:
    state = api_state(request)
    with reading(request) as s:
        view = records.quota_use(s, state.engine, p, programme_id, state.settings.disclosure)
    return ok(QuotaOut.model_validate(view))
