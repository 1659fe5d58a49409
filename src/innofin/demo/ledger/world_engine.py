"""What the ledger starts from: enterprises, zones, banks and products as arrays (`World`), and who
takes part in the three programmes (`Plan`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from innofin.demo.engine import StepInput, day_number
from innofin.demo.ledger.dates_engine import day_of
from innofin.demo.ledger.params import (
    CENTRES,
    FEN,
    HISTORY_YEARS,
    LOAN_PRODUCTS,
    NATIONAL_REFERENCE_ENTERPRISES,
    NATIONAL_ZONE_SHARE,
    PROVINCE_BANKS,
    Array,
)
from innofin.demo.reference import FIELDS


@dataclass(frozen=True)
class World:
    as_of: int
    first_year: int
    last_year: int
    # enterprises (0-based)
    stage: Array
    field: Array
    founded: Array
    zone: Array
    revenue: Array  # latest reported revenue, yuan (float)
    provinces: list[str]
    ent_province: Array
    field_codes: list[str]
    # zones (0-based)
    zone_province: Array
    zone_size: Array
    zone_level: Array
    zone_city: Array
    zone_name: Array
    # banks: rows of the institution table that are banks
    bank_id: Array  # local institution ids
    bank_role: Array
    bank_province: Array  # province index, -1 for head offices
    bank_brand: Array  # local id of the head office
    bank_name: Array
    # loan products
    product_id: Array
    product_bank: Array  # local institution id
    product_kind: Array
    product_spread: Array  # (low, high) basis points

    @property
    def years(self) -> Array:
        return np.arange(self.first_year, self.last_year + 1)

    @property
    def scale_factor(self) -> float:
        return self.stage.size / NATIONAL_REFERENCE_ENTERPRISES


def make_world(inp: StepInput) -> World:
    firm = inp.extras["_firm"]
    ent, zone = inp.tables["enterprise"], inp.tables["zone"]
    inst, roles = inp.tables["institution"], inp.extras["_institution_roles"]
    reports = inp.tables["indicator_report"]
    n = ent.height
    latest = (
        reports.sort("enterprise_id", "year")
        .group_by("enterprise_id", maintain_order=True)
        .agg(pl.col("revenue").drop_nulls().last())
    )
    revenue = np.full(n, 3e6)
    ids = latest["enterprise_id"].to_numpy() - 1
    values = latest["revenue"].to_numpy(allow_copy=True)
    ok = ~np.isnan(values.astype(np.float64))
    revenue[ids[ok]] = np.clip(values[ok].astype(np.float64) / FEN, 2e5, 2e10)
    provinces = zone["province"].unique(maintain_order=True).to_list()
    index = {p: i for i, p in enumerate(provinces)}
    zone_province = np.array([index[p] for p in zone["province"]], dtype=np.int64)
    zone_size = np.bincount(firm["zone"], minlength=zone.height)

    banks = inst.with_columns(roles["role"], roles["province"]).filter(pl.col("kind") == "bank")
    parent = dict(zip(inst["id"].to_list(), inst["parent_id"].to_list(), strict=True))
    brand = []
    for bid in banks["id"].to_list():  # one step per bank: the head office at the top
        while parent.get(bid) is not None:
            bid = parent[bid]
        brand.append(bid)
    product = inp.tables["product"].filter(pl.col("kind").is_in(list(LOAN_PRODUCTS)))
    low = product["rate_min"].fill_null(200_000).to_numpy() // 10_000
    high = product["rate_max"].fill_null(1_500_000).to_numpy() // 10_000
    return World(
        as_of=day_number(inp.scale.as_of),
        first_year=inp.scale.as_of.year - HISTORY_YEARS + 1,
        last_year=inp.scale.as_of.year,
        stage=np.asarray(firm["stage"], dtype=np.int64),
        field=np.asarray(firm["field"], dtype=np.int64),
        founded=np.asarray(firm["founded"], dtype=np.int64),
        zone=np.asarray(firm["zone"], dtype=np.int64),
        revenue=revenue,
        provinces=provinces,
        ent_province=zone_province[firm["zone"]],
        field_codes=[f.value for f in FIELDS],
        zone_province=zone_province,
        zone_size=zone_size,
        zone_level=zone["level"].to_numpy(),
        zone_city=zone["city"].to_numpy(),
        zone_name=zone["name_zh"].to_numpy(),
        bank_id=banks["id"].to_numpy(),
        bank_role=banks["role"].to_numpy(),
        bank_province=np.array(
            [
                -1 if role == "head" else index.get(province or "", -2)
                for role, province in banks.select("role", "province").iter_rows()
            ],
            dtype=np.int64,
        ),
        bank_brand=np.array(brand, dtype=np.int64),
        bank_name=banks["name"].to_numpy(),
        product_id=product["id"].to_numpy(),
        product_bank=product["institution_id"].to_numpy(),
        product_kind=product["kind"].to_numpy(),
        product_spread=np.stack([low, np.maximum(low, high)], axis=1),
    )


def pick(
    rng: np.random.Generator, group: Array, choices: Mapping[int, tuple[Array, Array]]
) -> Array:
    """For each row, one of its group's options drawn by weight (one draw per group)."""
    out = np.full(group.size, -1, dtype=np.int64)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for part in np.split(order, bounds):
        if part.size == 0:
            continue
        options, weights = choices[int(group[part[0]])]
        if options.size:
            out[part] = options[rng.choice(options.size, size=part.size, p=weights / weights.sum())]
    return out


# --------------------------------------------------------------------------- the programmes


@dataclass(frozen=True)
class Plan:
    """Who takes part in the three programmes (zone indices, bank rows) and when."""

    lead_head: int  # bank row of the national initiative's bank (its head office)
    lead_brand: int  # the head office's local institution id
    national_zones: Array
    centres: Array  # zones with an innovation centre (a zone–bank agreement)
    centre_banks: Array
    province: int
    province_zones: Array
    province_banks: Array
    zone: int
    zone_bank: int
    starts: tuple[int, int, int]
    ends: tuple[int, int, int]
    centre_signed: int


def make_plan(w: World) -> Plan:
    last = w.last_year
    lead_head = int(np.flatnonzero(w.bank_role == "head")[0])
    lead_brand = int(w.bank_id[lead_head])
    national = w.zone_level == "national"
    order = np.lexsort((-w.zone_size, ~national))  # national zones first, the largest first
    joined = np.sort(order[: max(1, int(np.ceil(NATIONAL_ZONE_SHARE * w.zone_size.size)))])
    centres = joined[np.argsort(-w.zone_size[joined], kind="stable")][:CENTRES]
    lead_rows = np.flatnonzero(w.bank_brand == lead_brand)
    centre_banks = np.array([_local_bank(w, lead_rows, int(z)) for z in centres], dtype=np.int64)
    # the province with most enterprises among those with a bank of their own (a branch)
    firms = np.bincount(w.ent_province, minlength=len(w.provinces)).astype(np.float64)
    local = np.isin(np.arange(len(w.provinces)), w.bank_province[w.bank_province >= 0])
    province = int(np.argmax(np.where(local, firms, firms - firms.sum() - 1)))
    province_zones = np.flatnonzero(w.zone_province == province)
    rank = np.array([{"tech_branch": 0, "branch": 1}.get(r, 2) for r in w.bank_role])
    serving = np.flatnonzero((w.bank_province == province) | (w.bank_province == -1))
    serving = serving[np.lexsort((serving, rank[serving]))]
    zone = int(province_zones[np.argmax(w.zone_size[province_zones])])
    return Plan(
        lead_head=lead_head,
        lead_brand=lead_brand,
        national_zones=joined,
        centres=centres,
        centre_banks=centre_banks,
        province=province,
        province_zones=province_zones,
        province_banks=np.sort(serving[:PROVINCE_BANKS]),
        zone=zone,
        zone_bank=_local_bank(w, np.arange(w.bank_id.size), zone),
        starts=(day_of(last - 3, 9, 15), day_of(last - 1, 7, 1), day_of(last - 2, 3, 1)),
        ends=(day_of(last + 1, 12, 31), day_of(last, 12, 31), day_of(last, 12, 31)),
        centre_signed=day_of(last - 2, 1, 20),
    )


def _local_bank(w: World, rows: Array, zone: int) -> int:
    """Of the bank rows `rows`, the one nearest `zone`: a sci-tech branch in its city, then one
    in its province, a branch in its province, else a head office."""
    in_province = rows[w.bank_province[rows] == w.zone_province[zone]]
    tech = in_province[w.bank_role[in_province] == "tech_branch"]
    in_city = np.array([r for r in tech if str(w.zone_city[zone]) in str(w.bank_name[r])])
    branch = in_province[w.bank_role[in_province] == "branch"]
    heads = rows[w.bank_role[rows] == "head"]
    for found in (in_city, tech, branch, heads):
        if found.size:
            return int(found[0])
    return int(np.flatnonzero(w.bank_role == "head")[0])
