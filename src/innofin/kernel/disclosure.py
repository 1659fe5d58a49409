"""Disclosure control of anonymous aggregates (统计披露控制): which cells' sums may be shown.

Statistical offices publish a sum only when no contributor can be recognised in it. A cell's
value is shown only when

* at least `DisclosureRule.min_contributors` contributors (enterprises, institutions) *have the
  value* that year — an enterprise in the cell that did not report it does not count;
* no contributor dominates it: the largest contributor holds less than `top1_share` of the cell's
  total and the largest two less than `top2_share` (the (n, k) dominance rule; magnitudes, so a
  negative value cannot hide a dominant one); a total of zero is not shown either (it would tell
  that every contributor has zero).

Then **secondary suppression**: a cell hidden alone among cells whose total is known (the whole
table, whose grand total another grouping shows; or the zones of one province, whose total the
province grouping shows) could be had by subtraction, so the shown cell with the smallest total
in that set is hidden too, until no set has exactly one hidden cell.

Everything here is pure: the aggregate endpoints compute each cell's `CellStats` (in SQL or from
a list of values) and ask `protect` which totals to show.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

#: defaults: at least 5 contributors; the largest below 60 % of the total, the largest two
#: below 80 % (settings: INNOFIN_DISCLOSURE_MIN_CONTRIBUTORS, …_TOP1_SHARE, …_TOP2_SHARE)
MIN_CONTRIBUTORS = 5
TOP1_SHARE = Decimal("0.6")
TOP2_SHARE = Decimal("0.8")
ZERO = Decimal(0)


@dataclass(frozen=True)
class DisclosureRule:
    min_contributors: int = MIN_CONTRIBUTORS
    top1_share: Decimal = TOP1_SHARE
    top2_share: Decimal = TOP2_SHARE

    def __post_init__(self) -> None:
        if self.min_contributors < 1:
            raise ValueError(f"min_contributors must be at least 1, not {self.min_contributors}")
        if not ZERO < self.top1_share <= self.top2_share <= 1:
            raise ValueError(
                "the dominance shares must satisfy 0 < top1 <= top2 <= 1, not "
                f"top1 {self.top1_share}, top2 {self.top2_share}"
            )


@dataclass(frozen=True)
class CellStats:
    """What the rule reads of one cell's value: the contributors that have it, their sum, the
    sum of their magnitudes and the two largest magnitudes."""

    contributors: int
    total: Decimal
    magnitude: Decimal
    top1: Decimal
    top2: Decimal

    @classmethod
    def of(cls, values: Iterable[Decimal]) -> CellStats:
        """The stats of one value per contributor (a contributor's several values summed
        first)."""
        listed = list(values)
        sizes = sorted((abs(v) for v in listed), reverse=True)
        return cls(
            contributors=len(listed),
            total=sum(listed, ZERO),
            magnitude=sum(sizes, ZERO),
            top1=sizes[0] if sizes else ZERO,
            top2=sizes[1] if len(sizes) > 1 else ZERO,
        )


def disclosable(cell: CellStats, rule: DisclosureRule) -> bool:
    """Whether the cell's total may be shown on its own (primary suppression)."""
    if cell.contributors < rule.min_contributors or cell.magnitude <= 0:
        return False
    if cell.top1 >= rule.top1_share * cell.magnitude:
        return False
    return cell.top1 + cell.top2 < rule.top2_share * cell.magnitude


def protect(
    cells: Mapping[K, CellStats],
    rule: DisclosureRule,
    groups: Sequence[Iterable[K]] = (),
) -> dict[K, Decimal | None]:
    """Each cell's total, or None where it must stay hidden.

    `cells` is one table (every cell of one grouping): its grand total is taken as known.
    `groups` are further sets of its cells whose total is published elsewhere (the zones of a
    province). In the table and in each group, a lone hidden cell takes the shown cell with the
    smallest total (then the first key) with it.
    """
    hidden = {key for key, cell in cells.items() if not disclosable(cell, rule)}
    sets = [list(cells), *(list(g) for g in groups)]
    changed = True
    while changed:
        changed = False
        for members in sets:
            if sum(1 for key in members if key in hidden) != 1:
                continue
            shown = [key for key in members if key not in hidden]
            if not shown:
                continue
            hidden.add(min(shown, key=lambda key: abs(cells[key].total)))
            changed = True
    return {key: None if key in hidden else cell.total for key, cell in cells.items()}
