"""Ledger pages: programmes with their targets, agreements with their commitments (used and
available), credit lines and loans (schedule, class, days past due, events), a bank's
maker-checker queue (approve, or reject with a reason), risk pools (balance, leverage headroom,
positions, claims) and interest subsidies under public notice (the enterprise confirms or
objects).

Every read and every action goes through the ledger's API records (`ledger.*.records`): the
same row scopes (a row outside them is a 404 page) and the same rules (a maker approving its own
line is refused with a 403 page, nothing written).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from innofin.access.policy import may
from innofin.api.deps import RowId, api_state, reading
from innofin.audit.recorder import Actor
from innofin.kernel.errors import InvalidInput
from innofin.kernel.money import column_unit
from innofin.kernel.principal import Principal
from innofin.ledger.loans import records as loans
from innofin.ledger.loans import service as loan_service
from innofin.ledger.models import (
    CreditLine,
    InterestSubsidy,
    Loan,
    LoanInstalment,
    ProgrammeTarget,
)
from innofin.ledger.pools import records as pools
from innofin.ledger.programmes import records as programmes
from innofin.ledger.schemas import CommitmentOut, PoolOut
from innofin.ledger.scopes import ledger_write_scope
from innofin.ledger.subsidies import records as subsidies
from innofin.registry.models import Enterprise, Institution
from innofin.web.deps import page
from innofin.web.forms import Once, csrf_form, perform
from innofin.web.render import N_, render

router = APIRouter(include_in_schema=False)
LIMIT = 200  # rows a list page shows (the newest first)
Reason = Annotated[str, Form(max_length=500)]

LINE_STATUSES = ("pending", "approved", "rejected", "closed")
STATUS_NAMES = {
    "pending": N_("Waiting for approval"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "closed": N_("Closed"),
    "active": N_("Active"),
    "written_off": N_("Written off"),
    "published": N_("Under public notice"),
    "objected": N_("Objected to"),
    "withdrawn": N_("Withdrawn"),
    "confirmed": N_("Confirmed"),
    "paid": N_("Paid"),
    "signed": N_("Signed"),
    "terminated": N_("Terminated"),
}
CATEGORY_NAMES = {
    "pass": N_("Pass"),
    "special_mention": N_("Special mention"),
    "substandard": N_("Substandard"),
    "doubtful": N_("Doubtful"),
    "loss": N_("Loss"),
}
TARGET_NAMES = {
    "new_credit": N_("New credit"),
    "key_enterprises": N_("Key enterprises served"),
    "first_loans": N_("First loans"),
    "credit_loans": N_("Credit loans"),
    "tech_field_credit": N_("Credit to a technology field"),
    "rate_ceiling": N_("Interest rate ceiling"),
}
EVENT_NAMES = {
    "drawn": N_("Drawdown"),
    "repaid": N_("Repayment"),
    "repaid_reversed": N_("Repayment reversed"),
    "classified": N_("Classification"),
    "defaulted": N_("Default"),
    "written_off": N_("Write-off"),
    "recovered": N_("Recovery"),
}


def _names(s: Session, enterprise_ids: Iterable[int], institution_ids: Iterable[int]) -> Any:
    """Names of the enterprises and institutions of rows the visitor already sees."""
    ents = set(enterprise_ids)
    insts = set(institution_ids)
    enterprises = dict(
        s.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(ents))).all()
        if ents
        else []
    )
    institutions = dict(
        s.execute(select(Institution.id, Institution.name).where(Institution.id.in_(insts))).all()
        if insts
        else []
    )
    return {"enterprises": enterprises, "institutions": institutions}


def _unit(values: Iterable[Decimal | None]) -> Any:
    return column_unit([v for v in values if v is not None])


def _common() -> dict[str, Any]:
    return {
        "status_names": STATUS_NAMES,
        "category_names": CATEGORY_NAMES,
        "target_names": TARGET_NAMES,
        "event_names": EVENT_NAMES,
    }


# --------------------------------------------------------------------------- the hub

#: the ledger's sections: (page, title, what it shows, the action its page needs)
LEDGER_SECTIONS = (
    (
        "/ledger/programmes",
        N_("Programmes"),
        N_("Programmes with their targets, and the agreements signed under them."),
        "programme:read",
    ),
    (
        "/ledger/credit-lines",
        N_("Credit lines and loans"),
        N_("Credit lines, the loans drawn on them, and the lines waiting for approval."),
        "ledger:read",
    ),
    (
        "/ledger/risk-pools",
        N_("Risk pools"),
        N_("Each pool's balance, leverage headroom, contributors and claims."),
        "risk_pool:read",
    ),
    (
        "/ledger/subsidies",
        N_("Interest subsidies"),
        N_("Subsidies under public notice: enterprises confirm them or object."),
        "subsidy:read",
    ),
)


@router.get("/ledger")
def ledger_home(request: Request, p: Principal = page("ledger:read")) -> Response:
    """What of the ledger the visitor may open."""
    sections = [
        (href, title, text) for href, title, text, action in LEDGER_SECTIONS if may(p, action)
    ]
    return render(request, "ledger/index.html", {"sections": sections})


# --------------------------------------------------------------------------- programmes


@router.get("/ledger/programmes")
def programme_list(request: Request, p: Principal = page("programme:read")) -> Response:
    with reading(request) as s:
        found = list(
            s.scalars(programmes.programmes_query(p).order_by(programmes.PROGRAMME_SORTS["code"]))
        )
        ids = [x.id for x in found]
        targets: dict[int, list[ProgrammeTarget]] = {}
        for t in s.scalars(
            select(ProgrammeTarget)
            .where(ProgrammeTarget.programme_id.in_(ids))
            .order_by(ProgrammeTarget.id)
        ):
            targets.setdefault(t.programme_id, []).append(t)
        agreements = list(s.scalars(programmes.agreements_query(p, None).limit(LIMIT)))
        names = _names(s, [], [a.institution_id for a in agreements])
    unit = _unit(t.amount for ts in targets.values() for t in ts)
    context = {
        "programmes": found,
        "targets": targets,
        "target_unit": unit,
        "agreements": agreements,
        "names": names,
        **_common(),
    }
    return render(request, "ledger/programmes.html", context)


@router.get("/ledger/agreements/{agreement_id}")
def agreement_page(
    request: Request, agreement_id: RowId, p: Principal = page("agreement:read")
) -> Response:
    with reading(request) as s:
        detail = programmes.agreement(s, p, agreement_id)  # 404 outside the scope
        names = _names(s, [], [detail.institution_id])
    commitments: list[CommitmentOut] = detail.commitments
    unit = _unit([c.amount for c in commitments])
    context = {"a": detail, "commitments": commitments, "unit": unit, "names": names, **_common()}
    return render(request, "ledger/agreement.html", context)


# --------------------------------------------------------------------------- credit lines


@router.get("/ledger/credit-lines")
def credit_lines(
    request: Request,
    status: str = Query("", max_length=20),
    p: Principal = page("ledger:read"),
) -> Response:
    if status and status not in LINE_STATUSES:
        raise InvalidInput("unknown status", field="status")
    with reading(request) as s:
        lines = list(
            s.scalars(
                loans.lines_query(p, status or None, None)
                .order_by(CreditLine.id.desc())
                .limit(LIMIT)
            )
        )
        queue = list(
            s.scalars(loans.lines_query(p, "pending", None).order_by(CreditLine.id).limit(LIMIT))
        )
        names = _names(
            s,
            [x.enterprise_id for x in (*lines, *queue)],
            [x.institution_id for x in (*lines, *queue)],
        )
    mine = ledger_write_scope(p)
    deciding = may(p, "credit_line:decide")
    context = {
        "lines": lines,
        "queue": [x for x in queue if x.institution_id in mine] if deciding else [],
        "me": f"api:{p.username}",
        "status": status,
        "statuses": LINE_STATUSES,
        "unit": _unit([x.limit_amount for x in lines] + [x.used for x in lines]),
        "queue_unit": _unit([x.limit_amount for x in queue]),
        "names": names,
        **_common(),
    }
    return render(request, "ledger/credit_lines.html", context)


@router.get("/ledger/credit-lines/{line_id}")
def credit_line(request: Request, line_id: RowId, p: Principal = page("ledger:read")) -> Response:
    with reading(request) as s:
        found = loans.line(s, p, line_id)  # 404 outside the scope
        drawn = list(
            s.scalars(
                loans.loans_query(p, loans.LoanFilter(credit_line_id=line_id)).order_by(Loan.id)
            )
        )
        names = _names(s, [found.enterprise_id], [found.institution_id])
    context = {
        "line": found,
        "loans": drawn,
        "unit": _unit([found.limit_amount, found.used]),
        "loan_unit": _unit([x.principal for x in drawn]),
        "may_decide": (
            may(p, "credit_line:decide")
            and found.status == "pending"
            and found.institution_id in ledger_write_scope(p)
        ),
        "me": f"api:{p.username}",
        "names": names,
        **_common(),
    }
    return render(request, "ledger/credit_line.html", context)


@router.post("/ledger/credit-lines/{line_id}/decision")
def decide_line(
    request: Request,
    line_id: RowId,
    decision: Annotated[str, Form(max_length=10)],
    reason: Reason = "",
    once: Once = None,
    _: None = Depends(csrf_form),
    p: Principal = page("credit_line:decide"),
) -> Response:
    """The checker's decision; a rejection must say why (the reason joins the audit trail)."""
    if decision not in ("approve", "reject"):
        raise InvalidInput("decision must be approve or reject", field="decision")
    if decision == "reject" and not reason.strip():
        raise InvalidInput("a rejection needs a reason", field="reason")
    actor = Actor.api(p.user_id, p.username, reason=reason.strip() or None)
    approve = decision == "approve"
    perform(
        request,
        p,
        lambda s: loans.decide_line(s, p, actor, line_id, approve, None),
        reason=reason,
        once=once,
        payload={"approve": approve},
    )
    return RedirectResponse(f"/ledger/credit-lines/{line_id}", status_code=303)


@router.get("/ledger/loans/{loan_id}")
def loan_page(request: Request, loan_id: RowId, p: Principal = page("ledger:read")) -> Response:
    today = api_state(request).clock().date()
    with reading(request) as s:
        found = loans.loan(s, p, loan_id)  # 404 outside the scope
        events = loans.loan_events(s, p, loan_id)
        schedule = list(
            s.scalars(
                select(LoanInstalment)
                .where(LoanInstalment.loan_id == loan_id)
                .order_by(LoanInstalment.seq)
            )
        )
        past_due = loan_service.days_past_due(s, found, today)
        names = _names(s, [found.enterprise_id], [found.institution_id])
    balances = [
        found.principal,
        found.principal_repaid,
        found.interest_paid,
        found.outstanding_principal,
        found.written_off,
        found.recovered,
    ]
    context = {
        "loan": found,
        "events": events,
        "schedule": schedule,
        "past_due": past_due,
        "today": today,
        "unit": _unit(balances),
        "schedule_unit": _unit([i.principal for i in schedule] + [i.interest for i in schedule]),
        "event_unit": _unit(
            [e.amount for e in events]
            + [e.principal for e in events]
            + [e.interest for e in events]
        ),
        "names": names,
        **_common(),
    }
    return render(request, "ledger/loan.html", context)


# --------------------------------------------------------------------------- risk pools


@router.get("/ledger/risk-pools")
def pool_list(request: Request, p: Principal = page("risk_pool:read")) -> Response:
    with reading(request) as s:
        rows = list(s.scalars(pools.pools_query(p, None).order_by(pools.POOL_SORTS["id"])))
        found = [PoolOut.model_validate(r) for r in rows]
    context = {
        "pools": found,
        "unit": _unit(
            [x.balance for x in found]
            + [x.covered_outstanding for x in found]
            + [x.leverage_headroom for x in found]
        ),
    }
    return render(request, "ledger/risk_pools.html", context)


@router.get("/ledger/risk-pools/{pool_id}")
def pool_page(request: Request, pool_id: RowId, p: Principal = page("risk_pool:read")) -> Response:
    with reading(request) as s:
        detail = pools.pool(s, p, pool_id)  # 404 outside the scope
        claims = (
            list(s.scalars(pools.claims_query(p, pool_id, None).limit(LIMIT)))
            if may(p, "pool_claim:read")
            else []
        )
        names = _names(s, [], [c.institution_id for c in claims])
    figures: list[Decimal | None] = [detail.contributed, detail.paid_out, detail.recovered]
    figures += [detail.balance, detail.covered_outstanding, detail.leverage_headroom]
    context = {
        "pool": detail,
        "claims": claims,
        "unit": _unit(figures),
        "position_unit": _unit([x.contributed for x in detail.positions]),
        "claim_unit": _unit([c.principal_loss for c in claims]),
        "names": names,
        **_common(),
    }
    return render(request, "ledger/risk_pool.html", context)


# --------------------------------------------------------------------------- subsidies


@router.get("/ledger/subsidies")
def subsidy_list(
    request: Request,
    status: str = Query("", max_length=20),
    p: Principal = page("subsidy:read"),
) -> Response:
    if status and status not in ("published", "objected", "withdrawn", "confirmed", "paid"):
        raise InvalidInput("unknown status", field="status")
    today = api_state(request).clock().date()
    with reading(request) as s:
        rows = list(
            s.scalars(
                subsidies.subsidies_query(p, None, status or None, None)
                .order_by(InterestSubsidy.id.desc())
                .limit(LIMIT)
            )
        )
        names = _names(s, [x.enterprise_id for x in rows], [])
    context = {
        "subsidies": rows,
        "today": today,
        "status": status,
        "statuses": ("published", "objected", "withdrawn", "confirmed", "paid"),
        "unit": _unit([x.amount for x in rows] + [x.interest_paid for x in rows]),
        "may_confirm": may(p, "subsidy:confirm") and p.enterprise_id is not None,
        "may_object": may(p, "subsidy:object"),
        "own": p.enterprise_id,
        "names": names,
        **_common(),
    }
    return render(request, "ledger/subsidies.html", context)


@router.post("/ledger/subsidies/{subsidy_id}/confirmation")
def confirm_subsidy(
    request: Request,
    subsidy_id: RowId,
    once: Once = None,
    _: None = Depends(csrf_form),
    p: Principal = page("subsidy:confirm"),
) -> Response:
    today = api_state(request).clock().date()
    actor = Actor.api(p.user_id, p.username)
    perform(request, p, lambda s: subsidies.confirm(s, p, actor, subsidy_id, today), once=once)
    return RedirectResponse(f"/ledger/subsidies#subsidy-{subsidy_id}", status_code=303)


@router.post("/ledger/subsidies/{subsidy_id}/objection")
def object_to_subsidy(
    request: Request,
    subsidy_id: RowId,
    text: Reason,
    once: Once = None,
    _: None = Depends(csrf_form),
    p: Principal = page("subsidy:object"),
) -> Response:
    if not text.strip():
        raise InvalidInput("say what is wrong", field="text")
    today = api_state(request).clock().date()
    actor = Actor.api(p.user_id, p.username)
    perform(
        request,
        p,
        lambda s: subsidies.object_to(s, p, actor, subsidy_id, text.strip(), today),
        once=once,
        payload={"text": text.strip()},
    )
    return RedirectResponse(f"/ledger/subsidies#subsidy-{subsidy_id}", status_code=303)


# --------------------------------------------------------------------------- home page


def ledger_steps(s: Session, p: Principal) -> list[Any]:
    """The ledger's next steps on the home page: a bank officer's lines waiting for its
    decision (entered by another officer), an enterprise's subsidies under public notice, an
    officer's programmes."""
    from sqlalchemy import func

    from innofin.web.pages.home import Step

    steps: list[Any] = []
    if may(p, "credit_line:decide"):
        waiting = (
            loans.lines_query(p, "pending", None)
            .where(CreditLine.institution_id.in_(ledger_write_scope(p)))
            .where(CreditLine.maker_id != f"api:{p.username}")
        )
        count = s.scalar(select(func.count()).select_from(waiting.subquery())) or 0
        steps.append(
            Step(
                N_("Decide the credit lines waiting for you"),
                N_(
                    "Lines another officer of your institution entered: approve, or reject them "
                    "with a reason."
                ),
                "/ledger/credit-lines",
                N_("Waiting"),
                f"{count:,}",
            )
        )
    if p.enterprise_id is not None and may(p, "subsidy:confirm"):
        notice = subsidies.subsidies_query(p, None, "published", p.enterprise_id)
        count = s.scalar(select(func.count()).select_from(notice.subquery())) or 0
        steps.append(
            Step(
                N_("Check your interest subsidies"),
                N_("Confirm each subsidy once its public notice ends, or object while it lasts."),
                "/ledger/subsidies?status=published",
                N_("Under public notice"),
                f"{count:,}",
            )
        )
    elif may(p, "programme:read") and not may(p, "credit_line:decide"):
        count = (
            s.scalar(select(func.count()).select_from(programmes.programmes_query(p).subquery()))
            or 0
        )
        steps.append(
            Step(
                N_("Follow the programmes' ledger"),
                N_("Targets, agreements, credit lines, risk pools and subsidies."),
                "/ledger",
                N_("Programmes"),
                f"{count:,}",
            )
        )
    return steps
