"""The report step: simulate the panel, certify, blank out missing values, flatten to rows.

Missing values: each optional field has its own rate (1.5–8 %, about 4 % on average — what
programme offices see in self-reported annual data), concentrated in a minority of careless
reporters (15 % of firms report 4× as many gaps). Revenue and employees are the key fields and are
never missing, and neither is the evidence of a certificate in the year it was issued (R&D
expense, high-tech revenue, R&D staff, total assets: the firm was just audited on them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from innofin.demo.certification_engine import EVIDENCE, certify
from innofin.demo.engine import StepInput, date_series, day_number
from innofin.demo.panel_engine import simulate_panel
from innofin.kernel.indicators import REPORT_FIELDS

#: Probability that a field is missing from a report (the average over firms).
MISSING_RATES: dict[str, float] = {
    "main_revenue": 0.02,
    "rd_expense": 0.03,
    "rd_staff": 0.03,
    "invention_patents": 0.015,
    "ip_class1": 0.04,
    "ip_class2": 0.04,
    "tech_contract_turnover": 0.08,
    "hightech_revenue": 0.05,
    "net_profit": 0.02,
    "tax_paid": 0.02,
    "total_assets": 0.03,
    "total_liabilities": 0.05,
    "equity_financing": 0.06,
    "rd_platforms": 0.05,
    "standards_drafted": 0.07,
}
KEY_FIELDS = ("revenue", "employees")
CARELESS_SHARE, CARELESS_FACTOR = 0.15, 4.0
#: Reports of year Y are taken as filed on 31 May of Y + 1 (the annual filing deadline).
FILED_MONTH_DAY = (5, 31)


def make_reports(inp: StepInput) -> Mapping[str, Any]:
    rng, scale = inp.rng, inp.scale
    firm = inp.extras["_firm"]
    panel = simulate_panel(rng, scale, firm)
    region = inp.tables["enterprise"]["region_code"].to_numpy()
    certificates, issued = certify(rng, panel, firm["founded"], firm["stage"], region)

    n, y = panel.active.shape
    careless = rng.random(n) < CARELESS_SHARE
    careful_factor = (1 - CARELESS_SHARE * CARELESS_FACTOR) / (1 - CARELESS_SHARE)
    firm_factor = np.where(careless, CARELESS_FACTOR, careful_factor)[:, np.newaxis]
    rows = np.nonzero(panel.active)  # firm-major, year-minor: the order of the table
    columns: dict[str, Any] = {
        "id": np.arange(1, len(rows[0]) + 1, dtype=np.int64),
        "enterprise_id": rows[0].astype(np.int64) + 1,
        "year": panel.years[rows[1]].astype(np.int64),
    }
    for name in REPORT_FIELDS:
        values = panel.values[name][rows]
        if name in KEY_FIELDS:
            columns[name] = values
            continue
        missing = rng.random((n, y)) < MISSING_RATES[name] * firm_factor
        for kind, fields in EVIDENCE.items():
            if name in fields:
                missing &= ~issued[kind]
        columns[name] = np.ma.masked_array(values, missing[rows])
    report = pl.DataFrame({k: pl.Series(k, v, dtype=pl.Int64) for k, v in columns.items()})
    month, day = FILED_MONTH_DAY
    filed = np.array([day_number(dt.date(int(yr) + 1, month, day)) for yr in panel.years])
    report = report.with_columns(date_series("as_of", filed[rows[1]]))
    return {"indicator_report": report, "certification": certificates}
