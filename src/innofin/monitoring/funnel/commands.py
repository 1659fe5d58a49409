"""`innofin monitor funnel|scorecard`: a programme's funnel (needs → referrals → answers →
approvals → credit lines → drawdowns) and the institutions' scorecards, as the operator at the
machine sees them (every row)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import typer

from innofin.cli_support import console, table
from innofin.ledger.cli_options import read

PROGRAMME = typer.Option(
    None, "--programme", help="A programme, by id or code (default: every programme)."
)
AS_JSON = typer.Option(False, "--json", help="Print JSON (amounts as decimal strings).")


def _programme_id(session: Any, ref: str | None) -> int | None:
    from innofin.ledger.cli_options import programme_by_ref

    return None if ref is None else programme_by_ref(session, ref).id


def _json(value: Any) -> str:
    return json.dumps(dataclasses.asdict(value), ensure_ascii=False, default=str, indent=1)


def _days(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def funnel(programme: str | None = PROGRAMME, as_json: bool = AS_JSON) -> None:
    """The funnel: needs → referrals → answers → approvals → credit lines → drawdowns, the
    median days to an answer and to credit, declines by reason, and each institution's row."""
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.funnel.service import funnel_summary

    summary = read(lambda s: funnel_summary(s, OPERATOR, _programme_id(s, programme)))
    if as_json:
        print(_json(summary))
        return
    console.print(
        table(
            "Funnel 对接漏斗",
            ("step", "count", "firms", "amount"),
            [(f"{s.name_zh} {s.name_en}", s.count, s.enterprises, s.amount) for s in summary.steps],
            money={"amount"},
        )
    )
    console.print(
        f"median days to an answer {_days(summary.median_days_to_response)}, to approval "
        f"{_days(summary.median_days_to_approval)}, to the first drawdown "
        f"{_days(summary.median_days_to_credit)}; declines: "
        + (", ".join(f"{k} {v}" for k, v in summary.declines.items()) or "none"),
        highlight=False,
    )
    if summary.institutions:
        console.print(
            table(
                "By institution 按机构",
                ("institution", "referred", "answered", "approved", "lines", "drawn", "amount",
                 "overdue", "days to answer", "days to credit"),
                [
                    (r.institution_name, r.referred, r.answered, r.approved, r.credit_lines,
                     r.drawn, r.drawn_amount, r.overdue, _days(r.median_days_to_response),
                     _days(r.median_days_to_credit))
                    for r in summary.institutions
                ],
                money={"amount"},
            )
        )  # fmt: skip


def scorecard(
    programme: str | None = PROGRAMME,
    institution: int | None = typer.Option(None, "--institution", help="One institution's id."),
    as_json: bool = AS_JSON,
) -> None:
    """Institution scorecards: response time, approval rate (by field and size band in
    --json), share of points-based credit, default rate."""
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.funnel.scorecard import scorecards

    cards = read(lambda s: scorecards(s, OPERATOR, _programme_id(s, programme)))
    rows = [c for c in cards.cards if institution is None or c.institution_id == institution]
    if as_json:
        print(_json(dataclasses.replace(cards, cards=tuple(rows))))
        return
    console.print(
        table(
            "Institution scorecards 机构评价",
            ("institution", "referred", "days to answer", "approval", "lines", "points share",
             "loans", "drawn", "default rate", "by amount"),
            [
                (c.institution_name, c.referred, _days(c.median_days_to_response),
                 _share(c.approval_rate), c.credit_lines, _share(c.points_share), c.loans,
                 c.drawn, _share(c.default_rate), _share(c.default_rate_amount))
                for c in rows
            ],
            money={"drawn"},
        )
    )  # fmt: skip
    peers = cards.peers
    console.print(
        f"all {peers.institutions} institutions: days to answer "
        f"{_days(peers.median_days_to_response)}, approval {_share(peers.approval_rate)}, "
        f"points share {_share(peers.points_share)}, default rate {_share(peers.default_rate)} "
        f"({_share(peers.default_rate_amount)} by amount)",
        highlight=False,
    )


def add_to(app: typer.Typer) -> None:
    app.command("funnel")(funnel)
    app.command("scorecard")(scorecard)
