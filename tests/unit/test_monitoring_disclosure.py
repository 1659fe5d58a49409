"""The disclosure rule on the funnel's anonymous aggregates and the scorecards' pooled peers, for
any referrals: a figure an institution is shown passes the rule when recomputed here from the
firms (or institutions) behind it, and a figure that fails it is hidden — never shown rounded or
partly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from innofin.kernel.disclosure import CellStats, DisclosureRule, disclosable
from innofin.monitoring.funnel import scorecard
from innofin.monitoring.funnel import service as funnel

T0 = dt.datetime(2025, 3, 3, tzinfo=dt.UTC)
RULES = st.builds(
    DisclosureRule,
    min_contributors=st.integers(1, 6),
    top1_share=st.sampled_from([Decimal("0.5"), Decimal("0.6"), Decimal("0.9")]),
    top2_share=st.sampled_from([Decimal("0.9"), Decimal("1")]),
)
REFERRAL = st.tuples(
    st.integers(0, 7),  # firm
    st.integers(0, 3),  # institution
    st.sampled_from(["referred", "declined", "approved"]),
    st.booleans(),  # with a credit line
)


def _referrals(rows: list[tuple[int, int, str, bool]]) -> list[funnel._Referral]:
    out = []
    for k, (firm, bank, status, line) in enumerate(rows):
        answered = status != "referred"
        out.append(
            funnel._Referral(
                institution_id=bank,
                enterprise_id=firm,
                status=status,
                referred_at=T0,
                deadline=dt.date(2025, 3, 5),
                responded_at=T0 + dt.timedelta(days=1) if answered else None,
                approved_at=T0 + dt.timedelta(days=3) if status == "approved" else None,
                declined_at=T0 + dt.timedelta(days=1) if status == "declined" else None,
                decline_code="risk" if status == "declined" else None,
                credit_line_id=k if status == "approved" and line else None,
                opted_in=status == "approved",
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(REFERRAL, max_size=30), rule=RULES)
def test_every_step_shown_to_an_institution_passes_the_rule(
    rows: list[tuple[int, int, str, bool]], rule: DisclosureRule
) -> None:
    refs = _referrals(rows)
    lines = {r.credit_line_id: (Decimal("100.00") * (1 + r.enterprise_id), True)
             for r in refs if r.credit_line_id is not None}  # fmt: skip
    steps = {s.step: s for s in funnel._steps([], refs, lines, {}, rule)}
    passed = {
        "referred": lambda r: True,
        "answered": lambda r: r.responded_at is not None,
        "approved": lambda r: r.approved_at is not None,
    }
    for name, test in passed.items():
        per_firm: dict[int, Decimal] = {}
        for r in refs:
            if test(r):
                per_firm[r.enterprise_id] = per_firm.get(r.enterprise_id, Decimal(0)) + 1
        ok = disclosable(CellStats.of(per_firm.values()), rule) or not per_firm
        shown = steps[name]
        assert (shown.count is not None) == ok
        if shown.count is not None:
            assert shown.count == sum(per_firm.values()) and shown.enterprises == len(per_firm)
    # without a rule (officers) every count is shown
    assert all(s.count is not None for s in funnel._steps([], refs, lines, {}, None))


@settings(max_examples=150, deadline=None)
@given(
    decided=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=8),
    rule=RULES,
)
def test_pooled_peers_are_shown_only_when_no_institution_dominates(
    decided: list[tuple[int, int]], rule: DisclosureRule
) -> None:
    accs = []
    for n, approved in decided:
        a = scorecard._Acc()
        a.decided, a.approved = n, min(approved, n)
        accs.append(a)
    peers = scorecard._peers(accs, rule)
    sizes = [Decimal(a.decided) for a in accs if a.decided > 0]
    ok = disclosable(CellStats.of(sizes), rule)
    assert (peers.approval_rate is not None) == (ok and sum(sizes) > 0)
    if peers.approval_rate is not None:
        total = sum(a.decided for a in accs)
        assert peers.approval_rate == round(sum(a.approved for a in accs) / total, 4)
    assert peers.institutions == len(accs)
