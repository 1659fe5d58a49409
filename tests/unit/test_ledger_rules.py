"""The loan rules alone (`ledger.loans.rules_engine`, `lines_engine`), with no database: the one
place each rule is written, which the one-by-one services and the bulk path both call (their
equality is proven in tests/integration/test_ledger_bulk.py and test_ledger_properties.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound
from innofin.ledger.loans import engine as sched
from innofin.ledger.loans import lines_engine as lines
from innofin.ledger.loans import rules_engine as rules

D = dt.date
ZERO = Decimal("0.00")
START = D(2024, 1, 15)


def _loan(principal: str = "1000.00", **more: object) -> rules.LoanState:
    p = Decimal(principal)
    return replace(rules.LoanState("L-1", p, START, outstanding=p), **more)  # type: ignore[arg-type]


def _line(**more: object) -> rules.LineState:
    line = rules.LineState(
        1, 2, "LINE-1", "approved", "CNY", D(2024, 1, 1), D(2026, 1, 1), Decimal("10000.00"),
        ZERO, Decimal("0.0345"), 0, False, None,
    )  # fmt: skip
    return replace(line, **more)  # type: ignore[arg-type]


def _refused(call: object, kind: str, field: str) -> rules.Refused:
    assert callable(call)
    with pytest.raises(rules.Refused) as caught:
        call()
    assert (caught.value.kind, caught.value.field) == (kind, field)
    return caught.value


amounts = st.integers(min_value=0, max_value=200_000).map(lambda fen: Decimal(fen).scaleb(-2))
days = st.integers(min_value=-5, max_value=800).map(lambda n: START + dt.timedelta(days=n))


def _step(loan: rules.LoanState, op: tuple[str, Decimal, dt.date], covered: bool) -> rules.Outcome:
    kind, amount, on = op
    if kind == "repay":
        return rules.repay(loan, revolving=True, covered=covered, principal=amount,
                           interest=ZERO, paid_on=on)  # fmt: skip
    if kind == "default":
        return rules.default(loan, on=on)
    if kind == "write_off":
        return rules.write_off(loan, covered=covered, amount=amount, on=on)
    return rules.recover(loan, amount=amount, on=on)


ops = st.lists(
    st.tuples(st.sampled_from(["repay", "default", "write_off", "recover"]), amounts, days),
    max_size=12,
)


@given(ops, st.booleans())
def test_a_loan_state_keeps_its_invariants_through_any_sequence(
    steps: list[tuple[str, Decimal, dt.date]], covered: bool
) -> None:
    """Whatever is asked: outstanding = principal − repaid − written off ≥ 0, recoveries within
    the write-off, the status follows the balance, a defaulted loan is non-performing; a refusal
    names a field and changes nothing; each accepted step records one event and moves the line's
    use (revolving) and the covered credit by exactly the principal it moved."""
    loan = _loan()
    for op in steps:
        try:
            outcome = _step(loan, op, covered)
        except rules.Refused as refusal:
            assert refusal.field and refusal.reason
            assert isinstance(refusal.error(), InvalidInput | Conflict)
            continue
        assert outcome.loan is not None and len(outcome.events) == 1
        new = outcome.loan
        moved = (new.repaid - loan.repaid) + (new.written_off - loan.written_off)
        assert outcome.covered == (-moved if covered else ZERO)
        assert outcome.line_used == -(new.repaid - loan.repaid)
        assert sum(e.amount for e in outcome.entries) == new.repaid - loan.repaid
        loan = new
        assert loan.outstanding == loan.principal - loan.repaid - loan.written_off >= 0
        assert ZERO <= loan.recovered <= loan.written_off
        assert loan.status == (
            "active" if loan.outstanding else "written_off" if loan.written_off else "closed"
        )
        if loan.defaulted_on is not None:
            assert loan.category in sched.NON_PERFORMING


@given(amounts, amounts, st.booleans(), st.booleans())
def test_a_reversed_repayment_restores_the_loan(
    principal: Decimal, interest: Decimal, revolving: bool, covered: bool
) -> None:
    loan = _loan()
    try:
        paid = rules.repay(loan, revolving=revolving, covered=covered, principal=principal,
                           interest=interest, paid_on=START)  # fmt: skip
    except rules.Refused:
        assert principal > loan.outstanding or principal == interest == 0
        return
    assert paid.loan is not None
    undone = rules.reverse(paid.loan, revolving=revolving, covered=covered, kind="repaid",
                           principal=principal, interest=interest, on=START)  # fmt: skip
    assert undone.loan == loan
    assert undone.line_used == -paid.line_used and undone.covered == -paid.covered
    assert [e.kind for e in undone.entries] == (["consume"] if revolving and principal else [])


def test_refusals_name_the_field_and_the_services_error() -> None:
    loan = _loan()
    args = {"revolving": False, "covered": False, "interest": ZERO}
    _refused(
        lambda: rules.repay(loan, principal=ZERO, paid_on=START, **args), "invalid", "principal"
    )  # type: ignore[arg-type]
    _refused(lambda: rules.repay(loan, principal=Decimal(1), paid_on=D(2024, 1, 1), **args),  # type: ignore[arg-type]
             "invalid", "paid_on")  # fmt: skip
    too_much = _refused(
        lambda: rules.repay(loan, principal=Decimal("1000.01"), paid_on=START, **args),  # type: ignore[arg-type]
        "invalid", "principal",
    )  # fmt: skip
    assert too_much.reason == "the repayment of 1000.01 exceeds the outstanding principal 1000.00"
    error = _refused(lambda: rules.write_off(loan, covered=False, amount=Decimal(1), on=START),
                     "conflict", "loan_id").error()  # fmt: skip
    assert isinstance(error, Conflict) and "has not defaulted" in str(error)
    closed = replace(loan, outstanding=ZERO, repaid=loan.principal, status="closed")
    _refused(lambda: rules.default(closed, on=START), "conflict", "loan_id")
    defaulted = rules.default(loan, on=START).loan
    assert defaulted is not None and defaulted.category == "substandard"
    _refused(lambda: rules.default(defaulted, on=START), "conflict", "on")
    bad = _refused(lambda: rules.write_off(defaulted, covered=False, amount=Decimal("2000.00"),
                                           on=START), "invalid", "amount")  # fmt: skip
    assert bad.reason == "a charge-off above the loan's principal: 2000.00 > 1000.00"
    _refused(lambda: rules.recover(loan, amount=Decimal(1), on=START), "invalid", "amount")


@given(st.integers(min_value=0, max_value=800), st.sampled_from([None, *sched.CATEGORIES]),
       st.booleans())  # fmt: skip
def test_classification_records_only_a_change_and_keeps_a_default_non_performing(
    dpd: int, floor: sched.Category | None, defaulted: bool
) -> None:
    loan = _loan(defaulted_on=START if defaulted else None)
    outcome = rules.classify(loan, as_of=START, days_past_due=dpd, floor=floor)
    assert outcome.loan is not None
    category = outcome.loan.category
    expected = sched.classify(dpd, sched.ClassificationRules(), floor)
    if defaulted:
        expected = max(expected, "substandard", key=sched.CATEGORIES.index)
    assert category == expected
    assert len(outcome.events) == (category != "pass")
    if outcome.events:
        assert dict(outcome.events[0].data) == {
            "category": category,
            "previous": "pass",
            "days_past_due": dpd,
        }
    _refused(lambda: rules.classify(loan, as_of=START, days_past_due=0, floor="bad"),
             "invalid", "floor")  # fmt: skip


def test_days_past_due_is_zero_once_repaid() -> None:
    schedule = sched.build_schedule(
        Decimal("1000.00"), Decimal("0.05"), START, 3, "equal_principal"
    )
    loan = _loan()
    assert rules.days_past_due(loan, schedule, [], D(2024, 3, 1)) == 15
    repaid = replace(loan, outstanding=ZERO, repaid=loan.principal, status="closed")
    assert rules.days_past_due(repaid, schedule, [], D(2024, 3, 1)) == 0


@given(amounts, amounts, st.one_of(st.none(), amounts))
def test_a_drawdown_stays_within_the_line_and_the_pool(
    principal: Decimal, used: Decimal, headroom: Decimal | None
) -> None:
    line = _line(used=used, limit=Decimal("1500.00"))
    pool = None if headroom is None else rules.PoolState("POOL", Decimal(100), 10, headroom)
    if principal == 0:
        return

    def draw() -> tuple[rules.NewLoan, rules.Outcome]:
        return rules.draw(line, 7, pool, principal=principal, drawn_on=START, external_ref="J-1",
                          months=6, method="equal_principal", day_count="ACT/360",
                          currency="CNY", ref_taken=False)  # fmt: skip

    if principal > line.limit - line.used:
        _refused(draw, "invalid", "amount")
        return
    if headroom is not None and principal > headroom:
        _refused(draw, "conflict", "line")
        return
    new, outcome = draw()
    assert sum(i.principal for i in new.schedule) == principal == new.state.outstanding
    assert outcome.line_used == principal and outcome.covered == (principal if pool else ZERO)
    assert [(e.account, e.kind, e.amount, e.source) for e in outcome.entries] == [
        ("credit_line", "consume", principal, "loan")
    ]
    assert dict(outcome.events[0].data) == {"credit_line_id": 7}


def test_drawdown_refusals_in_the_order_a_user_meets_them() -> None:
    base = {"principal": Decimal(100), "drawn_on": START, "external_ref": "J", "months": 6,
            "method": "equal_principal", "day_count": "ACT/360", "currency": "CNY",
            "ref_taken": False}  # fmt: skip
    for change, line, kind, field in [
        ({"method": "balloon"}, _line(), "invalid", "method"),
        ({"months": 0}, _line(), "invalid", "months"),
        ({}, _line(status="pending"), "conflict", "line"),
        ({"currency": "USD"}, _line(), "invalid", "currency"),
        ({"drawn_on": D(2023, 12, 31)}, _line(), "invalid", "drawn_on"),
        ({"ref_taken": True}, _line(), "conflict", "external_ref"),
        ({"day_count": "ACT/ACT"}, _line(), "invalid", "day_count"),
    ]:
        _refused(lambda: rules.draw(line, 1, None, **{**base, **change}), kind, field)  # type: ignore[arg-type]  # noqa: B023


def _spec(**more: object) -> lines.LineSpec:
    spec = lines.LineSpec(1, "LINE-9", 2, Decimal("500.00"), D(2024, 2, 1), D(2025, 2, 1),
                          Decimal("0.04"), commitment_id=3)  # fmt: skip
    return replace(spec, **more)  # type: ignore[arg-type]


def _facts(used: str = "0.00", **more: object) -> lines.LineFacts:
    commitment = lines.CommitmentState(
        "AG-1", "signed", 1, "CNY", None, D(2024, 1, 1), D(2024, 12, 31), Decimal(1000),
        Decimal(used),
    )  # fmt: skip
    facts = lines.LineFacts(enterprise=True, tech_field="ai", institution=True, ref_taken=False,
                            commitment=commitment)  # fmt: skip
    return replace(facts, **more)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=100_000).map(lambda f: Decimal(f).scaleb(-2)))
def test_a_commitment_never_promises_a_yuan_twice(used: Decimal) -> None:
    """Proposed then approved, or loaded: the commitment's use grows by the limit, through
    reserve → release + consume or one consume; never past its amount."""
    spec, limit = _spec(), Decimal("500.00")
    facts = _facts(str(used))
    if used + limit > Decimal("1000.00"):
        _refused(lambda: lines.propose_line(spec, limit, facts), "conflict", "commitment_id")
        _refused(lambda: lines.load_line(spec, limit, facts, None), "conflict", "commitment_id")
        return
    pending, proposed = lines.propose_line(spec, limit, facts)
    approved, decided = lines.approve_line(
        pending, maker="m", checker="c", checker_institution_id=1, has_commitment=True
    )
    loaded, historical = lines.load_line(spec, limit, facts, "APP-1")
    assert (pending.status, approved.status, loaded.status) == ("pending", "approved", "approved")
    assert proposed.commitment_used + decided.commitment_used == limit
    assert historical.commitment_used == limit
    kinds = [e.kind for e in proposed.entries + decided.entries]
    assert kinds == ["reserve", "release", "consume"]
    assert [e.kind for e in historical.entries] == ["consume"]
    assert dict(historical.events[0].data) == {"historical": True, "approval_ref": "APP-1"}
    rejected, undone = lines.approve_line(pending, maker="m", checker="c",
                                          checker_institution_id=None, has_commitment=True,
                                          approve=False)  # fmt: skip
    assert rejected.status == "rejected" and proposed.commitment_used + undone.commitment_used == 0


def test_new_line_refusals() -> None:
    limit = Decimal("500.00")
    for spec, facts, kind, field in [
        (_spec(matures_on=D(2024, 2, 1)), _facts(), "invalid", "matures_on"),
        (_spec(rate=Decimal(1)), _facts(), "invalid", "rate"),
        (_spec(), _facts(enterprise=False), "not_found", "enterprise"),
        (_spec(), _facts(institution=False), "not_found", "institution"),
        (_spec(), _facts(ref_taken=True), "conflict", "external_ref"),
        (_spec(product_id=4), _facts(product_nameable=False), "not_found", "product_id"),
        (_spec(risk_pool_id=5), _facts(pool_currency="CNY", pool_nameable=False), "not_found",
         "risk_pool_id"),
        (_spec(risk_pool_id=5), _facts(pool_currency="USD"), "invalid", "currency"),
        (_spec(), _facts(commitment=None), "not_found", "commitment_id"),
        (_spec(opens_on=D(2025, 1, 1), matures_on=D(2026, 1, 1)), _facts(), "invalid", "opens_on"),
    ]:  # fmt: skip
        error = _refused(lambda: lines.propose_line(spec, limit, facts), kind, field).error()  # noqa: B023
        assert isinstance(error, InvalidInput if kind == "invalid" else NotFound | Conflict)
    pending, _ = lines.propose_line(_spec(), limit, _facts())
    same = _refused(lambda: lines.approve_line(pending, maker="m", checker="m",
                                               checker_institution_id=None, has_commitment=True),
                    "forbidden", "checker").error()  # fmt: skip
    assert isinstance(same, Forbidden) and same.code == "same_maker_and_checker"
    _refused(lambda: lines.approve_line(pending, maker="m", checker="c", checker_institution_id=9,
                                        has_commitment=True), "forbidden", "checker")  # fmt: skip
