"""`innofin match refer|respond|step|referrals|alternatives|overdue|funnel`: referrals of needs
with deadlines and decline reasons, the alternatives a decline led to, and the funnel.

Exit codes: 0 done; 2 invalid input (an option named); 3 a need, referral or institution that
does not exist; 4 a conflict (already referred or answered).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from innofin.cli_support import console, engine, table
from innofin.ledger.cli_options import REASON

if TYPE_CHECKING:
    from innofin.matching.referrals.rematch import Rematch

DECLINE_HELP = (
    "Decline with a reason: too_young, revenue_too_low, outside_fields, amount_too_large, risk, "
    "incomplete_documents, other (with --text)."
)


def _referral_json(r: Any) -> dict[str, Any]:
    return {
        "referral_id": r.id,
        "need_id": r.need_id,
        "institution_id": r.institution_id,
        "source": r.source,
        "status": r.status,
        "deadline": r.deadline.isoformat(),
        "decline_code": r.decline_code,
        "decline_text": r.decline_text,
        "rematch_of_id": r.rematch_of_id,
    }


def alternative_line(alt: dict[str, Any]) -> str:
    """One alternative offered after a decline, on one line."""
    if alt["instrument"] == "subsidy":
        return f"  · {alt['zh']} / {alt['en']}"
    if alt.get("referral_id") or alt.get("referred"):
        mark = "→ referred"
    else:
        mark = "needs consent" if alt["needs_consent"] else ""
    score = "" if alt["score"] is None else f" (fit {float(alt['score']):.3f})"
    return (
        f"  · {alt['institution_name']} {alt['product_name']} — {alt['zh']} / {alt['en']}"
        f"{score} {mark}"
    ).rstrip()


def print_rematch(rematch: Rematch) -> None:
    if rematch.referred is not None:
        console.print(
            f"  re-matched: referred to institution {rematch.referred.institution_id} "
            f"(referral {rematch.referred.id}, answer by {rematch.referred.deadline})",
            highlight=False,
        )
    for alt in rematch.alternatives:
        console.print(alternative_line(alt), highlight=False, markup=False)
    if rematch.message:
        console.print(f"  {rematch.message}", highlight=False, markup=False)


def refer(
    need_id: int = typer.Argument(..., help="The financing need."),
    to: list[int] = typer.Option(..., "--to", help="An institution to refer it to (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Print the referrals as JSON."),
    reason: str | None = REASON,
) -> None:
    """Refer a need to several institutions at once (each needs the enterprise's consent); each
    answers within the programme's business days."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.matching.referrals import service as referrals
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=Actor.cli(reason)) as session:
            rows = referrals.refer(session, OPERATOR, need_id, to)
            out = [_referral_json(r) for r in rows]
    finally:
        eng.dispose()
    if as_json:
        print(json.dumps(out, ensure_ascii=False))
        return
    for r in out:
        console.print(
            f"need {need_id} referred to institution {r['institution_id']} "
            f"(referral {r['referral_id']}); answer by {r['deadline']}",
            highlight=False,
        )


def respond(
    referral_id: int = typer.Argument(..., help="The referral."),
    opt_in: bool = typer.Option(False, "--opt-in", help="The institution takes the need up."),
    decline: str | None = typer.Option(None, "--decline", help=DECLINE_HELP),
    text: str | None = typer.Option(None, help="Why, in words (required with --decline other)."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer and re-match as JSON."),
    reason: str | None = REASON,
) -> None:
    """An institution's answer to a referral: opt in, or decline with a reason (which
    re-matches the need to other institutions or instruments)."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.kernel.errors import InvalidInput
    from innofin.matching.referrals import service as referrals
    from innofin.matching.scopes import OPERATOR

    if opt_in == (decline is not None):
        raise InvalidInput("give either --opt-in or --decline CODE", field="decline")
    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=Actor.cli(reason)) as session:
            out = referrals.respond(
                session,
                OPERATOR,
                referral_id,
                "opt_in" if opt_in else "decline",
                code=decline,
                text=text,
            )
            doc = _referral_json(out.referral)
            rematch = out.rematch
            if rematch is not None:
                doc["rematch"] = {
                    "referred": None
                    if rematch.referred is None
                    else _referral_json(rematch.referred),
                    "alternatives": rematch.alternatives,
                    "message": rematch.message,
                }
    finally:
        eng.dispose()
    if as_json:
        print(json.dumps(doc, ensure_ascii=False))
        return
    console.print(f"referral {referral_id}: {doc['status']}", highlight=False)
    if rematch is not None:
        print_rematch(rematch)


def step(
    referral_id: int = typer.Argument(..., help="The referral."),
    to: str = typer.Argument(..., help="contacted, applied or approved."),
    credit_line: int | None = typer.Option(None, help="On approval: the ledger's credit line."),
    reason: str | None = REASON,
) -> None:
    """Move a referral along the funnel: contacted → applied → approved."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.matching.referrals import service as referrals
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=Actor.cli(reason)) as session:
            row = referrals.advance(session, OPERATOR, referral_id, to, credit_line_id=credit_line)
            status = row.status
    finally:
        eng.dispose()
    console.print(f"referral {referral_id}: {status}", highlight=False)


def list_referrals(
    need_id: int | None = typer.Option(None, "--need", help="One need's referrals."),
    institution_id: int | None = typer.Option(None, "--institution", help="One institution's."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List referrals with their status, deadline and decline reason."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.referrals import service as referrals
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            rows = session.scalars(
                referrals.referrals_query(OPERATOR, need_id, institution_id)
            ).all()
            out = [_referral_json(r) for r in rows]
    finally:
        eng.dispose()
    if as_json:
        print(json.dumps(out, ensure_ascii=False))
        return
    console.print(
        table(
            "Referrals 推荐对接",
            ("referral", "need", "institution", "source", "status", "deadline", "reason"),
            [
                (
                    r["referral_id"],
                    r["need_id"],
                    r["institution_id"],
                    r["source"],
                    r["status"],
                    r["deadline"],
                    r["decline_code"] or "",
                )
                for r in out
            ],
        )
    )


def alternatives(
    need_id: int = typer.Argument(..., help="The financing need."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The alternatives each decline of a need led to (other institutions' products, a
    guaranteed product, equity, an interest subsidy), in the order they were offered."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.referrals import rematch
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            docs = rematch.alternatives(session, OPERATOR, need_id)
    finally:
        eng.dispose()
    if as_json:
        print(json.dumps(docs, ensure_ascii=False, default=str))
        return
    if not docs:
        console.print(f"need {need_id} has not been declined: no alternatives yet", highlight=False)
    for doc in docs:
        console.print(
            f"referral {doc['referral_id']} declined ({doc['decline_code']}) on "
            f"{doc['offered_at']:%Y-%m-%d %H:%M}: {len(doc['alternatives'])} alternatives",
            highlight=False,
        )
        for alt in doc["alternatives"]:
            console.print(alternative_line(alt), highlight=False, markup=False)
        if doc["message"]:
            console.print(f"  {doc['message']}", highlight=False, markup=False)


def overdue(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Referrals past their deadline without an answer (flagged for the programme officer)."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.matching.referrals import service as referrals

    eng = engine()
    try:
        with unit_of_work(eng, immediate=True, actor=Actor.cli(None)) as session:
            out = [_referral_json(r) for r in referrals.flag_overdue(session)]
    finally:
        eng.dispose()
    if as_json:
        print(json.dumps(out, ensure_ascii=False))
        return
    if not out:
        console.print("no overdue referrals")
    for r in out:
        console.print(
            f"referral {r['referral_id']}: need {r['need_id']} at institution "
            f"{r['institution_id']} unanswered since {r['deadline']}",
            highlight=False,
        )


def funnel(
    institution_id: int | None = typer.Option(None, "--institution", help="One institution."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The funnel per institution: referred → answered → contacted → applied → approved →
    credit line, declines by reason, conversion and median days to credit."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.referrals import service as referrals

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            rows = referrals.funnel(session, None if institution_id is None else [institution_id])
    finally:
        eng.dispose()
    if as_json:
        print(json.dumps([r.as_json() for r in rows], ensure_ascii=False))
        return
    print_funnel(rows)


def print_funnel(rows: list[Any]) -> None:
    console.print(
        table(
            "Funnel 对接漏斗",
            (
                "institution",
                "referred",
                "opted in",
                "applied",
                "approved",
                "lines",
                "declined",
                "overdue",
                "conversion",
                "days to credit",
            ),
            [
                (
                    r.institution_name,
                    r.referred,
                    r.opted_in,
                    r.applied,
                    r.approved,
                    r.credit_lines,
                    r.declined,
                    r.overdue,
                    "" if r.conversion is None else f"{r.conversion:.0%}",
                    "" if r.median_days_to_credit is None else f"{r.median_days_to_credit:.1f}",
                )
                for r in rows
            ],
        )
    )


def print_demo(eng: Any) -> None:
    """`make demo`'s referral part: one need referred to two institutions with the firm's
    consent, one declines with a reason and the need is re-matched, the other opts in."""
    import datetime as dt

    from sqlalchemy import select

    from innofin.access.models import Consent
    from innofin.audit.recorder import Actor
    from innofin.cli_support import section
    from innofin.db.engine import unit_of_work
    from innofin.matching import queries
    from innofin.matching.models import FinancingNeed
    from innofin.matching.referrals import service as referrals
    from innofin.matching.referrals.deadlines import consented
    from innofin.matching.scopes import OPERATOR

    actor = Actor.cli("demo: referral and allocation")
    section("[bold]10. Referrals: one need to two institutions, a decline and the re-match")
    with unit_of_work(eng, immediate=True, actor=actor) as session:
        candidates = list(
            session.scalars(
                select(FinancingNeed)
                .where(FinancingNeed.status == "open")
                .order_by(FinancingNeed.id)
                .limit(200)
            )
        )
        chosen: tuple[int, list[int]] | None = None
        if candidates:
            run = queries.run_recommendations(session, candidates, k=10, per_institution=1)
            for row, need in enumerate(candidates):
                recs = queries.need_recommendations(run, row, frozenset())
                fits = [m.institution_id for m in recs.institutions]
                if len(fits) >= 4:
                    chosen = (need.id, fits[:3])
                    break
        if chosen is not None:
            need_row = session.get(FinancingNeed, chosen[0])
            assert need_row is not None
            have = consented(session, need_row.enterprise_id, chosen[1])
            now = dt.datetime.now(dt.UTC)
            for inst in chosen[1]:
                if inst not in have:
                    session.add(
                        Consent(
                            enterprise_id=need_row.enterprise_id,
                            institution_id=inst,
                            granted_at=now,
                        )
                    )
            session.flush()
            console.print(
                f"  the firm of need {chosen[0]} consents to share its data with institutions "
                f"{', '.join(map(str, chosen[1]))}",
                highlight=False,
            )
            chosen = (chosen[0], chosen[1][:2])
        if chosen is None:
            console.print("  no open need with four fitting institutions")
        else:
            need_id, two = chosen
            rows = referrals.refer(session, OPERATOR, need_id, two, source="recommendation")
            for r in rows:
                console.print(
                    f"  need {need_id} referred to institution {r.institution_id} "
                    f"(referral {r.id}); answer by {r.deadline} (2 business days)",
                    highlight=False,
                )
            out = referrals.respond(session, OPERATOR, rows[0].id, "decline", code="risk")
            console.print(
                f"  institution {rows[0].institution_id} declines: risk (风险过高); re-match:",
                highlight=False,
            )
            if out.rematch is not None:
                print_rematch(out.rematch)
            referrals.respond(session, OPERATOR, rows[1].id, "opt_in")
            referrals.advance(session, OPERATOR, rows[1].id, "contacted")
            console.print(
                f"  institution {rows[1].institution_id} opts in and contacts the firm",
                highlight=False,
            )


def print_demo_funnel(eng: Any) -> None:
    """`make demo`'s funnel, after the allocation."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.referrals import service as referrals

    with unit_of_work(eng) as session:
        rows_f = referrals.funnel(session)
    if rows_f:
        print_funnel(rows_f)
