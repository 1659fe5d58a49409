"""Financial institutions and their products.

Institutions follow the programmes' make-up: banks first (head offices, provincial branches and
specialised sci-tech branches 科技支行), then VC/PE funds, guarantors, insurers, leasing,
micro-credit and securities firms, located where the zones are. Each offers products of the kinds
it can sell (loans by banks, equity by funds...), with amount, term and price ranges (LPR +
spread in basis points for loans, fixed percent for fees, premiums and coupons), an annual capacity,
an active period and eligibility in the shape of `registry.schemas.Eligibility`.
Loops here run per institution and per product: hundreds to a thousand iterations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.engine import StepInput, allocate, json_text
from innofin.demo.reference import (
    BANK_BRANDS,
    CITY_EN,
    INSTITUTION_MIX,
    PRODUCT_KINDS_BY_INSTITUTION,
    PRODUCT_TEMPLATES,
    PROVINCE_EN,
)
from innofin.kernel.codes import TechField

CODE_PREFIX = {
    "bank": "BK", "vc_pe": "VC", "guarantor": "GU", "insurer": "IN",
    "leasing": "LE", "micro_credit": "MC", "securities": "SE",
}  # fmt: skip
#: Relative number of products per institution role.
PRODUCT_WEIGHT = {"head": 3.0, "branch": 2.0, "tech_branch": 3.0, "securities": 2.0}
LOAN_KINDS = {"pure_credit_loan", "ip_pledge_loan", "points_loan", "venture_loan", "secured_loan"}


def make_institutions(inp: StepInput) -> Mapping[str, Any]:
    rng = inp.rng
    zone = inp.tables["zone"]
    provinces = zone["province"].unique(maintain_order=True).to_list()
    prov_weight = np.array([(zone["province"] == p).sum() for p in provinces], dtype=np.float64)
    cities = zone.select("city", "province").unique(maintain_order=True)
    city_weight = np.array([(zone["city"] == c).sum() for c in cities["city"]], dtype=np.float64)
    kinds = list(INSTITUTION_MIX)
    per_kind = allocate(inp.scale.institutions, np.array(list(INSTITUTION_MIX.values())), minimum=1)
    banks = int(per_kind[0])
    heads = min(len(BANK_BRANDS), max(1, round(banks * 0.12)))
    tech = max(1, round((banks - heads) * 0.45))
    branches = banks - heads - tech

    rows: list[dict[str, Any]] = []

    def add(kind: str, name: str, name_en: str, regions: list[str], **extra: Any) -> int:
        number = sum(1 for r in rows if r["kind"] == kind) + 1
        rows.append(
            {
                "id": len(rows) + 1,
                "code": f"DEMO-{CODE_PREFIX[kind]}{number:03d}",
                "name": name,
                "name_en": name_en,
                "kind": kind,
                "parent_id": extra.get("parent_id"),
                "is_tech_branch": extra.get("tech", False),
                "regions_served": json_text(regions),
                "role": extra.get("role", kind),
                "province": regions[0] if len(regions) == 1 else None,
            }
        )
        return len(rows)

    head_ids = [
        add("bank", f"{BANK_BRANDS[h][0]}银行", f"{BANK_BRANDS[h][1]} Bank", provinces, role="head")
        for h in range(heads)
    ]
    branch_of: dict[tuple[int, str], int] = {}
    for h, count in enumerate(allocate(branches, np.ones(heads))):
        take = min(int(count), len(provinces))
        chosen = rng.choice(
            len(provinces), size=take, replace=False, p=prov_weight / prov_weight.sum()
        )
        for p in sorted(chosen):
            zh, en = BANK_BRANDS[h]
            province = provinces[p]
            branch_of[(h, province)] = add(
                "bank", f"{zh}银行{province}分行", f"{en} Bank, {PROVINCE_EN[province]} branch",
                [province], parent_id=head_ids[h], role="branch",
            )  # fmt: skip
    for k in range(tech):
        h = k % heads
        c = int(rng.choice(cities.height, p=city_weight / city_weight.sum()))
        city, province = cities["city"][c], cities["province"][c]
        zh, en = BANK_BRANDS[h]
        parent = branch_of.get((h, province), head_ids[h])
        add(
            "bank", f"{zh}银行{city}科技支行{k + 1}",
            f"{en} Bank, {CITY_EN[city]} sci-tech sub-branch {k + 1}",
            [province], parent_id=parent, tech=True, role="tech_branch",
        )  # fmt: skip
    names = {
        "vc_pe": ("示例{city}科创投资基金{k}号", "Demo {city} sci-tech venture fund No. {k}"),
        "guarantor": (
            "示例{province}科技融资担保有限公司{k}",
            "Demo {province} tech guarantee co. {k}",
        ),
        "insurer": ("示例{city}科技保险公司{k}", "Demo {city} tech insurance co. {k}"),
        "leasing": ("示例{city}科技融资租赁有限公司{k}", "Demo {city} tech leasing co. {k}"),
        "micro_credit": (
            "示例{city}科技小额贷款有限公司{k}",
            "Demo {city} tech micro-credit co. {k}",
        ),
        "securities": ("示例{city}证券股份有限公司{k}", "Demo {city} securities co. {k}"),
    }
    for kind, count in zip(kinds[1:], per_kind[1:], strict=True):
        for k in range(1, int(count) + 1):
            c = int(rng.choice(cities.height, p=city_weight / city_weight.sum()))
            city, province = cities["city"][c], cities["province"][c]
            zh, en = names[kind]
            national = kind == "securities" or (kind == "vc_pe" and rng.random() < 0.3)
            add(
                kind, zh.format(city=city, province=province, k=k),
                en.format(city=CITY_EN[city], province=PROVINCE_EN[province], k=k),
                provinces if national else [province],
            )  # fmt: skip
    frame = pl.DataFrame(rows, schema_overrides={"parent_id": pl.Int64, "province": pl.String})
    roles = frame.select("id", "role", "province")
    return {"institution": frame.drop("role", "province"), "_institution_roles": roles}


def make_products(inp: StepInput) -> Mapping[str, Any]:
    rng, last_year = inp.rng, inp.scale.years[-1]
    inst = inp.tables["institution"]
    roles = inp.extras["_institution_roles"]
    zone = inp.tables["zone"]
    zones_in = {
        p: zone.filter(pl.col("province") == p)["code"].to_list()
        for p in zone["province"].unique(maintain_order=True)
    }
    weight = np.array([PRODUCT_WEIGHT.get(r, 1.0) for r in roles["role"]])
    per_inst = allocate(inp.scale.products, weight, minimum=1)
    rows: list[dict[str, Any]] = []
    for i, count in enumerate(per_inst):
        kinds = PRODUCT_KINDS_BY_INSTITUTION[inst["kind"][i]]
        local = zones_in.get(roles["province"][i] or "", [])
        for j in range(int(count)):  # the first products cover every kind the institution sells
            kind = kinds[j] if j < len(kinds) else kinds[int(rng.integers(len(kinds)))]
            rows.append(
                _product(rng, len(rows) + 1, i + 1, inst["name"][i], kind, local, last_year)
            )
    schema = {
        "term_min_months": pl.Int64, "term_max_months": pl.Int64, "rate_type": pl.String,
        "rate_min": pl.Int64, "rate_max": pl.Int64, "active_until": pl.Date,
        "risk_sharing_tag": pl.String,
    }  # fmt: skip
    return {"product": pl.DataFrame(rows, schema_overrides=schema)}


def _snap(value: float, step: int) -> int:
    return round(float(value) / step) * step


def _round_to(value: float, step: int) -> int:
    """Round an amount to `step` yuan, never below one step."""
    return max(step, _snap(value, step))


def _product(
    rng: np.random.Generator,
    pid: int,
    institution_id: int,
    institution_name: str,
    kind: str,
    local_zones: list[str],
    last_year: int,
) -> dict[str, Any]:
    t = PRODUCT_TEMPLATES[kind]
    amount_min = int(rng.choice(t.amount_min))
    lo, hi = t.amount_max
    amount_max = max(amount_min, _round_to(np.exp(rng.uniform(np.log(lo), np.log(hi))), 100_000))
    term_min = term_max = None
    if t.term is not None:
        term_min = t.term[0]
        usual = [m for m in (12, 24, 36, 48, 60, 84) if t.term[0] <= m <= t.term[1]]
        term_max = int(rng.choice(usual or [t.term[1]]))
    rate_type = rate_min = rate_max = None
    if t.rate is not None:
        rate_type, r_lo, r_hi = t.rate
        low = min(r_hi, _snap(rng.uniform(r_lo, (r_lo + r_hi) / 2), 5))
        high = min(r_hi, max(low, _snap(rng.uniform(low, r_hi), 5)))
        # Quantity columns carry 1/10,000 units: spreads are bps; fixed rates are in 1/100 %.
        per_unit = 10_000 if rate_type == "lpr_spread" else 100
        rate_min, rate_max = low * per_unit, high * per_unit
    deals = t.deals_per_year * rng.lognormal(0.0, 0.5)
    capacity = _round_to(amount_max * deals * 0.4, 10_000)
    start = np.datetime64(
        f"{int(rng.integers(2020, last_year + 1))}-{int(rng.integers(1, 13)):02d}-01"
    )
    active_from = start.astype("datetime64[D]").item()
    active_until = None
    if rng.random() < 0.5:
        end = (start.astype("datetime64[M]") + 36).astype("datetime64[D]") - 1
        active_until = end.item()
    tag = None
    if kind == "guarantee":
        tag = "zone_pool"
    elif kind in LOAN_KINDS and rng.random() < 0.5:
        tag = str(rng.choice(["provincial_pool", "zone_pool"]))
    return {
        "id": pid,
        "code": f"DEMO-P{pid:04d}",
        "institution_id": institution_id,
        "name": f"{institution_name}·{t.name_zh}{pid}",
        "kind": kind,
        "financing_mode": t.mode,
        "amount_min": amount_min * 100,
        "amount_max": amount_max * 100,
        "term_min_months": term_min,
        "term_max_months": term_max,
        "rate_type": rate_type,
        "rate_min": rate_min,
        "rate_max": rate_max,
        "collateral": str(rng.choice(t.collateral)),
        "eligibility": json_text(_eligibility(rng, kind, local_zones)),
        "annual_capacity": capacity * 100,
        "active_from": active_from,
        "active_until": active_until,
        "risk_sharing_tag": tag,
    }


def _eligibility(rng: np.random.Generator, kind: str, local_zones: list[str]) -> dict[str, Any]:
    """Conditions in the JSON shape of `registry.schemas.Eligibility.to_json()`."""
    doc: dict[str, Any] = {}
    fields = [f.value for f in TechField]
    if kind in ("venture_loan", "equity_investment"):
        doc["stages"] = ["startup", "growth"] if rng.random() < 0.6 else ["growth"]
        doc["fields"] = sorted(
            rng.choice(fields, size=int(rng.integers(1, 4)), replace=False).tolist()
        )
    elif kind == "bond":
        doc["stages"] = ["stable"]
        doc["revenue_min"] = "200000000.00"
    elif kind == "points_loan":
        doc["min_points"] = str(int(rng.choice([60, 65, 70, 75, 80])))
    elif kind in ("pure_credit_loan", "ip_pledge_loan"):
        if rng.random() < 0.6:
            doc["stages"] = ["growth", "stable"]
        if rng.random() < 0.5:
            doc["revenue_min"] = f"{int(rng.choice([1, 5, 10])) * 1_000_000}.00"
    if kind in LOAN_KINDS and "required_certifications" not in doc:
        draw = rng.random()
        if draw < 0.35:
            doc["required_certifications"] = ["hnte"]
        elif draw < 0.6:
            doc["required_certifications"] = ["tech_sme"]
    if local_zones and rng.random() < 0.6:
        doc["zones"] = sorted(local_zones)
    order = ["min_points", "fields", "stages", "zones", "required_certifications", "revenue_min"]
    return {k: doc[k] for k in order if k in doc}
