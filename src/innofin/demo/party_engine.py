"""Organisations (the parties on the platform) and a few demo users with roles.

Government: a national programme office and one science & technology department per province
with zones (its jurisdiction: `province`); one organisation per zone (its management committee)
and per institution; and a sample of enterprises (by default 1 %, at least 10, at most 5,000) —
the firms that have signed up.
Users have no password (``password_hash`` is NULL): they exist to show roles, not to log in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.engine import StepInput

MIN_ENTERPRISE_ORGS, MAX_ENTERPRISE_ORGS = 10, 5_000
USERS_PER_KIND = 3


def make_organisations(inp: StepInput) -> Mapping[str, Any]:
    rng, scale = inp.rng, inp.scale
    zone, inst, ent = inp.tables["zone"], inp.tables["institution"], inp.tables["enterprise"]
    provinces = zone["province"].unique(maintain_order=True).to_list()
    wanted = round(scale.enterprises * scale.enterprise_org_share)
    sample = min(ent.height, max(MIN_ENTERPRISE_ORGS, min(MAX_ENTERPRISE_ORGS, wanted)))
    chosen = np.sort(rng.choice(ent.height, size=sample, replace=False))

    gov_names = ["示例国家科技金融服务中心"] + [f"示例{p}科学技术厅" for p in provinces]
    parts = [
        pl.DataFrame(
            {"kind": "government", "name": gov_names, "province": [None, *provinces]},
            schema_overrides={"province": pl.String},
        ),
        pl.DataFrame({"kind": "zone", "name": zone["name_zh"] + "管委会", "zone_id": zone["id"]}),
        pl.DataFrame({"kind": "institution", "name": inst["name"], "institution_id": inst["id"]}),
        pl.DataFrame(
            {"kind": "enterprise", "name": ent["name"][chosen], "enterprise_id": ent["id"][chosen]}
        ),
    ]
    org = pl.concat(parts, how="diagonal_relaxed").select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("id"),
        "kind",
        "name",
        *(pl.col(c).cast(pl.Int64) for c in ("zone_id", "institution_id", "enterprise_id")),
        "province",
    )
    return {"organisation": org}


def make_users(inp: StepInput) -> Mapping[str, Any]:
    """Deterministic demo accounts: an administrator, officers of each kind, enterprise users."""
    org = inp.tables["organisation"]
    inst = inp.tables["institution"]
    gov = org.filter(pl.col("kind") == "government")["id"].to_list()
    zones = org.filter(pl.col("kind") == "zone")["id"].to_list()[:USERS_PER_KIND]
    tech_ids = inst.filter(pl.col("is_tech_branch"))["id"]
    banks = org.filter(pl.col("institution_id").is_in(tech_ids.implode()))["id"].to_list()
    firms = org.filter(pl.col("kind") == "enterprise")["id"].to_list()[:USERS_PER_KIND]
    people: list[tuple[str, str, int, tuple[str, ...]]] = [
        ("demo.admin", "示例管理员", gov[0], ("platform_admin", "programme_officer")),
        ("demo.officer", "示例项目专员", gov[0], ("programme_officer",)),
    ]
    people += [
        (f"demo.province{k}", f"示例省厅专员{k}", o, ("programme_officer",))
        for k, o in enumerate(gov[1 : 1 + USERS_PER_KIND - 1], start=1)
    ]
    people += [
        (f"demo.zone{k}", f"示例园区专员{k}", o, ("zone_officer",)) for k, o in enumerate(zones, 1)
    ]
    people += [
        (f"demo.bank{k}", f"示例客户经理{k}", o, ("institution_officer",))
        for k, o in enumerate(banks[:USERS_PER_KIND], start=1)
    ]
    people += [
        (f"demo.firm{k}", f"示例企业用户{k}", o, ("enterprise_user",))
        for k, o in enumerate(firms, 1)
    ]
    # a second officer at each demo bank, last so the ids above stay as they were: the checker
    # of the credit lines a bank return enters (maker demo.bankK, checker demo.checkerK)
    people += [
        (f"demo.checker{k}", f"示例复核员{k}", o, ("institution_officer",))
        for k, o in enumerate(banks[:USERS_PER_KIND], start=1)
    ]
    users = pl.DataFrame(
        {
            "id": np.arange(1, len(people) + 1, dtype=np.int64),
            "username": [p[0] for p in people],
            "display_name": [p[1] for p in people],
            "organisation_id": [p[2] for p in people],
            "password_hash": pl.Series([None] * len(people), dtype=pl.String),
            "is_active": [True] * len(people),
        },
        schema_overrides={"organisation_id": pl.Int64},
    )
    roles = pl.DataFrame(
        [{"user_id": uid, "role": role} for uid, p in enumerate(people, 1) for role in p[3]],
        schema={"user_id": pl.Int64, "role": pl.String},
    )
    return {"app_user": users, "user_role": roles}


#: share of enterprises an officer has referred to a sci-tech branch (推荐)
REFERRAL_SHARE = 0.02


def make_grants(inp: StepInput) -> Mapping[str, Any]:
    """Consents and referrals, so institution officers see something: every signed-up firm opens
    its indicator data to one or two banks; officers refer 2 % of enterprises to sci-tech branches
    (the demo bank users' own institutions first)."""
    rng = inp.rng
    org, inst, ent = inp.tables["organisation"], inp.tables["institution"], inp.tables["enterprise"]
    banks = inst.filter(pl.col("kind") == "bank")["id"].to_numpy()
    tech = inst.filter(pl.col("is_tech_branch"))["id"].to_numpy()
    firms = org.filter(pl.col("kind") == "enterprise")["enterprise_id"].to_numpy()
    per_firm = rng.integers(1, 3, size=firms.size)
    consent = pl.DataFrame(
        {
            "enterprise_id": np.repeat(firms, per_firm),
            "institution_id": rng.choice(banks, size=int(per_firm.sum())),
        }
    ).unique(maintain_order=True)
    consent = consent.with_columns(_moments(rng, consent.height).alias("granted_at"))
    referred = rng.choice(
        ent.height, size=max(1, round(ent.height * REFERRAL_SHARE)), replace=False
    )
    referral = pl.DataFrame(
        {
            "enterprise_id": ent["id"].to_numpy()[np.sort(referred)],
            "institution_id": rng.choice(tech, size=referred.size),
        }
    ).unique(maintain_order=True)
    referral = referral.with_columns(_moments(rng, referral.height).alias("created_at"))
    return {
        "consent": consent.with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64)),
        "referral": referral.with_row_index("id", offset=1).with_columns(
            pl.col("id").cast(pl.Int64)
        ),
    }


def _moments(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` moments in 2024, zone-aware UTC."""
    start = np.datetime64("2024-01-01T00:00:00", "us")
    offsets = rng.integers(0, 365 * 86_400, size=n).astype("timedelta64[s]")
    return pl.Series(start + offsets).dt.replace_time_zone("UTC")
