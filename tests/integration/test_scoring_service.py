"""Scoring runs, explanations, key lists and pilot zones against SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import Engine, func, select, update

from innofin.audit.models import AuditEvent
from innofin.audit.recorder import Actor
from innofin.db.engine import unit_of_work
from innofin.demo import service as demo
from innofin.demo.engine import Scale
from innofin.kernel.errors import Infeasible, InvalidInput, NotFound
from innofin.kernel.yamlfile import YamlError
from innofin.registry.models import Enterprise, IndicatorReport
from innofin.scoring import explaining, lists, pilot, service
from innofin.scoring.models import KeyList, ScoreResult, ScoreRun

TINY = Scale("tiny", zones=6, enterprises=400, institutions=8, products=8)
ACTOR = Actor.cli("test")


@pytest.fixture
def world(engine: Engine) -> Engine:
    demo.generate_demo(engine, TINY, seed=11)
    return engine


def _results(engine: Engine, run_id: int) -> list[tuple[object, ...]]:
    with unit_of_work(engine) as s:
        return [
            tuple(r)
            for r in s.execute(
                select(
                    ScoreResult.enterprise_id,
                    ScoreResult.points,
                    ScoreResult.rank_national,
                    ScoreResult.rank_zone,
                    ScoreResult.percentile,
                    ScoreResult.detail,
                )
                .where(ScoreResult.run_id == run_id)
                .order_by(ScoreResult.enterprise_id)
            ).all()
        ]


def test_a_run_scores_every_reported_enterprise_and_repeats_bit_for_bit(world: Engine) -> None:
    first = service.run(world, "default", 2024, ACTOR)
    second = service.run(world, "default", 2024, ACTOR)
    with unit_of_work(world) as s:
        reported = s.scalar(
            select(func.count()).select_from(IndicatorReport).where(IndicatorReport.year == 2024)
        )
    assert first.enterprises == reported == len(_results(world, first.run_id))
    assert first.reference_computed and not second.reference_computed
    assert first.input_fingerprint == second.input_fingerprint
    assert first.result_fingerprint == second.result_fingerprint
    assert _results(world, first.run_id) == _results(world, second.run_id)
    points = [r[1] for r in _results(world, first.run_id)]
    assert first.top[0].points == max(points)  # type: ignore[type-var]
    with unit_of_work(world) as s:
        runs = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "score_run")
        )
    assert runs == 2


def test_changed_input_changes_the_fingerprint_and_the_change_is_reported(world: Engine) -> None:
    service.run(world, "default", 2023, ACTOR)
    before = service.run(world, "default", 2024, ACTOR)
    assert all(t.change is not None for t in before.top)
    target = before.top[-1].enterprise_id
    with unit_of_work(world) as s:
        s.execute(
            update(IndicatorReport)
            .where(IndicatorReport.enterprise_id == target, IndicatorReport.year == 2024)
            .values(total_liabilities=None)
        )
    after = service.run(world, "default", 2024, ACTOR)
    assert after.input_fingerprint != before.input_fingerprint
    with unit_of_work(world) as s:
        x = explaining.explain(s, target, 2024, "default")
    assert x.run_id == after.run_id
    assert "debt_ratio" in dict(x.missing_cost)  # missing data that cost points
    assert x.previous_points is not None


def test_explain_adds_up_and_proposes_the_best_improvements(world: Engine) -> None:
    run = service.run(world, "default", 2024, ACTOR)
    with unit_of_work(world) as s:
        for entry in run.top[:3]:
            x = explaining.explain(s, entry.enterprise_id, 2024, None)
            assert sum(x.groups.values()) == pytest.approx(x.points)
            core = sum(i.contribution for i in x.items if i.group_kind == "core")
            assert core == pytest.approx(
                sum(
                    v for k, v in x.groups.items() if k in ("technology", "growth_ops", "auxiliary")
                )
            )
            assert len(x.improvements) <= 3
            gains = [i.gain for i in x.improvements]
            assert gains == sorted(gains, reverse=True) and all(g > 0 for g in gains)
            assert x.ranks["national"] >= 1
        with pytest.raises(NotFound):
            explaining.explain(s, 10**6, 2024, None)
        with pytest.raises(NotFound):
            explaining.explain(s, run.top[0].enterprise_id, 2031, None)


def test_the_reference_is_stored_once_unless_replaced(world: Engine) -> None:
    first = service.compute_reference(world, "default", 2024, ACTOR)
    assert first.rows > 0 and not first.replaced
    with pytest.raises(InvalidInput, match="exist already"):
        service.compute_reference(world, "default", 2024, ACTOR)
    again = service.compute_reference(world, "default", 2024, ACTOR, replace=True)
    assert again.replaced and again.rows == first.rows


def test_tech_sme_verdicts_are_stored(world: Engine) -> None:
    run = service.run(world, "tech-sme", 2024, ACTOR)
    with unit_of_work(world) as s:
        rows = s.execute(
            select(ScoreResult.points, ScoreResult.qualified, ScoreResult.verdict).where(
                ScoreResult.run_id == run.run_id
            )
        ).all()
    assert run.qualified == sum(1 for r in rows if r.qualified)
    for points, qualified, verdict in rows:
        assert qualified == (verdict == "pass" or verdict.startswith("direct:"))
        if verdict == "pass":
            assert points >= 60


def _rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_key_list_respects_quotas_and_keeps_versions(world: Engine, tmp_path: Path) -> None:
    service.run(world, "default", 2024, ACTOR)
    rules = _rules(tmp_path, "name: kl\ncount: 30\nzone: {max: 6}\nnear_misses: 10\n")
    first = lists.select_list(world, rules, 2024, ACTOR)
    assert first.version == 1 and len(first.members) == 30 and first.entered == 30
    assert first.solver["status"] == "optimal" and first.solver["gap"] == 0
    zones = [m[2] for m in first.members]
    assert max(zones.count(z) for z in set(zones)) <= 6
    # the near misses are the best left out, and each says why
    best_out = max(n[3] for n in first.near_misses)
    assert best_out == first.near_misses[0][3]
    assert all(n[4] for n in first.near_misses)
    # a tighter version: who left is recorded with a reason
    tighter = _rules(tmp_path, "name: kl\ncount: 20\nzone: {max: 4}\n")
    second = lists.select_list(world, tighter, 2024, ACTOR)
    assert second.version == 2 and second.left == 10 + (second.entered)
    with unit_of_work(world) as s:
        hist = lists.history(s, "kl")
        assert [h["version"] for h in hist] == [1, 2]
        n = lists.export_list(s, "kl", 1, tmp_path / "kl.xlsx")
    book = load_workbook(tmp_path / "kl.xlsx", read_only=True)
    assert len(book.sheetnames) == 4
    members = list(book.worksheets[0].iter_rows(values_only=True))
    assert len(members) == 31 and n >= 40


def test_infeasible_quotas_write_nothing(world: Engine, tmp_path: Path) -> None:
    service.run(world, "default", 2024, ACTOR)
    rules = _rules(tmp_path, "name: bad\ncount: 10\nzone: {max: 1}\n")
    with pytest.raises(Infeasible, match="zone"):
        lists.select_list(world, rules, 2024, ACTOR)
    with unit_of_work(world) as s:
        assert s.scalar(select(func.count()).select_from(KeyList)) == 0


def test_rules_file_errors_name_the_line(world: Engine, tmp_path: Path) -> None:
    rules = _rules(tmp_path, "name: x\ncount: 5\nzone:\n  mn: 1\n")
    with pytest.raises(YamlError, match=r"line 4 .*unknown field 'mn'"):
        lists.select_list(world, rules, 2024, ACTOR)
    with pytest.raises(NotFound, match="no scoring run"):
        lists.select_list(world, _rules(tmp_path, "name: x\ncount: 5\n"), 2024, ACTOR)


def test_certificate_eligibility_and_consecutive_years(world: Engine, tmp_path: Path) -> None:
    service.run(world, "default", 2024, ACTOR)
    rules = _rules(
        tmp_path,
        "name: hnte-list\ncount: 10\neligibility: {certificates_any: [hnte]}\n",
    )
    chosen = lists.select_list(world, rules, 2024, ACTOR)
    ids = [m[0] for m in chosen.members]
    with unit_of_work(world) as s:
        from innofin.registry.models import Certification

        holders = set(
            s.scalars(select(Certification.enterprise_id).where(Certification.kind == "hnte"))
        )
    assert set(ids) <= holders
    assert any("certificate" in n[4] for n in chosen.near_misses) or all(
        n[0] in holders for n in chosen.near_misses
    )


def test_pilot_zones_rank_and_report_stability(world: Engine) -> None:
    service.run(world, "default", 2024, ACTOR)
    report = pilot.rank_zones(world, 2024, ACTOR, top_n=3)
    assert [r.rank for r in report.rows] == list(range(1, len(report.rows) + 1))
    closeness = [r.closeness for r in report.rows]
    assert closeness == sorted(closeness, reverse=True)
    assert len(report.perturbations) == 2 * len(report.weights)
    assert 0.0 <= report.stable_share <= 1.0
    assert set(report.always_in) <= {r.code for r in report.rows[:3]}
    assert np.isclose(sum(report.weights.values()), 1.0)
    with pytest.raises(InvalidInput, match="unknown criterion"):
        pilot.parse_weights(["nonsense=1"])
    only_gdp = pilot.rank_zones(world, 2024, ACTOR, top_n=3, weights={"gdp": 1.0})
    gdp = [r.values["gdp"] for r in only_gdp.rows]
    assert gdp == sorted(gdp, reverse=True)


def test_enterprises_without_a_report_are_not_scored(world: Engine) -> None:
    with unit_of_work(world) as s:
        total = s.scalar(select(func.count()).select_from(Enterprise))
        missing = s.scalar(select(func.min(Enterprise.id)))
        s.execute(
            IndicatorReport.__table__.delete().where(  # type: ignore[attr-defined]
                IndicatorReport.enterprise_id == missing, IndicatorReport.year == 2024
            )
        )
    run = service.run(world, "default", 2024, ACTOR)
    assert run.enterprises == total - 1
    with unit_of_work(world) as s:
        assert s.get(ScoreResult, (run.run_id, missing)) is None
        assert s.get(ScoreRun, run.run_id) is not None


def test_no_default_months_reads_the_ledger(world: Engine, tmp_path: Path) -> None:
    """The top enterprise is chosen; once its loan defaults inside the window it is left out
    with the reason, and a default before the window does not count."""
    import datetime as dt
    from decimal import Decimal

    from innofin.ledger.journal import perform
    from innofin.ledger.loans import service as ledger
    from innofin.registry.models import Institution

    service.run(world, "default", 2024, ACTOR)
    rules = _rules(tmp_path, "name: nd\ncount: 5\neligibility: {no_default_months: 12}\n")
    first = lists.select_list(world, rules, 2024, ACTOR)
    top = first.members[0][0]
    assert any("read from the ledger" in n for n in first.notes)
    with unit_of_work(world) as s:
        bank = s.scalars(select(Institution.id).where(Institution.kind == "bank")).first()
    assert bank is not None
    maker, checker = Actor.cli("maker"), Actor(label="cli:checker", channel="cli")

    def loan_defaulting_on(ref: str, day: dt.date) -> None:
        spec = ledger.LineSpec(
            institution_id=bank, external_ref=ref, enterprise_id=top,
            limit_amount=Decimal("100000.00"), opens_on=dt.date(2022, 1, 1),
            matures_on=dt.date(2026, 1, 1), rate=Decimal("0.04"),
        )  # fmt: skip
        line = perform(world, lambda s: ledger.propose_line(s, maker, spec), maker).entity_id
        perform(world, lambda s: ledger.approve_line(s, checker, line), checker)
        loan = perform(
            world,
            lambda s: ledger.draw(
                s, maker, line, amount=Decimal("50000.00"), drawn_on=dt.date(2022, 2, 1),
                external_ref=ref, months=12,
            ),
            maker,
        ).entity_id  # fmt: skip
        perform(world, lambda s: ledger.mark_default(s, maker, loan, on=day), maker)

    loan_defaulting_on("OLD", dt.date(2023, 12, 31))  # before the 12 months to 2024-12-31
    again = lists.select_list(world, rules, 2024, ACTOR)
    assert top in [m[0] for m in again.members]
    loan_defaulting_on("NEW", dt.date(2024, 1, 1))  # the window's first day
    third = lists.select_list(world, rules, 2024, ACTOR)
    assert top not in [m[0] for m in third.members]
    reasons = {n[0]: n[4] for n in third.near_misses}
    assert "a default or 90+ days overdue" in reasons[top]


def test_pool_claims_read_the_programmes_candidate_list(world: Engine, tmp_path: Path) -> None:
    """A programme's candidate-enterprise pool is its key list: a claim for a member is
    assessed, a claim for an enterprise outside the list is not eligible."""
    import datetime as dt
    from decimal import Decimal

    from innofin.kernel.errors import InvalidInput
    from innofin.ledger.journal import perform
    from innofin.ledger.loans import service as ledger
    from innofin.ledger.pools import engine as pool_engine
    from innofin.ledger.pools import service as pools
    from innofin.ledger.programmes import service as programme_service
    from innofin.registry.models import Institution

    service.run(world, "default", 2024, ACTOR)
    chosen = lists.select_list(world, _rules(tmp_path, "name: cands\ncount: 5\n"), 2024, ACTOR)
    member = chosen.members[0][0]
    outsider = chosen.near_misses[0][0]
    maker, checker = Actor.cli("maker"), Actor(label="cli:checker", channel="cli")
    day = dt.date(2024, 1, 1)
    with unit_of_work(world, actor=maker) as s:
        bank = s.scalars(select(Institution.id).where(Institution.kind == "bank")).first()
        assert bank is not None
        prog = programme_service.create_programme(
            s, maker, code="PRG", name="示例计划", sponsor="示例省科技厅", starts_on=day,
            ends_on=dt.date(2026, 12, 31), candidate_list="cands", institution_ids=[bank],
        )  # fmt: skip
        pool = pools.create_pool(
            s, maker, code="POOL", name="示例资金池", programme_id=prog.id, opened_on=day,
            rules=pool_engine.province_direct_guaranteed_bonus_rules(),
        )  # fmt: skip
        pools.contribute(s, maker, pool.id, contributor="province", amount=Decimal("1e6"), on=day)
        pool_id = pool.id

    def defaulted_loan(enterprise_id: int) -> int:
        spec = ledger.LineSpec(
            institution_id=bank, external_ref=f"L{enterprise_id}", enterprise_id=enterprise_id,
            limit_amount=Decimal("100000.00"), opens_on=day, matures_on=dt.date(2026, 1, 1),
            rate=Decimal("0.04"), risk_pool_id=pool_id,
        )  # fmt: skip
        line = perform(world, lambda s: ledger.propose_line(s, maker, spec), maker).entity_id
        perform(world, lambda s: ledger.approve_line(s, checker, line), checker)
        loan = perform(
            world,
            lambda s: ledger.draw(s, maker, line, amount=Decimal("100000.00"), drawn_on=day,
                                  external_ref=f"N{enterprise_id}", months=12),
            maker,
        ).entity_id  # fmt: skip
        perform(world, lambda s: ledger.mark_default(s, maker, loan, on=dt.date(2024, 6, 1)), maker)
        return loan

    inside, outside = defaulted_loan(member), defaulted_loan(outsider)
    claim = perform(
        world, lambda s: pools.file_claim(s, maker, pool_id, inside, on=dt.date(2024, 7, 1)), maker
    )
    assert claim.amount == Decimal("30000.00")  # 30 % of the principal outstanding at default
    with pytest.raises(InvalidInput, match="not_in_candidate_pool"):
        perform(
            world,
            lambda s: pools.file_claim(s, maker, pool_id, outside, on=dt.date(2024, 7, 1)),
            maker,
        )
