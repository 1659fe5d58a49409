"""Disclosure control of anonymous aggregates: the rule, its settings and secondary suppression,
checked against its definition on random cells."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from innofin.kernel.disclosure import CellStats, DisclosureRule, disclosable, protect
from innofin.kernel.errors import InvalidInput
from innofin.kernel.settings import Settings

AMOUNTS = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e10"), places=2, allow_nan=False
)
SHARES = st.decimals(min_value=Decimal("0.05"), max_value=Decimal(1), places=2)


@st.composite
def rules(draw: st.DrawFn) -> DisclosureRule:
    first, second = sorted((draw(SHARES), draw(SHARES)))
    return DisclosureRule(draw(st.integers(1, 12)), first, second)


@given(values=st.lists(AMOUNTS, max_size=15), rule=rules())
def test_a_shown_cell_has_enough_contributors_and_none_dominates(
    values: list[Decimal], rule: DisclosureRule
) -> None:
    shown = disclosable(CellStats.of(values), rule)
    sizes = [abs(v) for v in values]
    total = sum(sizes, Decimal(0))
    dominated = any(s >= rule.top1_share * total for s in sizes) or any(
        a + b >= rule.top2_share * total for a, b in itertools.combinations(sizes, 2)
    )
    # the definition, read directly off every contributor and every pair of them
    assert shown == (len(values) >= rule.min_contributors and total > 0 and not dominated)


@given(value=AMOUNTS, rule=rules())
def test_one_contributor_is_never_shown_whatever_the_rule(
    value: Decimal, rule: DisclosureRule
) -> None:
    assert not disclosable(CellStats.of([value]), rule)


@given(values=st.lists(AMOUNTS, min_size=1, max_size=15), rule=rules(), data=st.data())
def test_the_order_of_contributors_does_not_matter(
    values: list[Decimal], rule: DisclosureRule, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(values))
    assert CellStats.of(values) == CellStats.of(shuffled)
    assert disclosable(CellStats.of(values), rule) == disclosable(CellStats.of(shuffled), rule)


def test_the_default_rule() -> None:
    rule = DisclosureRule()
    assert (rule.min_contributors, rule.top1_share, rule.top2_share) == (
        5,
        Decimal("0.6"),
        Decimal("0.8"),
    )
    even = [Decimal(100)] * 5
    assert disclosable(CellStats.of(even), rule)
    assert not disclosable(CellStats.of(even[:4]), rule)  # four contributors
    assert not disclosable(CellStats.of([Decimal(700), *[Decimal(100)] * 4]), rule)  # 64 %
    assert not disclosable(CellStats.of([Decimal(450), Decimal(400), *[Decimal(50)] * 3]), rule)
    assert not disclosable(CellStats.of([Decimal(0)] * 6), rule)  # all zero: each is known


CELLS = st.dictionaries(
    st.sampled_from("ABCDEFGHIJ"),
    st.lists(st.decimals(min_value=1, max_value=Decimal("1e6"), places=2), max_size=8),
    max_size=10,
)


@given(cells=CELLS, rule=rules(), data=st.data())
def test_no_hidden_cell_can_be_had_by_subtraction(
    cells: dict[str, list[Decimal]], rule: DisclosureRule, data: st.DataObject
) -> None:
    keys = sorted(cells)
    groups = (
        data.draw(st.lists(st.lists(st.sampled_from(keys), unique=True), max_size=3))
        if keys
        else []
    )
    stats = {k: CellStats.of(v) for k, v in cells.items()}
    out = protect(stats, rule, groups)
    assert set(out) == set(cells)
    hidden = {k for k, total in out.items() if total is None}
    for key, total in out.items():
        if not disclosable(stats[key], rule):
            assert key in hidden  # primary suppression is kept
        if total is not None:
            assert total == stats[key].total  # shown totals are exact
    # neither in the whole table nor in a group whose total is shown elsewhere is a hidden cell
    # alone (unless it is the only cell there, whose total is then hidden by the same rule)
    for members in [keys, *groups]:
        alone = [k for k in members if k in hidden]
        assert len(alone) != 1 or len(members) == 1, (members, hidden)


def test_settings_read_the_rule_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNOFIN_DISCLOSURE_MIN_CONTRIBUTORS", "10")
    monkeypatch.setenv("INNOFIN_DISCLOSURE_TOP1_SHARE", "0.5")
    monkeypatch.setenv("INNOFIN_DISCLOSURE_TOP2_SHARE", "0.7")
    assert Settings.from_env().disclosure == DisclosureRule(10, Decimal("0.5"), Decimal("0.7"))
    for name, value in (
        ("INNOFIN_DISCLOSURE_MIN_CONTRIBUTORS", "0"),
        ("INNOFIN_DISCLOSURE_TOP1_SHARE", "60%"),
        ("INNOFIN_DISCLOSURE_TOP1_SHARE", "1.5"),
        ("INNOFIN_DISCLOSURE_TOP2_SHARE", "0.4"),  # below the top-1 share
    ):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            with pytest.raises(InvalidInput, match=name):
                Settings.from_env()
