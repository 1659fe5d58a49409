"""The reasons of a recommendation in Chinese and English: the track record, the firm, the
terms, each eligibility rule in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from innofin.kernel.codes import TECH_FIELD_NAMES, TechField
from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import track_engine as track
from innofin.matching.recommend.columns import Catalogue, Codes, NeedColumns
from innofin.matching.schemas import (
    Reason,
)

# --------------------------------------------------------------------------- reasons


def _field_names(index: int) -> tuple[str, str]:
    if 0 <= index < len(elig.FIELDS):
        return TECH_FIELD_NAMES[TechField(elig.FIELDS[index])]
    return ("未知领域", "unknown-field")


def _yuan_m(value: float) -> tuple[str, str]:
    return f"{value / 10_000:,.0f}万元", f"{value / 1_000_000:,.1f} m yuan"


def _track_reason(
    cells: dict[tuple[str, ...], pl.DataFrame],
    institution: int,
    firm: dict[str, int],
    codes: Codes,
    own: bool,
) -> Reason | None:
    fact = track.best_fact(cells, institution, firm, own)
    if fact is None:
        return None
    fzh, fen = _field_names(firm["field"])
    zone = codes.zone_codes[firm["zone"]] if 0 <= firm["zone"] < len(codes.zone_codes) else "?"
    size = firm["size"]
    size_zh, size_en = track.SIZE_BAND_NAMES[size] if size >= 0 else ("", "")
    parts_zh, parts_en = [], []
    if "zone" in fact.level:
        parts_zh.append(f"本园区（{zone}）")
        parts_en.append(f"in this zone ({zone})")
    if "size" in fact.level:
        parts_zh.append(f"同规模（{size_zh}）")
        parts_en.insert(0, f"of this size ({size_en})")
    who_zh = "".join(parts_zh) + (f"{fzh}企业" if "field" in fact.level else "企业")
    who_en = (f"{fen} firms " if "field" in fact.level else "firms ") + " ".join(parts_en)
    mzh, men = _yuan_m(fact.median)
    default_zh = f"，其中 {fact.default_share:.1%} 违约" if fact.default_share > 0 else "，无违约"
    default_en = (
        f"; {fact.default_share:.1%} defaulted" if fact.default_share > 0 else "; none defaulted"
    )
    return Reason(
        code="track_record",
        zh=f"曾向{who_zh}发放贷款 {fact.loans} 笔（{fact.borrowers} 家），中位数 {mzh}{default_zh}",
        en=f"lent {fact.loans} loans to {who_en.strip()} ({fact.borrowers} borrowers); "
        f"median {men}{default_en}",
        facts={
            "loans": fact.loans,
            "borrowers": fact.borrowers,
            "median_yuan": round(fact.median, 2),
            "default_share": round(fact.default_share, 4),
            "cell": list(fact.level),
        },
    )


def _firm_reasons(firm: dict[str, Any], own_loans: float, points_pct: float) -> list[Reason]:
    out: list[Reason] = []
    if own_loans > 0:
        out.append(
            Reason(
                code="relationship",
                zh=f"企业已在该机构获得贷款 {own_loans:.0f} 笔",
                en=f"the firm already had {own_loans:.0f} loan(s) from it",
                facts={"own_loans": int(own_loans)},
            )
        )
    points = firm.get("points")
    if points is not None and not np.isnan(points):
        out.append(
            Reason(
                code="points",
                zh=f"创新积分 {points:.1f}，不低于 {points_pct:.0%} 的需求企业",
                en=f"innovation points {points:.1f}, at or above {points_pct:.0%} of the firms "
                "with needs",
                facts={"points": round(points, 2), "percentile": round(points_pct, 4)},
            )
        )
    late = int(firm.get("own_late") or 0)
    risk = float(firm.get("risk") or 0.0)
    if late or risk:
        out.append(
            Reason(
                code="risk",
                zh=f"台账显示 {late} 笔贷款曾逾期或欠佳，风险信号 {risk:.2f}",
                en=f"the ledger shows {late} loans late or below pass; risk signal {risk:.2f}",
                facts={"late_loans": late, "risk": round(risk, 4)},
            )
        )
    else:
        out.append(
            Reason(
                code="risk",
                zh="台账中无逾期或违约记录",
                en="no late payment or default in the ledger",
                facts={"late_loans": 0, "risk": 0.0},
            )
        )
    return out


def _terms_reason(rate: float, max_rate: float) -> Reason | None:
    if np.isnan(rate):
        return None
    if np.isnan(max_rate):
        return Reason(
            code="terms",
            zh=f"最低年利率约 {rate:.2f}%",
            en=f"lowest rate about {rate:.2f} %",
            facts={"rate_min": round(rate, 4)},
        )
    return Reason(
        code="terms",
        zh=f"最低年利率约 {rate:.2f}%，在企业可承受的 {max_rate:.2f}% 以内",
        en=f"lowest rate about {rate:.2f} %, within the firm's maximum {max_rate:.2f} %",
        facts={"rate_min": round(rate, 4), "max_rate": round(max_rate, 4)},
    )


def _rule_words(
    cols: NeedColumns, catalogue: Catalogue, row: int, product: int, codes: Codes, rule: str
) -> tuple[str, str]:
    outcomes = elig.explain(
        cols.needs, catalogue.products, row, product, codes.certifications, codes.zone_codes
    )
    for o in outcomes:
        if o.code == rule:
            return o.zh, o.en
    return rule, rule
