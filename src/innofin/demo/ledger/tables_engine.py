"""The ledger's tables in stored form (`demo.engine` conventions), and the programmes' events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.engine import date_series, json_text
from innofin.demo.ledger.agreements_engine import Agreement
from innofin.demo.ledger.book_engine import sum_by
from innofin.demo.ledger.borrowers_engine import TAG_JSON
from innofin.demo.ledger.claims_engine import PoolTerms
from innofin.demo.ledger.dates_engine import day_of, moments, year_of
from innofin.demo.ledger.events_engine import Data, Events, nullable, strings
from innofin.demo.ledger.params import (
    CATEGORY_NAMES,
    CHECKER,
    FEN,
    MAKER,
    METHOD_NAMES,
    MILLION,
    NATIONAL_BALANCE_TARGET,
    NATIONAL_KEY_ENTERPRISES,
    NONE,
    PROGRAMME,
    Array,
    Cols,
)
from innofin.demo.ledger.world_engine import Plan, World
from innofin.kernel.money import decimal_text
from innofin.kernel.periods import add_months_days


def _code_json(codes: Sequence[str]) -> Data:
    return [json_text({"code": c}) for c in codes], np.arange(len(codes))


def programme_tables(
    w: World,
    plan: Plan,
    agreements: Sequence[Agreement],
    commitments: Cols,
    terms: Sequence[PoolTerms],
    pools: Cols,
    ev: Events,
) -> dict[str, pl.DataFrame]:
    """Programmes and targets, agreements and commitments, risk pools, and their events."""
    last, sf = w.last_year, w.scale_factor
    province, zone = w.provinces[plan.province], str(w.zone_name[plan.zone])
    lead = w.bank_id[w.bank_brand == plan.lead_brand]
    codes = ["DEMO-PRG-NATIONAL", "DEMO-PRG-PROVINCE", "DEMO-PRG-ZONE"]
    starts, ends = np.array(plan.starts), np.array(plan.ends)
    programme = pl.DataFrame(
        {
            "id": np.arange(1, 4, dtype=np.int64),
            "code": codes,
            "name": [
                "示例科技金融“十百千万”专项行动",
                f"示例{province}科技金融专项信贷计划",
                f"{zone}科技信贷风险补偿计划",
            ],
            "sponsor": [
                f"示例国家科技金融服务中心、{w.bank_name[plan.lead_head]}",
                f"示例{province}科学技术厅",
                f"{zone}管委会",
            ],
            "candidate_list": ["key-enterprises", None, None],
            "register_borrowers": [False, False, False],  # the demo's returns name known firms
            "zone_ids": [
                (plan.national_zones + 1).tolist(),
                (plan.province_zones + 1).tolist(),
                [plan.zone + 1],
            ],
            "institution_ids": [
                lead.tolist(),
                w.bank_id[plan.province_banks].tolist(),
                [int(w.bank_id[plan.zone_bank])],
            ],
        },
        schema_overrides={"zone_ids": pl.List(pl.Int64), "institution_ids": pl.List(pl.Int64)},
    ).with_columns(
        date_series("starts_on", starts),
        date_series("ends_on", ends),
        moments(starts, 1).alias("created_at"),
    )
    ev.add("programme", np.arange(1, 4), "programme_created", starts, PROGRAMME,
           data=_code_json(codes))  # fmt: skip

    c = pl.DataFrame(
        {
            "agreement": commitments["agreement"],
            "programme": np.array([a.programme for a in agreements])[commitments["agreement"]],
            "field": commitments["field"],
            "start": commitments["start"],
            "end": commitments["end"],
            "amount": commitments["amount"],
        }
    )
    balance = max(1, round(NATIONAL_BALANCE_TARGET * sf / 10**8)) * 10**8 * FEN
    key_firms = max(10, round(NATIONAL_KEY_ENTERPRISES * sf))
    targets: list[dict[str, Any]] = [
        {"programme_id": 1, "kind": "financing_balance", "amount": balance,
         "period_start": plan.starts[0], "due_on": plan.ends[0]},
        *({"programme_id": 1, "kind": "key_enterprises", "count": key_firms,
           "period_start": day_of(y, 1, 1), "due_on": day_of(y, 12, 31)}
          for y in range(last - 2, last + 2)),
        {"programme_id": 1, "kind": "balance_growth", "rate": 2000,
         "period_start": plan.starts[0], "due_on": plan.ends[0]},
    ]  # fmt: skip
    by_field = (
        c.filter(pl.col("programme") == 1)
        .group_by("field", "start", "end")
        .agg(pl.col("amount").sum())
        .sort("start", "field")
    )
    targets += [
        {"programme_id": 2, "kind": "new_credit", "tech_field": w.field_codes[f],
         "amount": -(-amount // (10 * MILLION)) * 10 * MILLION, "period_start": start,
         "due_on": end}
        for f, start, end, amount in by_field.iter_rows()
    ]  # fmt: skip
    targets.append(
        {"programme_id": 2, "kind": "balance_growth", "rate": 1870,
         "period_start": plan.starts[1], "due_on": plan.ends[1]}
    )  # fmt: skip
    zone_rows = c.filter(pl.col("programme") == 2).select("start", "end", "amount")
    targets += [
        {"programme_id": 3, "kind": "new_credit", "period_start": start, "due_on": end,
         "amount": -(-amount * 11 // (10 * MILLION)) * MILLION}  # the commitment + 10 %
        for start, end, amount in zone_rows.iter_rows()
    ]  # fmt: skip
    target = pl.DataFrame(
        targets,
        schema={
            "programme_id": pl.Int64, "kind": pl.String, "tech_field": pl.String,
            "amount": pl.Int64, "count": pl.Int64, "rate": pl.Int64,
            "period_start": pl.Int64, "due_on": pl.Int64,
        },
    )  # fmt: skip
    target = target.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("id"),
        "programme_id", "kind", "tech_field", "amount", "count", "rate",
        pl.col("period_start").cast(pl.Int32).cast(pl.Date),
        pl.col("due_on").cast(pl.Int32).cast(pl.Date),
    )  # fmt: skip

    na = len(agreements)
    signed = np.array([a.signed for a in agreements])
    totals = sum_by(commitments["agreement"], commitments["amount"], na)
    zone_ids = np.array([a.zone + 1 for a in agreements])
    agreement = pl.DataFrame(
        {
            "id": np.arange(1, na + 1, dtype=np.int64),
            "code": [f"DEMO-AG-{i:04d}" for i in range(1, na + 1)],
            "kind": [a.kind for a in agreements],
            "programme_id": np.array([a.programme + 1 for a in agreements], dtype=np.int64),
            "institution_id": w.bank_id[[a.bank for a in agreements]].astype(np.int64),
            "counterparty": [a.counterparty for a in agreements],
            "zone_id": pl.Series(np.ma.masked_array(zone_ids, zone_ids == 0), dtype=pl.Int64),
            "enterprise_id": pl.Series([None] * na, dtype=pl.Int64),
            "currency": ["CNY"] * na,
        }
    ).with_columns(
        date_series("signed_on", signed),
        date_series("starts_on", np.array([a.periods[0][0] for a in agreements])),
        date_series("ends_on", np.array([a.periods[-1][1] for a in agreements])),
        pl.lit("signed").alias("status"),
        pl.lit("[]").alias("documents"),
        moments(signed, 2).alias("created_at"),
    )
    ev.add("agreement", np.arange(1, na + 1), "agreement_signed", signed, PROGRAMME,
           amount=totals)  # fmt: skip
    field = commitments["field"]
    commitment = pl.DataFrame(
        {
            "id": np.arange(1, field.size + 1, dtype=np.int64),
            "agreement_id": commitments["agreement"] + 1,
            "tech_field": pl.Series(
                np.ma.masked_array(np.array(w.field_codes)[np.maximum(field, 0)], field < 0),
                dtype=pl.String,
            ),
        }
    ).with_columns(
        date_series("period_start", commitments["start"]),
        date_series("period_end", commitments["end"]),
        pl.Series("amount", commitments["amount"], dtype=pl.Int64),
        pl.Series("used", commitments["used"], dtype=pl.Int64),
    )

    pool_codes = ["DEMO-POOL-NATIONAL", "DEMO-POOL-PROVINCE", "DEMO-POOL-ZONE"]
    leverage = [t.leverage for t in terms]
    risk_pool = pl.DataFrame(
        {
            "id": np.arange(1, 4, dtype=np.int64),
            "code": pool_codes,
            "name": [
                "示例科技金融风险分担资金池（国家专项行动）",
                f"示例{province}科技贷款风险补偿资金池",
                f"{zone}科技信贷风险补偿资金池",
            ],
            "programme_id": np.arange(1, 4, dtype=np.int64),
            "currency": ["CNY"] * 3,
            "rules": [t.document for t in terms],
            "leverage": pl.Series(leverage, dtype=pl.Int64),
            "contributed": pools["contributed"],
            "paid_out": pools["paid_out"],
            "recovered": pools["recovered"],
            "balance": pools["balance"],
            "covered_outstanding": pools["covered"],
        }
    ).with_columns(moments(starts, 1).alias("created_at"))
    ev.add("risk_pool", np.arange(1, 4), "pool_opened", starts, PROGRAMME,
           data=_code_json(pool_codes))  # fmt: skip
    contributors = (
        [json_text({"contributor": str(c)}) for c in pools["contributor"]],
        np.arange(pools["contributor"].size),
    )
    ev.add("risk_pool", pools["pool"] + 1, "contributed", pools["day"], PROGRAMME,
           amount=pools["amount"], data=contributors)  # fmt: skip
    return {
        "programme": programme,
        "programme_target": target,
        "agreement": agreement,
        "agreement_commitment": commitment,
        "risk_pool": risk_pool,
    }


def _refs(prefix: str, ids: Array) -> pl.Series:
    width = max(6, len(str(int(ids.max(initial=0)))))
    return pl.select(
        pl.concat_str(pl.lit(prefix), pl.Series(ids).cast(pl.String).str.zfill(width))
    ).to_series()


def line_table(w: World, lines: Cols) -> pl.DataFrame:
    n = lines["opens"].size
    ids = np.arange(1, n + 1, dtype=np.int64)
    product = lines["product"]
    return pl.DataFrame(
        {
            "id": ids,
            "institution_id": w.bank_id[lines["bank"]].astype(np.int64),
            "external_ref": _refs("DEMO-CL-", ids),
            "enterprise_id": lines["enterprise"] + 1,
            "programme_id": nullable(lines["programme"] + 1, lines["programme"] < 0),
            "commitment_id": nullable(lines["commitment"] + 1, lines["commitment"] < 0),
            "product_id": nullable(w.product_id[np.maximum(product, 0)], product < 0),
            "risk_pool_id": nullable(lines["pool"] + 1, lines["pool"] < 0),
            "tags": strings(TAG_JSON, lines["tags"]),
            "currency": pl.repeat("CNY", n, eager=True),
            "limit_amount": lines["limit"],
            "used": lines["used"],
            "revolving": lines["revolving"],
        }
    ).with_columns(
        date_series("opens_on", lines["opens"]),
        date_series("matures_on", lines["matures"]),
        pl.lit("lpr_spread").alias("rate_kind"),
        pl.Series("rate", lines["rate"], dtype=pl.Int64),
        pl.Series("spread_bp", lines["spread_bp"], dtype=pl.Int64),
        pl.lit("approved").alias("status"),
        pl.lit(MAKER).alias("maker_id"),
        pl.lit(CHECKER).alias("checker_id"),
        moments(lines["opens"], 1).alias("created_at"),
    )


def loan_table(w: World, lines: Cols, loans: Cols) -> pl.DataFrame:
    n = loans["drawn"].size
    ids = np.arange(1, n + 1, dtype=np.int64)
    line = loans["line"]
    outstanding = loans["outstanding"]
    status = np.where(outstanding > 0, 0, np.where(loans["written_off"] > 0, 2, 1))
    defaulted = loans["default_day"] < NONE
    return pl.DataFrame(
        {
            "id": ids,
            "credit_line_id": line + 1,
            "institution_id": w.bank_id[lines["bank"][line]].astype(np.int64),
            "enterprise_id": lines["enterprise"][line] + 1,
            "external_ref": _refs("DEMO-LN-", ids),
            "currency": pl.repeat("CNY", n, eager=True),
            "principal": loans["principal"],
        }
    ).with_columns(
        date_series("drawn_on", loans["drawn"]),
        date_series("matures_on", add_months_days(loans["drawn"], loans["months"])),
        pl.Series("months", loans["months"], dtype=pl.Int64),
        strings(METHOD_NAMES, loans["method"]).alias("method"),
        pl.lit("ACT/360").alias("day_count"),
        pl.Series("annual_rate", loans["rate"], dtype=pl.Int64),
        strings(("active", "closed", "written_off"), status).alias("status"),
        pl.Series("principal_repaid", loans["principal_repaid"], dtype=pl.Int64),
        pl.Series("interest_paid", loans["interest_paid"], dtype=pl.Int64),
        pl.Series("written_off", loans["written_off"], dtype=pl.Int64),
        pl.Series("recovered", loans["recovered"], dtype=pl.Int64),
        pl.Series("outstanding_principal", outstanding, dtype=pl.Int64),
        strings(CATEGORY_NAMES, loans["category"]).alias("category"),
        pl.Series(
            "defaulted_on",
            np.ma.masked_array(np.where(defaulted, loans["default_day"], 0), ~defaulted),
            dtype=pl.Int32,
        ).cast(pl.Date),
    )


def claim_table(w: World, claims: Cols) -> pl.DataFrame:
    n = claims["loan"].size
    paid = claims["paid"] < NONE
    decided = claims["approved"] < NONE
    frame = pl.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "pool_id": claims["pool"] + 1,
            "loan_id": claims["loan"] + 1,
            "institution_id": w.bank_id[claims["bank"]].astype(np.int64),
            "claim_year": year_of(claims["filed"]),
            "principal_loss": claims["loss"],
            "covered": claims["covered"],
            "recovered": claims["back"],
            "_head": pl.Series(claims["head"], dtype=pl.String),
            "_binding": pl.Series(claims["binding"], dtype=pl.String),
            "_split": pl.Series(claims["split"], dtype=pl.String),
            "retained": claims["retained"],
            "status": np.where(paid, "paid", np.where(decided, "approved", "pending")),
            "maker_id": pl.Series([MAKER] * n, dtype=pl.String),
            "checker_id": pl.Series(
                np.ma.masked_array(np.full(n, CHECKER), ~decided), dtype=pl.String
            ),
        }
    ).with_columns(moments(claims["filed"], 3).alias("created_at"))
    binding = (
        pl.when(pl.col("_binding") == "")
        .then(pl.lit("null"))
        .otherwise(pl.concat_str(pl.lit('"'), "_binding", pl.lit('"')))
    )
    assessment = pl.concat_str(
        "_head", pl.lit('"covered":"'), decimal_text("covered", 2), pl.lit('","retained":"'),
        decimal_text("retained", 2), pl.lit('","binding_cap":'), binding,
        pl.lit(',"contributions":'), "_split", pl.lit("}"),
    )  # fmt: skip
    return frame.with_columns(assessment.alias("assessment")).select(
        "id", "pool_id", "loan_id", "institution_id", "claim_year", "principal_loss",
        "covered", "recovered", "assessment", "status", "maker_id", "checker_id", "created_at",
    )  # fmt: skip
