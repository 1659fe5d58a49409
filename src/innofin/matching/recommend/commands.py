"""`innofin match precheck|recommend|institution|backtest`: pre-check a product, recommend both
ways, back-test.

Exit codes: 0 done; 2 invalid input (an option named); 3 a need, product, enterprise or
institution that does not exist.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from innofin.cli_support import console, engine, table
from innofin.ledger.cli_options import day_arg

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from innofin.matching.schemas import InstitutionRecommendations, NeedRecommendations


def precheck(
    need_id: int = typer.Argument(..., help="The financing need."),
    product_id: int = typer.Argument(..., help="The product to check it against."),
) -> None:
    """Each eligibility rule of a product for a need, passed or failed, in Chinese and English."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.recommend import service
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            result = service.precheck(session, OPERATOR, need_id, product_id)
    finally:
        eng.dispose()
    verdict = "eligible 符合条件" if result.eligible else "not eligible 不符合条件"
    console.print(f"need {need_id} × product {result.product_id} {result.product_name}: {verdict}")
    for rule in result.rules:
        mark = "✓" if rule.passed else "✗"
        console.print(f"  {mark} {rule.zh}\n      {rule.en}", highlight=False, markup=False)


def print_need(result: NeedRecommendations) -> None:
    console.print(
        f"need {result.need_id} (enterprise {result.enterprise_id}): "
        f"{result.eligible_products} eligible products",
        highlight=False,
    )
    if result.message:
        console.print(f"  {result.message}", highlight=False)
    for i, m in enumerate(result.products, 1):
        console.print(
            f"  {i}. {m.product_name} [{m.institution_name}] fit {m.score:.3f}",
            highlight=False,
            markup=False,
        )
        for reason in m.reasons:
            console.print(f"       - {reason.en} / {reason.zh}", highlight=False, markup=False)
    if result.institutions:
        console.print("  institutions: " + "; ".join(
            f"{m.institution_name} {m.score:.3f}" for m in result.institutions
        ), highlight=False, markup=False)  # fmt: skip
    for miss in result.near_misses:
        console.print(
            f"  near miss: {miss.product_name} — fails on {miss.failed_rule}: {miss.en}",
            highlight=False,
            markup=False,
        )


def print_institution(result: InstitutionRecommendations) -> None:
    console.print(f"{result.institution_name}: best-fitting needs", highlight=False)
    if result.message:
        console.print(f"  {result.message}", highlight=False)
    for i, f in enumerate(result.firms, 1):
        who = f.enterprise_name or f"(anonymous {f.tech_field}, {f.growth_stage}, {f.zone_code})"
        console.print(
            f"  {i}. need {f.need_id} {who}: {f.amount:,.0f} yuan, {f.term_months} months, "
            f"{f.purpose} — fit {f.score:.3f}",
            highlight=False,
            markup=False,
        )
        for reason in f.reasons[:2]:
            console.print(f"       - {reason.en}", highlight=False, markup=False)


def recommend(
    need_id: int = typer.Argument(..., help="The financing need."),
    top: int = typer.Option(5, min=1, max=50, help="How many products and institutions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The best products and institutions for a need, with reasons and near misses."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.recommend import service
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            result = service.recommend_need(session, OPERATOR, need_id, top)
    finally:
        eng.dispose()
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    print_need(result)


def institution(
    institution_id: int = typer.Argument(..., help="The institution."),
    top: int = typer.Option(10, min=1, max=100, help="How many needs."),
) -> None:
    """The open needs that fit an institution best."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.recommend import service
    from innofin.matching.scopes import OPERATOR

    eng = engine()
    try:
        with unit_of_work(eng) as session:
            result = service.recommend_institution(session, OPERATOR, institution_id, top)
    finally:
        eng.dispose()
    print_institution(result)


def backtest(
    train_until: str = typer.Option(..., help="Track records from loans drawn up to this day."),
    test_from: str = typer.Option(..., help="Test on loans drawn from this day on."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Where the lenders of the test period rank: hit@1/3/10 and MRR, beside two baselines.

    The baselines are the most active lenders overall and in the firm's zone."""
    from innofin.db.engine import unit_of_work
    from innofin.matching.recommend import service

    until = day_arg(train_until, "train-until")
    start = day_arg(test_from, "test-from")
    eng = engine()
    try:
        with unit_of_work(eng) as session:
            result = service.backtest(session, until, start)
    finally:
        eng.dispose()
    if as_json:
        typer.echo(json.dumps(result.as_json()))
        return
    print_backtest(result.as_json())


def print_backtest(figures: dict[str, object]) -> None:
    rows = [("recommender", figures["recommender"])]
    baselines = figures["baselines"]
    assert isinstance(baselines, dict)
    rows += [
        ("most active overall", baselines["overall"]),
        ("most active in zone", baselines["zone"]),
    ]
    console.print(
        table(
            f"Back-test: {figures['tested']} enterprises that borrowed in the test period",
            ("ranking", "hit@1", "hit@3", "hit@10", "MRR"),
            [
                (name, *(f"{m[k]:.1%}" for k in ("hit@1", "hit@3", "hit@10")), f"{m['mrr']:.3f}")
                for name, m in rows
                if isinstance(m, dict)
            ],
        )
    )


def print_demo(eng: Engine, last_year: int) -> None:
    """`make demo`'s matching part: the needs posted, recommendations for a sample firm and the
    bank that fits it best, and the back-test of the last year against both baselines."""
    import datetime as dt

    import numpy as np

    from innofin.cli_support import section
    from innofin.db.engine import unit_of_work
    from innofin.matching import queries
    from innofin.matching.recommend import service
    from innofin.matching.scopes import OPERATOR

    section("[bold]9. Matching: financing needs, recommendations both ways, back-test")
    with unit_of_work(eng) as session:
        needs = queries.open_needs(session)
        if not needs:
            console.print("  no open financing needs")
            return
        run = queries.run_recommendations(session, needs, k=3)
        counts = run.result.eligible_count
        console.print(
            f"  {len(needs):,} open needs; {np.mean(counts > 0):.0%} have at least one eligible "
            f"product (median {np.median(counts):.0f} of {len(run.catalogue.ids):,})",
            highlight=False,
        )
        sample = int(np.argmax(counts))  # the need with most choices (the first such)
        firm = queries.need_recommendations(run, sample, frozenset())
        section("[bold]  A sample firm's need")
        print_need(firm)
        with_record = [
            m for m in firm.institutions if any(r.code == "track_record" for r in m.reasons)
        ]
        chosen = (with_record or firm.institutions)[:1]
        if chosen:
            bank = service.recommend_institution(session, OPERATOR, chosen[0].institution_id, top=5)
            section("[bold]  The best-fitting needs for a sample institution")
            print_institution(bank)
        figures = service.backtest(
            session, dt.date(last_year - 1, 12, 31), dt.date(last_year, 1, 1)
        ).as_json()
    section(f"[bold]  Back-test: track records to {last_year - 1}, lenders of {last_year}")
    print_backtest(figures)
    mine = figures["recommender"]
    baselines = figures["baselines"]
    assert isinstance(mine, dict) and isinstance(baselines, dict)
    beaten = [
        name
        for name, other in baselines.items()
        if mine["hit@1"] > other["hit@1"] and mine["mrr"] > other["mrr"]
    ]
    verdict = (
        "beats both baselines" if len(beaten) == 2 else f"beats: {', '.join(beaten) or 'none'}"
    )
    console.print(f"  the recommender {verdict} (hit@1 and MRR)", highlight=False)
