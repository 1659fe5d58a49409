"""REST endpoints of the funnel and the institution scorecards (`monitoring.funnel`,
`monitoring.scorecard`): officers see every institution; an institution its own figures and
the others only as anonymous aggregates under the disclosure rule (the settings'
``INNOFIN_DISCLOSURE_*``); a programme the caller does not see answers 404."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from innofin.api.deps import allow, api_state, ok, reading
from innofin.api.errors import ERROR_RESPONSES
from innofin.kernel.jsontypes import MoneyJson
from innofin.kernel.principal import Principal
from innofin.monitoring.funnel.scorecard import scorecards
from innofin.monitoring.funnel.service import funnel_summary

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"], responses=ERROR_RESPONSES)
ProgrammeQuery = Query(None, ge=1, le=2_147_483_647, description="A programme (none: all)")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FunnelStepOut(_Out):
    step: str
    name_zh: str
    name_en: str
    count: int | None
    enterprises: int | None
    amount: MoneyJson | None


class InstitutionFunnelOut(_Out):
    institution_id: int
    institution_name: str
    referred: int
    answered: int
    opted_in: int
    approved: int
    declined: int
    credit_lines: int
    drawn: int
    drawn_amount: MoneyJson
    overdue: int
    median_days_to_response: float | None
    median_days_to_credit: float | None
    declines: dict[str, int]
    meetings: int


class MeetingOutcomesOut(_Out):
    events: int
    meetings: int | None
    enterprises: int | None
    agreements: int | None
    by_outcome: dict[str, int | None]


class FunnelOut(_Out):
    programme_id: int | None
    as_of: dt.datetime
    #: the caller is an institution: the steps are anonymous aggregates (None: hidden)
    own_only: bool
    steps: list[FunnelStepOut]
    median_days_to_response: float | None
    median_days_to_approval: float | None
    median_days_to_credit: float | None
    declines: dict[str, int | None]
    institutions: list[InstitutionFunnelOut]
    meetings: MeetingOutcomesOut | None
    notes: list[str]


class ApprovalCellOut(_Out):
    tech_field: str | None
    size_band: int
    decided: int | None
    approved: int | None
    rate: float | None


class ScorecardOut(_Out):
    institution_id: int
    institution_name: str
    referred: int
    answered: int
    overdue: int
    median_days_to_response: float | None
    decided: int
    approved: int
    approval_rate: float | None
    approval_by_cell: list[ApprovalCellOut]
    credit_lines: int
    credit_limit: MoneyJson
    points_lines: int
    points_limit: MoneyJson
    points_share: float | None
    loans: int
    drawn: MoneyJson
    defaulted_loans: int
    defaulted_principal: MoneyJson
    default_rate: float | None
    default_rate_amount: float | None


class PeerAggregateOut(_Out):
    institutions: int
    median_days_to_response: float | None
    approval_rate: float | None
    points_share: float | None
    default_rate: float | None
    default_rate_amount: float | None


class ScorecardsOut(_Out):
    programme_id: int | None
    as_of: dt.datetime
    own_only: bool
    cards: list[ScorecardOut]
    peers: PeerAggregateOut


@router.get(
    "/funnel",
    response_model=FunnelOut,
    summary="The funnel: needs → referrals → answers → approvals → credit lines → drawdowns",
)
def get_funnel(
    request: Request,
    programme_id: int | None = ProgrammeQuery,
    p: Principal = allow("monitor:funnel"),
) -> Response:
    rule = api_state(request).settings.disclosure
    with reading(request) as s:
        return ok(FunnelOut.model_validate(funnel_summary(s, p, programme_id, rule=rule)))


@router.get(
    "/scorecards",
    response_model=ScorecardsOut,
    summary="Institution scorecards: response time, approval rate, points share, default rate",
)
def get_scorecards(
    request: Request,
    programme_id: int | None = ProgrammeQuery,
    p: Principal = allow("monitor:scorecard"),
) -> Response:
    rule = api_state(request).settings.disclosure
    with reading(request) as s:
        return ok(ScorecardsOut.model_validate(scorecards(s, p, programme_id, rule=rule)))
