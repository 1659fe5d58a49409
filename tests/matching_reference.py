"""The track record's loans read the way `matching.track_engine` was fed before
`matching.history` (through the ORM, a row of Decimals and dates per loan): the oracle the history
tests compare against and the "before" of `benchmarks/bench_recommend.py`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innofin.ledger.models import Loan
from innofin.matching.recommend import columns
from innofin.matching.recommend import eligibility_engine as elig
from innofin.matching.recommend import track_engine as track
from innofin.registry.models import Enterprise, IndicatorReport


def orm_history(session: Session, codes: columns.Codes, lenders: columns.Lenders) -> pl.DataFrame:
    """The loans with their borrowers' codes through the ORM (the reading before)."""
    rows = session.execute(
        select(
            Loan.institution_id,
            Loan.enterprise_id,
            Loan.drawn_on,
            Loan.principal,
            (Loan.defaulted_on.is_not(None) | Loan.category.in_(columns.NON_PERFORMING)),
            Enterprise.zone_id,
            Enterprise.tech_field,
        ).join(Enterprise, Enterprise.id == Loan.enterprise_id)
    ).all()
    frame = pl.DataFrame(
        rows,
        schema={
            "institution_id": pl.Int64, "enterprise": pl.Int64, "drawn_on": pl.Date,
            "principal": pl.Decimal(20, 2), "defaulted": pl.Boolean, "zone_id": pl.Int64,
            "tech_field": pl.String,
        },
        orient="row",
    )  # fmt: skip
    frame = frame.with_columns(pl.col("principal").cast(pl.Float64).alias("amount"))
    revenue = _latest_revenue(session, frame["enterprise"].unique().to_list())
    joined = frame.drop("principal").join(revenue, on="enterprise", how="left")
    zone = columns._zone_index(codes, joined["zone_id"].cast(pl.Float64).to_numpy())
    return joined.with_columns(
        pl.Series("institution", np.searchsorted(lenders.ids, joined["institution_id"].to_numpy())),
        pl.Series("zone", zone),
        pl.Series("province", np.where(zone >= 0, codes.zone_province[np.maximum(zone, 0)], -1)),
        pl.Series("field", columns._code_index(joined["tech_field"].to_list(), elig.FIELDS)),
        pl.Series("size", track.size_band(joined["revenue"].fill_null(np.nan).to_numpy())),
    )


def _latest_revenue(session: Session, ids: Sequence[int]) -> pl.DataFrame:
    latest = (
        select(IndicatorReport.enterprise_id, func.max(IndicatorReport.year).label("year"))
        .where(IndicatorReport.revenue.is_not(None))
        .group_by(IndicatorReport.enterprise_id)
        .subquery()
    )
    rows = session.execute(
        select(IndicatorReport.enterprise_id, IndicatorReport.revenue).join(
            latest,
            (latest.c.enterprise_id == IndicatorReport.enterprise_id)
            & (latest.c.year == IndicatorReport.year),
        )
    ).all()
    wanted = set(ids)
    return pl.DataFrame(
        {"enterprise": [r[0] for r in rows if r[0] in wanted],
         "revenue": [float(r[1]) for r in rows if r[0] in wanted]},
        schema={"enterprise": pl.Int64, "revenue": pl.Float64},
    )  # fmt: skip
