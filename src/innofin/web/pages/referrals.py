"""Referral pages (推荐对接): a need referred to several institutions at once with the enterprise's
consent, an institution's inbox of referrals (opt in, decline with a reason code, the funnel's
later steps) and the officers' list of overdue referrals.

Every change goes through `matching.referrals` (as the API's referral writes) under the same
policy actions; rows come through `referrals.referrals_query`, so a visitor sees only the
referrals the API would show it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from innofin.access import grants
from innofin.access.policy import may
from innofin.api.deps import RowId, api_state, reading
from innofin.kernel.errors import InvalidInput
from innofin.kernel.principal import Principal
from innofin.matching.models import FinancingNeed, NeedReferral
from innofin.matching.referrals import service as referrals
from innofin.matching.referrals.engine import DECLINE_REASONS
from innofin.registry.models import Enterprise, Institution
from innofin.web import i18n
from innofin.web.deps import page
from innofin.web.forms import csrf_form, perform
from innofin.web.render import N_, render

router = APIRouter(include_in_schema=False)
LIMIT = 300
Id = Annotated[int, Form(ge=1, le=2_147_483_647)]

#: referral statuses → their names, translated where shown
STATUS_NAMES = {
    "referred": N_("Waiting for an answer"),
    "opted_in": N_("Opted in"),
    "contacted": N_("Contacted"),
    "applied": N_("Applied"),
    "approved": N_("Approved"),
    "declined": N_("Declined"),
    "withdrawn": N_("Withdrawn"),
}
#: the funnel step that follows each status (an institution moves a referral along)
NEXT_STEP = {"opted_in": "contacted", "contacted": "applied", "applied": "approved"}
STEP_NAMES = {
    "contacted": N_("Mark contacted"),
    "applied": N_("Mark applied"),
    "approved": N_("Mark approved"),
}
DECLINABLE = ("referred", "opted_in", "contacted", "applied")


def reason_names(request: Request) -> dict[str, str]:
    """Decline reason codes → their names in the visitor's language."""
    en = i18n.language(request) == "en"
    return {code: names[1 if en else 0] for code, names in DECLINE_REASONS.items()}


def today(request: Request) -> dt.date:
    """The programme's calendar day now (China Standard Time), as the deadlines count."""
    return (api_state(request).clock() + dt.timedelta(hours=8)).date()


def answers(p: Principal, row: NeedReferral) -> bool:
    """Whether `p` answers referral `row` (its institution's, as `referrals.respond` checks)."""
    return may(p, "need_referral:respond") and (
        p.is_admin or row.institution_id in p.institution_ids
    )


def referral_context(
    request: Request, s: Session, p: Principal, rows: Sequence[NeedReferral]
) -> dict[str, Any]:
    """What a table of referrals shows: names of institutions and firms, the re-matches each
    decline led to, whether each is overdue and what the visitor may do with it."""
    needs = {r.need_id for r in rows}
    firms = dict(
        s.execute(
            select(FinancingNeed.id, Enterprise.name)
            .join(Enterprise, Enterprise.id == FinancingNeed.enterprise_id)
            .where(FinancingNeed.id.in_(needs))
        ).all()
    )
    institutions = dict(s.execute(select(Institution.id, Institution.name)).all())
    rematches: dict[int, list[NeedReferral]] = {}
    for r in rows:
        if r.rematch_of_id is not None:
            rematches.setdefault(r.rematch_of_id, []).append(r)
    now = today(request)
    return {
        "referrals": rows,
        "firms": firms,
        "institutions": institutions,
        "rematches": rematches,
        "overdue": {r.id for r in rows if r.status == "referred" and r.deadline < now},
        "answering": {r.id for r in rows if answers(p, r)},
        "statuses": STATUS_NAMES,
        "reasons": reason_names(request),
        "next_step": NEXT_STEP,
        "step_names": STEP_NAMES,
        "declinable": DECLINABLE,
    }


@router.get("/referrals")
def inbox(request: Request, p: Principal = page("need_referral:read")) -> Response:
    """The referrals a visitor may see: an institution those sent to it (to answer), a firm
    those of its needs, officers those of the firms they oversee; newest first."""
    with reading(request) as s:
        stmt = referrals.referrals_query(p).order_by(None).order_by(NeedReferral.id.desc())
        rows = list(s.scalars(stmt.limit(LIMIT)))
        context = referral_context(request, s, p, rows)
    context["flagging"] = False
    return render(request, "matching/referrals.html", {**context, "overdue_only": False})


@router.get("/referrals/overdue")
def overdue(request: Request, p: Principal = page("need_referral:flag_overdue")) -> Response:
    """Referrals still waiting for an answer after their deadline, of the needs the officer
    sees, oldest deadline first."""
    with reading(request) as s:
        stmt = (
            referrals.referrals_query(p, status="referred")
            .where(NeedReferral.deadline < today(request))
            .order_by(None)
            .order_by(NeedReferral.deadline, NeedReferral.id)
        )
        rows = list(s.scalars(stmt.limit(LIMIT)))
        context = referral_context(request, s, p, rows)
    context["flagging"] = bool(rows) and any(r.overdue_flagged_at is None for r in rows)
    return render(request, "matching/referrals.html", {**context, "overdue_only": True})


@router.post("/referrals/overdue/flags")
def flag(
    request: Request,
    _: None = Depends(csrf_form),
    p: Principal = page("need_referral:flag_overdue"),
) -> Response:
    """Flag the overdue referrals of the needs the officer sees (as the API's overdue flags)."""
    now = api_state(request).clock()
    perform(request, p, lambda s: referrals.flag_overdue(s, at=now, p=p), payload={})
    return RedirectResponse("/referrals/overdue", status_code=303)


@router.post("/needs/{need_id}/referrals")
def refer(
    request: Request,
    need_id: RowId,
    institution_id: Annotated[list[int], Form(max_length=20)],
    consent: Annotated[str | None, Form(max_length=10)] = None,
    _: None = Depends(csrf_form),
    p: Principal = page("need:refer"),
) -> Response:
    """Refer the need to the institutions ticked. The enterprise's consent is asked on the form;
    a firm's own user grants it to the institutions that lack it, in the same transaction."""
    if consent != "yes":
        raise InvalidInput("the enterprise's consent is needed to refer a need", field="consent")
    now = api_state(request).clock()

    def change(s: Session) -> list[NeedReferral]:
        if p.enterprise_id is not None and may(p, "consent:write"):
            need = s.get(FinancingNeed, need_id)
            if need is not None and need.enterprise_id == p.enterprise_id:
                lacking = set(institution_id) - referrals.consented(
                    s, need.enterprise_id, institution_id
                )
                for inst in sorted(lacking):
                    grants.grant(s, p, inst, now)
        return referrals.refer(s, p, need_id, institution_id, source="recommendation", at=now)

    perform(request, p, change, payload={"need_id": need_id, "institution_ids": institution_id})
    return RedirectResponse(f"/needs/{need_id}#referrals", status_code=303)


@router.post("/referrals/{referral_id}/answer")
def answer(
    request: Request,
    referral_id: RowId,
    answer: Annotated[str, Form(max_length=10)],
    code: Annotated[str | None, Form(max_length=40)] = None,
    text: Annotated[str | None, Form(max_length=500)] = None,
    _: None = Depends(csrf_form),
    p: Principal = page("need_referral:respond"),
) -> Response:
    """Opt in, or decline with a reason code (and words for "other"); a decline re-matches."""
    now = api_state(request).clock()
    perform(
        request,
        p,
        lambda s: referrals.respond(
            s, p, referral_id, answer, code=code or None, text=(text or "").strip() or None, at=now
        ),
        payload={"answer": answer, "code": code, "text": text},
    )
    return RedirectResponse(f"/referrals#referral-{referral_id}", status_code=303)


@router.post("/referrals/{referral_id}/step")
def step(
    request: Request,
    referral_id: RowId,
    step: Annotated[str, Form(max_length=12)],
    _: None = Depends(csrf_form),
    p: Principal = page("need_referral:advance"),
) -> Response:
    """The funnel's next step: contacted, applied, approved."""
    now = api_state(request).clock()
    perform(
        request,
        p,
        lambda s: referrals.advance(s, p, referral_id, step, at=now),
        payload={"step": step},
    )
    return RedirectResponse(f"/referrals#referral-{referral_id}", status_code=303)


def matching_steps(s: Session, p: Principal) -> list[Any]:
    """The home page's next steps of matching, by role: a firm refers its needs, an institution
    answers its referrals, an officer chases the overdue ones."""
    from sqlalchemy import func

    from innofin.web.pages.home import Step

    def count(stmt: Any) -> str:
        return str(s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())))

    steps = []
    if p.enterprise_id is not None and may(p, "need:refer"):
        stmt = referrals.referrals_query(p)
        steps.append(
            Step(
                N_("Refer your financing needs"),
                N_("Send a need to the institutions that fit it and follow each answer."),
                "/needs",
                N_("Referrals"),
                count(stmt),
            )
        )
    if may(p, "need_referral:respond") and p.institution_ids:
        stmt = referrals.referrals_query(p, status="referred")
        steps.append(
            Step(
                N_("Answer your referrals"),
                N_("Opt in or decline with a reason before the deadline."),
                "/referrals",
                N_("Waiting for an answer"),
                count(stmt),
            )
        )
    if may(p, "need_referral:flag_overdue"):
        now = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).date()
        stmt = referrals.referrals_query(p, status="referred").where(NeedReferral.deadline < now)
        steps.append(
            Step(
                N_("Chase overdue referrals"),
                N_("Referrals an institution has not answered by their deadline."),
                "/referrals/overdue",
                N_("Overdue"),
                count(stmt),
            )
        )
    if may(p, "allocation:run"):
        steps.append(
            Step(
                N_("Allocate special credit"),
                N_("Which needs each institution funds, within quotas and commitments."),
                "/allocation",
            )
        )
    return steps
