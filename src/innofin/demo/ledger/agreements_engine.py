"""Agreements of the three programmes, their commitments, and each line's programme,
commitment and pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from innofin.demo.ledger.dates_engine import day_of
from innofin.demo.ledger.params import COMMITTED_P2, MILLION, POOL_COVER, Array, Cols
from innofin.demo.ledger.world_engine import Plan, World
from innofin.demo.reference import FIELDS


@dataclass(frozen=True)
class Agreement:
    kind: str
    programme: int  # 0-based
    bank: int  # bank row
    counterparty: str
    zone: int  # zone index or -1
    signed: int
    periods: tuple[tuple[int, int], ...]
    by_field: bool


def _agreements(w: World, plan: Plan) -> list[Agreement]:
    last, s = w.last_year, plan.starts

    def yearly(first: int, first_year: int, last_year: int) -> tuple[tuple[int, int], ...]:
        head = ((first, day_of(first_year, 12, 31)),)
        rest = tuple(
            (day_of(y, 1, 1), day_of(y, 12, 31)) for y in range(first_year + 1, last_year + 1)
        )
        return head + rest

    province = w.provinces[plan.province]
    found = [
        Agreement(
            "government_bank", 0, plan.lead_head, "示例国家科技金融服务中心", -1, s[0],
            yearly(s[0], last - 3, last + 1), False,
        )
    ]  # fmt: skip
    found += [
        Agreement(
            "zone_bank", 0, int(bank), f"{w.zone_name[zone]}管委会", int(zone), plan.centre_signed,
            yearly(plan.centre_signed, last - 2, last + 1), False,
        )
        for zone, bank in zip(plan.centres, plan.centre_banks, strict=True)
    ]  # fmt: skip
    found += [
        Agreement(
            "government_bank", 1, int(bank), f"示例{province}科学技术厅", -1, s[1],
            yearly(s[1], last - 1, last), True,
        )
        for bank in plan.province_banks
    ]  # fmt: skip
    found.append(
        Agreement(
            "zone_bank", 2, plan.zone_bank, f"{w.zone_name[plan.zone]}管委会", plan.zone, s[2],
            yearly(s[2], last - 2, last), False,
        )
    )  # fmt: skip
    return found


def assign(rng: np.random.Generator, w: World, plan: Plan, lines: Cols) -> list[Agreement]:
    """Each line's programme, agreement commitment (agreement, field, period) and pool."""
    ent, bank, opens = lines["enterprise"], lines["bank"], lines["opens"]
    zone = w.zone[ent]
    s, e = plan.starts, plan.ends
    p3 = (bank == plan.zone_bank) & (zone == plan.zone) & (opens >= s[2]) & (opens <= e[2])
    p2 = (
        ~p3
        & np.isin(bank, plan.province_banks)
        & (w.ent_province[ent] == plan.province)
        & (opens >= s[1])
        & (opens <= e[1])
    )
    p1 = (
        ~p3
        & ~p2
        & (w.bank_brand[bank] == plan.lead_brand)
        & np.isin(zone, plan.national_zones)
        & (opens >= s[0])
        & (opens <= e[0])
    )
    programme = np.select([p1, p2, p3], [0, 1, 2], -1)
    lines["programme"] = programme
    agreements = _agreements(w, plan)
    agreement = np.full(opens.size, -1)
    for k, (z, b) in enumerate(zip(plan.centres, plan.centre_banks, strict=True)):
        agreement[p1 & (zone == z) & (bank == b) & (opens >= plan.centre_signed)] = 1 + k
    agreement[p1 & (agreement < 0) & (bank == plan.lead_head)] = 0
    first_p2 = 1 + plan.centres.size
    by_bank = np.full(w.bank_id.size, -1)
    by_bank[plan.province_banks] = first_p2 + np.arange(plan.province_banks.size)
    committed = p2 & (rng.random(opens.size) < COMMITTED_P2)
    agreement[committed] = by_bank[bank[committed]]
    agreement[p3] = len(agreements) - 1
    period = np.full(opens.size, -1)
    for a, spec in enumerate(agreements):  # one step per agreement
        rows = agreement == a
        starts = np.array([p[0] for p in spec.periods])
        period[rows] = np.searchsorted(starts, opens[rows], "right") - 1
    by_field = np.array([a.by_field for a in agreements] + [False])
    lines["agreement"] = agreement
    lines["commitment_field"] = np.where(by_field[agreement], w.field[ent], -1)
    lines["period"] = period
    cover = np.array(POOL_COVER)[np.maximum(programme, 0)]
    lines["pool"] = np.where((programme >= 0) & (rng.random(opens.size) < cover), programme, -1)
    return agreements


def _commitment_code(agreement: Array, field: Array, period: Array) -> Array:
    result: Array = (np.asarray(agreement) * 100 + np.asarray(field) + 1) * 100 + period
    return result


def make_commitments(
    rng: np.random.Generator, agreements: Sequence[Agreement], lines: Cols, as_of: int
) -> Cols:
    """Commitment rows (agreement × field × period) sized on the lines they carry; the line's
    ``commitment`` (row index or -1)."""
    rows: list[tuple[int, int, int, int, int]] = []
    for a, spec in enumerate(agreements):
        for f in range(len(FIELDS)) if spec.by_field else (-1,):
            rows += [(a, f, p, start, end) for p, (start, end) in enumerate(spec.periods)]
    table = np.array(rows, dtype=np.int64).reshape(-1, 5)
    code = _commitment_code(table[:, 0], table[:, 1], table[:, 2])
    on = lines["agreement"] >= 0
    line_code = _commitment_code(lines["agreement"], lines["commitment_field"], lines["period"])
    index = np.where(on, np.searchsorted(code, line_code), -1)
    if not (code[index[on]] == line_code[on]).all():
        raise AssertionError("a line's commitment is missing")
    lines["commitment"] = index
    used = np.bincount(index[on], weights=lines["limit"][on], minlength=code.size).astype(np.int64)
    headroom = rng.uniform(0.70, 0.95, size=code.size)
    amount = np.maximum(np.ceil(used / headroom / MILLION), 10).astype(np.int64) * MILLION
    for i in range(1, code.size):  # a future period is promised 20 % more than the one before
        same = table[i, 0] == table[i - 1, 0] and table[i, 1] == table[i - 1, 1]
        if same and table[i, 3] > as_of:
            amount[i] = -(-amount[i - 1] * 12 // (10 * MILLION)) * MILLION
    return {
        "agreement": table[:, 0], "field": table[:, 1], "start": table[:, 3],
        "end": table[:, 4], "amount": amount, "used": used,
    }  # fmt: skip
