"""The demo generator without a database: determinism, and plausibility against stated bounds.

The thresholds below are restated from DOMAIN.md rather than imported from the generator, so a
wrong rule in the generator cannot make its own test pass.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from innofin.demo import service
from innofin.demo.engine import SCALES, DemoData, Scale, allocate, get_scale
from innofin.demo.report_engine import KEY_FIELDS, MISSING_RATES
from innofin.kernel.codes import InstitutionKind, TechField
from innofin.kernel.errors import InvalidInput
from innofin.kernel.ids import make_uscc, normalise_identifier
from innofin.kernel.indicators import REPORT_FIELDS
from innofin.registry.schemas import Eligibility

SEED = 20240601
YUAN = 100  # fen


@pytest.fixture(scope="module")
def data() -> DemoData:
    return service.generate_data("small", SEED)


@pytest.fixture(scope="module")
def last_year(data: DemoData) -> pl.DataFrame:
    """Last-year reports with the enterprise's growth stage."""
    firms = data.tables["enterprise"].select(pl.col("id").alias("enterprise_id"), "growth_stage")
    year = data.scale.years[-1]
    return (
        data.tables["indicator_report"].filter(pl.col("year") == year).join(firms, "enterprise_id")
    )


def _reports_at(data: DemoData, kind: str) -> pl.DataFrame:
    """Certificates of `kind` issued in a reported year, joined to that year's report."""
    certs = data.tables["certification"].filter(pl.col("kind") == kind)
    certs = certs.with_columns(pl.col("valid_from").dt.year().cast(pl.Int64).alias("year"))
    certs = certs.filter(pl.col("year").is_in(list(data.scale.years)))
    return certs.join(data.tables["indicator_report"], on=["enterprise_id", "year"], how="left")


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_tables(data: DemoData) -> None:
    again = service.generate_data("small", SEED)
    assert list(again.tables) == list(data.tables)
    for name, frame in data.tables.items():
        assert frame.equals(again.tables[name]), name


def test_different_seed_gives_different_data(data: DemoData) -> None:
    other = service.generate_data("small", SEED + 1)
    assert not other.tables["enterprise"]["identifier"].equals(
        data.tables["enterprise"]["identifier"]
    )
    assert not other.tables["indicator_report"]["revenue"].equals(
        data.tables["indicator_report"]["revenue"]
    )


def test_each_step_has_its_own_stream(data: DemoData) -> None:
    """Dropping later steps leaves earlier tables unchanged, so new steps can be appended."""
    early = service.generate_data("small", SEED, steps=service.STEPS[:4])
    assert set(early.tables) == {"zone", "institution", "product", "enterprise"}
    for name, frame in early.tables.items():
        assert frame.equals(data.tables[name]), name


def test_scales_and_validation() -> None:
    assert get_scale("national").enterprises == 500_000
    assert {s.years for s in SCALES.values()} == {(2022, 2023, 2024)}
    with pytest.raises(InvalidInput):
        get_scale("galactic")
    with pytest.raises(InvalidInput):
        Scale("bad", zones=5, enterprises=100, institutions=4, products=10)
    with pytest.raises(InvalidInput):
        Scale("bad", zones=5, enterprises=100, institutions=10, products=5)
    assert allocate(10, np.array([1.0, 1.0, 1.0]), minimum=1).tolist() == [4, 3, 3]


# --------------------------------------------------------------------------- identity


def test_uscc_valid_unique_and_located_in_zone(data: DemoData) -> None:
    firms = data.tables["enterprise"].join(
        data.tables["zone"].select(
            pl.col("id").alias("zone_id"), pl.col("region_code").alias("zr")
        ),
        on="zone_id",
    )
    ids = firms["identifier"].to_list()
    assert all(normalise_identifier(code) == code for code in ids)
    assert len(set(ids)) == len(ids)
    assert (firms["identifier"].str.slice(2, 6) == firms["zr"]).all()
    assert (firms["region_code"] == firms["zr"]).all()
    assert all(make_uscc(code[:17]) == code for code in ids[:500])  # the kernel's check character


def test_everything_is_labelled_synthetic(data: DemoData) -> None:
    zone, inst = data.tables["zone"], data.tables["institution"]
    assert (
        zone["name_zh"].str.contains("示例").all() and zone["name_zh"].str.ends_with("高新区").all()
    )
    assert zone["name_en"].str.starts_with("Demo ").all()
    assert data.tables["enterprise"]["name"].str.starts_with("示例").all()
    assert (
        inst["name"].str.contains("示例").all() and inst["name_en"].str.starts_with("Demo ").all()
    )
    assert data.tables["product"]["name"].str.contains("示例").all()
    assert data.tables["organisation"]["name"].str.contains("示例").all()


def test_enterprise_attributes(data: DemoData) -> None:
    firms = data.tables["enterprise"]
    for column in ("identifier", "name", "zone_id", "founded_on", "tech_field", "growth_stage"):
        assert firms[column].null_count() == 0, column
    assert set(firms["tech_field"]) == {f.value for f in TechField}
    assert firms["industry_code"].str.contains(r"^\d{4}$").all()
    age = (dt.date(2024, 12, 31) - firms["founded_on"]).dt.total_days() / 365.25
    median_age = {
        s: float(age.filter(firms["growth_stage"] == s).median())
        for s in ("startup", "growth", "stable")
    }
    assert median_age["startup"] < median_age["growth"] < median_age["stable"]


def test_zone_sizes_heavy_tailed(data: DemoData) -> None:
    sizes = data.tables["enterprise"].group_by("zone_id").len()["len"]
    assert sizes.len() == data.tables["zone"].height
    assert sizes.max() >= 5 * sizes.median()
    zone = data.tables["zone"]
    assert set(zone["level"]) == {"national", "provincial"}
    assert zone["year_approved"].is_between(1988, 2024).all()


# --------------------------------------------------------------------------- certifications


def test_hnte_certificates_meet_thresholds_in_their_year(data: DemoData) -> None:
    checked = _reports_at(data, "hnte")
    assert checked.height > 100
    assert checked["revenue"].null_count() == 0  # every in-window certificate has its report
    for row in checked.iter_rows(named=True):
        revenue = Decimal(row["revenue"]) / YUAN
        pct = 5 if revenue < 50_000_000 else 4 if revenue <= 200_000_000 else 3
        assert row["rd_expense"] * 100 >= row["revenue"] * pct, row
        assert row["hightech_revenue"] * 100 >= row["revenue"] * 60, row
        assert row["rd_staff"] * 10 >= row["employees"], row
    # Every hnte firm has a certificate whose year is reported; validity is 3 years.
    certs = data.tables["certification"].filter(pl.col("kind") == "hnte")
    assert set(certs["enterprise_id"]) == set(checked["enterprise_id"])
    for start, end in certs.select("valid_from", "valid_until").iter_rows():
        assert end == dt.date(start.year + 3, start.month, start.day) - dt.timedelta(days=1)


def test_tech_sme_only_within_size_limits(data: DemoData) -> None:
    checked = _reports_at(data, "tech_sme")
    assert checked.height > 100
    assert checked["total_assets"].null_count() == 0
    assert (checked["employees"] <= 500).all()
    assert (checked["revenue"] <= 200_000_000 * YUAN).all()
    assert (checked["total_assets"] <= 200_000_000 * YUAN).all()
    assert (checked["valid_until"].dt.year() == checked["year"]).all()


def test_certificate_kinds_present(data: DemoData) -> None:
    kinds = data.tables["certification"].group_by("kind").len()
    counts = dict(kinds.iter_rows())
    assert {"hnte", "tech_sme", "srdi"} <= set(counts)
    hnte_share = (
        data.tables["certification"].filter(pl.col("kind") == "hnte")["enterprise_id"].n_unique()
    )
    assert 0.25 <= hnte_share / data.scale.enterprises <= 0.6


# --------------------------------------------------------------------------- indicators

#: Stated bounds for last-year revenue (yuan) by stage: median range and q75/q25 range.
REVENUE_BOUNDS = {
    "startup": ((2.0e6, 4.0e6), (3.5, 8.5)),
    "growth": ((17e6, 33e6), (3.5, 8.5)),
    "stable": ((85e6, 165e6), (3.5, 8.5)),
}


def test_revenue_by_stage(last_year: pl.DataFrame) -> None:
    for stage, ((lo, hi), (iqr_lo, iqr_hi)) in REVENUE_BOUNDS.items():
        revenue = (
            last_year.filter(pl.col("growth_stage") == stage)["revenue"].cast(pl.Float64) / YUAN
        )
        median, q25, q75 = revenue.median(), revenue.quantile(0.25), revenue.quantile(0.75)
        assert lo <= median <= hi, (stage, median)
        assert iqr_lo <= q75 / q25 <= iqr_hi, (stage, q75 / q25)


def test_patents_over_dispersed(last_year: pl.DataFrame) -> None:
    patents = last_year["invention_patents"].drop_nulls().cast(pl.Float64)
    assert patents.var() > 2 * patents.mean()
    assert (patents == 0).mean() > 0.1  # many firms hold none


def test_start_ups_lose_money_more_often(last_year: pl.DataFrame) -> None:
    loss = (
        last_year.drop_nulls("net_profit")
        .group_by("growth_stage")
        .agg((pl.col("net_profit") < 0).mean())
    )
    share = dict(loss.iter_rows())
    assert share["startup"] > 0.5 > 0.3 > share["stable"]
    assert share["startup"] > share["growth"] > share["stable"]


def test_rd_intensity_by_field(data: DemoData) -> None:
    firms = data.tables["enterprise"].select(pl.col("id").alias("enterprise_id"), "tech_field")
    intensity = (
        data.tables["indicator_report"]
        .join(firms, on="enterprise_id")
        .group_by("tech_field")
        .agg((pl.col("rd_expense") / pl.col("revenue")).median().alias("rd"))
    )
    rd = dict(intensity.iter_rows())
    low = max(rd["resources_environment"], rd["new_materials"], rd["advanced_manufacturing"])
    assert min(rd["bio_medicine"], rd["electronic_information"]) > low
    assert min(rd.values()) > 0.03 and max(rd.values()) < 0.3


def test_revenue_autocorrelated(data: DemoData) -> None:
    wide = data.tables["indicator_report"].pivot(on="year", index="enterprise_id", values="revenue")
    years = [str(y) for y in data.scale.years]
    for a, b in itertools.pairwise(years):
        pair = wide.select(a, b).drop_nulls()
        corr = np.corrcoef(np.log(pair[a].to_numpy()), np.log(pair[b].to_numpy()))[0, 1]
        assert corr > 0.7, (a, b, corr)
    growth = (wide[years[-1]] / wide[years[0]]).drop_nulls().median()
    assert 1.0 < growth < 1.6  # the typical firm grows


def test_missing_values_within_bounds(data: DemoData) -> None:
    reports = data.tables["indicator_report"]
    for name in (*KEY_FIELDS, "id", "enterprise_id", "year", "as_of"):
        assert reports[name].null_count() == 0, name
    rates = {name: reports[name].null_count() / reports.height for name in MISSING_RATES}
    assert 0.02 <= sum(rates.values()) / len(rates) <= 0.06
    for name, rate in rates.items():
        assert 0.4 * MISSING_RATES[name] <= rate <= 1.6 * MISSING_RATES[name], (name, rate)


def test_indicator_consistency(data: DemoData) -> None:
    r = data.tables["indicator_report"]
    assert set(REPORT_FIELDS) <= set(r.columns)
    assert r.filter(pl.col("rd_staff") > pl.col("employees")).height == 0
    assert r.filter(pl.col("hightech_revenue") > pl.col("revenue")).height == 0
    assert r.filter(pl.col("main_revenue") > pl.col("revenue")).height == 0
    assert r.filter(pl.col("total_liabilities") > pl.col("total_assets")).height == 0
    for name, spec in REPORT_FIELDS.items():
        if not spec.signed:
            assert (r[name].drop_nulls() >= 0).all(), name
    founded = data.tables["enterprise"].select(pl.col("id").alias("enterprise_id"), "founded_on")
    years = r.join(founded, on="enterprise_id").select(
        pl.col("year") >= pl.col("founded_on").dt.year()
    )
    assert years.to_series().all()  # no report before the firm existed


def test_zone_stats_agree_with_enterprises(data: DemoData) -> None:
    stats = data.tables["zone_year_stat"]
    assert stats.height == data.tables["zone"].height * len(data.scale.years)
    firms = data.tables["enterprise"].select(pl.col("id").alias("enterprise_id"), "zone_id")
    counted = (
        data.tables["indicator_report"]
        .join(firms, on="enterprise_id")
        .group_by("zone_id", "year")
        .agg(pl.len().alias("n"), pl.col("revenue").sum().alias("rev"))
    )
    joined = stats.join(counted, on=["zone_id", "year"])
    assert (joined["enterprises"] == joined["n"]).all() and (
        joined["revenue"] == joined["rev"]
    ).all()
    year_end = pl.date(pl.col("year"), 12, 31)
    holders = (
        data.tables["certification"]
        .filter(pl.col("kind") == "hnte")
        .join(pl.DataFrame({"year": list(data.scale.years)}), how="cross")
        .filter((pl.col("valid_from") <= year_end) & (pl.col("valid_until") >= year_end))
        .join(firms, on="enterprise_id")
        .group_by("zone_id", "year")
        .agg(pl.col("enterprise_id").n_unique().alias("h"))
    )
    joined = stats.join(holders, on=["zone_id", "year"], how="left").with_columns(
        pl.col("h").fill_null(0)
    )
    assert (joined["hte_enterprises"] == joined["h"]).all()
    assert (stats["gdp"] > stats["revenue"] // 10).all()


# --------------------------------------------------------------------------- finance, parties


def test_institutions(data: DemoData) -> None:
    inst = data.tables["institution"]
    assert inst.height == data.scale.institutions
    assert {k.value for k in InstitutionKind} - {"other"} <= set(inst["kind"])
    branches = inst.filter(pl.col("parent_id").is_not_null())
    assert (branches["parent_id"] < branches["id"]).all()
    assert inst.filter(pl.col("is_tech_branch"))["kind"].eq("bank").all()
    assert inst["is_tech_branch"].sum() >= 1


def test_products(data: DemoData) -> None:
    products = data.tables["product"]
    assert products.height == data.scale.products
    assert set(products["financing_mode"]) == {"direct", "indirect"}
    expected = {"equity_investment", "bond", "pure_credit_loan", "ip_pledge_loan", "points_loan"}
    assert expected | {"guarantee", "tech_insurance"} <= set(products["kind"])
    assert (products["amount_min"] <= products["amount_max"]).all()
    assert (products["term_min_months"] <= products["term_max_months"]).all()
    assert (products["rate_min"] <= products["rate_max"]).all()
    loans = products.filter(pl.col("kind").is_in(["pure_credit_loan", "points_loan"]))
    assert loans["rate_type"].eq("lpr_spread").all()
    for doc in products["eligibility"]:
        assert Eligibility.model_validate_json(doc).to_json() is not None
    active = products.drop_nulls("active_until")
    assert (active["active_until"] >= active["active_from"]).all()


def test_organisations_and_users(data: DemoData) -> None:
    org = data.tables["organisation"]
    kinds = dict(org.group_by("kind").len().iter_rows())
    assert kinds["zone"] == data.scale.zones and kinds["institution"] == data.scale.institutions
    assert kinds["government"] >= 2 and kinds["enterprise"] >= 10
    users, roles = data.tables["app_user"], data.tables["user_role"]
    assert users["password_hash"].null_count() == users.height
    assert users["username"].n_unique() == users.height
    assert set(roles["role"]) == {
        "platform_admin",
        "programme_officer",
        "zone_officer",
        "institution_officer",
        "enterprise_user",
    }
    # each demo bank has a maker and a checker (a bank return names both for a new credit line)
    officers = users.join(roles, left_on="id", right_on="user_id").filter(
        pl.col("role") == "institution_officer"
    )
    per_bank = dict(officers.group_by("organisation_id").len().iter_rows())
    assert per_bank and set(per_bank.values()) == {2}
    assert users.filter(pl.col("username") == "demo.checker1")["organisation_id"].item() == (
        users.filter(pl.col("username") == "demo.bank1")["organisation_id"].item()
    )
