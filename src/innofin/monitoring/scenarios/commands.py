"""`innofin monitor scenario run|show|list`: what-if runs on a programme's levers (risk share,
rate cap, quota, key-list size), stored with their seed and inputs and shown with the band."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import typer

from innofin.cli_support import console, table
from innofin.ledger.cli_options import REASON, amount_arg, day_arg, read

app = typer.Typer(
    help="Scenarios: projected balances, defaults and pool payouts under changed levers.",
    no_args_is_help=True,
)


def _json(value: Any) -> str:
    return json.dumps(dataclasses.asdict(value), ensure_ascii=False, default=str, indent=1)


def _yi(value: Any) -> str:
    return f"{float(value) / 1e8:,.2f}"


@app.command("run")
def run(
    programme: str | None = typer.Option(
        None, "--programme", help="A programme, by id or code (default: every programme)."
    ),
    risk_share: float | None = typer.Option(
        None, "--risk-share", min=0.0, max=1.0, help="Share of a default the pool pays (0–1)."
    ),
    rate_cap: float | None = typer.Option(
        None, "--rate-cap", min=0.0, max=1.0, help="Highest annual rate on new loans (0.045)."
    ),
    quota: str | None = typer.Option(None, "--quota", help="New special credit a year, yuan."),
    key_list_size: int | None = typer.Option(
        None, "--key-list-size", min=0, help="Firms on the key list."
    ),
    months: int = typer.Option(24, "--months", min=12, max=36, help="Horizon in months."),
    paths: int = typer.Option(1000, "--paths", min=100, max=20000, help="Monte Carlo paths."),
    seed: int | None = typer.Option(
        None, "--seed", min=0, max=2_147_483_647, help="The seed (default: drawn and stored)."
    ),
    shock: float = typer.Option(
        0.0,
        "--shock",
        min=0.0,
        max=3.0,
        help="σ of a shared shock to every loan's default hazard on a path (0: none).",
    ),
    name: str | None = typer.Option(None, "--name", help="A name for the run."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Project from this day, YYYY-MM-DD (default: the ledger's last)."
    ),
    reason: str | None = REASON,
    as_json: bool = typer.Option(False, "--json", help="Print the stored result as JSON."),
) -> None:
    """Run a scenario: the programme's baseline levers with the ones given changed, a Monte
    Carlo on default and prepayment rates estimated from the ledger, stored with its seed."""
    from innofin.audit.recorder import Actor
    from innofin.db.engine import unit_of_work
    from innofin.ledger.cli_options import programme_by_ref
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.scenarios import service as scenario

    levers: dict[str, Any] = {}
    if risk_share is not None:
        levers["risk_share"] = risk_share
    if rate_cap is not None:
        levers["rate_cap"] = rate_cap
    if quota is not None:
        levers["quota"] = float(amount_arg(quota, "quota"))
    if key_list_size is not None:
        levers["key_list_size"] = key_list_size
    day = None if as_of is None else day_arg(as_of, "as-of")
    from innofin.cli_support import engine

    eng = engine()
    try:
        with unit_of_work(eng, actor=Actor.cli(reason)) as s:
            pid = None if programme is None else programme_by_ref(s, programme).id
            with console.status("simulating …"):
                run_id = scenario.run_scenario(
                    s, OPERATOR, Actor.cli(reason), pid, levers=levers,
                    assumptions={"months": months, "paths": paths, "default_shock": shock},
                    seed=seed, name=name,
                    as_of=day,
                )  # fmt: skip
            result = scenario.scenario_result(s, OPERATOR, run_id)
    finally:
        eng.dispose()
    if as_json:
        print(_json(result))
        return
    _print(result)


def _print(r: Any) -> None:
    low, high = (f"{q:.0%}" for q in r.band)
    console.print(
        f"scenario run {r.id} (seed {r.seed}, {r.paths} paths, as of {r.as_of}): book of "
        f"{r.book_loans} loans, {_yi(r.book_balance)} 亿元",
        highlight=False,
    )
    lever_rows = [
        (name, _lever(getattr(r.baseline, name)), _lever(getattr(r.levers, name)))
        for name in ("risk_share", "rate_cap", "quota", "key_list_size")
    ]
    console.print(table("Levers 政策杠杆", ("lever", "baseline", "this run"), lever_rows))
    rows = [
        (m.month, str(m.month_end), _yi(m.balance), f"{_yi(m.balance_low)}–{_yi(m.balance_high)}",
         _yi(m.cumulative_defaults),
         f"{_yi(m.cumulative_defaults_low)}–{_yi(m.cumulative_defaults_high)}",
         _yi(m.payouts), f"{_yi(m.payouts_low)}–{_yi(m.payouts_high)}", _yi(m.new_lending))
        for m in r.projection
        if m.month % 3 == 0 or m.month == 1
    ]  # fmt: skip
    console.print(
        table(
            f"Projection 预测（亿元; band {low}–{high}）",
            (
                "month",
                "month end",
                "balance",
                "band",
                "defaults (cum.)",
                "band",
                "pool payouts (cum.)",
                "band",
                "new lending",
            ),
            rows,
        )
    )  # fmt: skip
    console.print(
        f"pool balance {_yi(r.pool_balance)} 亿元; probability that payouts exceed it by month "
        f"{r.months}: {r.pool_shortfall:.1%}",
        highlight=False,
    )


def _lever(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float) and value > 1000:
        return f"{value / 1e8:,.2f} 亿元"
    return str(value)


@app.command("show")
def show(
    run_id: int = typer.Argument(..., min=1, max=2_147_483_647, help="The run's id."),
    check: bool = typer.Option(
        False,
        "--check",
        help="Recompute the run from its stored inputs and seed (exit 4 if the figures differ).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a stored scenario run: levers, assumptions, the projection with its band."""
    from innofin.kernel.errors import Conflict
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.scenarios import service as scenario

    result = read(lambda s: scenario.scenario_result(s, OPERATOR, run_id))
    if as_json:
        print(_json(result))
    else:
        _print(result)
    if check:
        same = read(lambda s: scenario.replay(s, OPERATOR, run_id))
        if not same:
            raise Conflict(f"scenario run {run_id} does not recompute to its stored figures")
        console.print(f"run {run_id} recomputed from seed {result.seed}: the same figures")


@app.command("list")
def list_runs(
    programme: str | None = typer.Option(None, "--programme", help="One programme's runs."),
) -> None:
    """The stored scenario runs, newest first."""
    from innofin.ledger.cli_options import programme_by_ref
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.scenarios import service as scenario

    def use(s: Any) -> Any:
        pid = None if programme is None else programme_by_ref(s, programme).id
        return scenario.scenario_runs(s, OPERATOR, pid)

    runs = read(use)
    console.print(
        table(
            "Scenario runs 情景",
            (
                "id",
                "programme",
                "name",
                "as of",
                "months",
                "seed",
                "risk share",
                "quota (亿元)",
                "balance at horizon (亿元)",
                "payouts (亿元)",
            ),
            [
                (
                    r.id,
                    r.programme_id,
                    r.name,
                    str(r.as_of),
                    r.months,
                    r.seed,
                    r.levers.risk_share,
                    _yi(r.levers.quota),
                    _yi(r.balance_at_horizon),
                    _yi(r.payouts_at_horizon),
                )
                for r in runs
            ],
        )
    )  # fmt: skip


def add_to(monitor: typer.Typer) -> None:
    monitor.add_typer(app, name="scenario")


#: make demo's runs: the baseline, more cover with a cap on rates, more quota and a longer key
#: list (new lending is the smaller of the two, so one alone may change nothing)
DEMO_RUNS = ("baseline", "risk share 0.8, rate cap 5%", "quota and key list +50%")


def _band_text(low: Any, high: Any) -> str:
    return f"{_yi(low)}–{_yi(high)}"


def print_demo(eng: Any, seed: int) -> None:
    """`make demo`'s part: the provincial programme's institution scorecards, then a scenario of
    its baseline beside two changes of its levers (the same seed)."""
    from innofin.audit.recorder import Actor
    from innofin.cli_support import section
    from innofin.db.engine import unit_of_work
    from innofin.ledger.cli_options import programme_by_ref
    from innofin.matching.scopes import OPERATOR
    from innofin.monitoring.funnel.scorecard import scorecards
    from innofin.monitoring.scenarios import service as scenario

    section("[bold]Institution scorecards and a scenario (DEMO-PRG-PROVINCE)")
    actor = Actor.cli("make demo")
    with unit_of_work(eng, actor=actor) as s:
        pid = programme_by_ref(s, "DEMO-PRG-PROVINCE").id
        cards = scorecards(s, OPERATOR, pid)
        results: list[Any] = []
        for name in DEMO_RUNS:
            levers: dict[str, Any] = {}
            if name == DEMO_RUNS[1]:
                levers = {"risk_share": 0.8, "rate_cap": 0.05}
            elif name == DEMO_RUNS[2]:
                base = results[0].baseline
                levers = {"quota": base.quota * 1.5, "key_list_size": base.key_list_size * 3 // 2}
            run_id = scenario.run_scenario(
                s, OPERATOR, actor, pid, levers=levers, seed=seed, name=name,
                assumptions={"months": 24, "paths": 500},
            )  # fmt: skip
            results.append(scenario.scenario_result(s, OPERATOR, run_id))
    console.print(
        table(
            "Institution scorecards 机构评价",
            ("institution", "lines", "points share", "loans", "default rate"),
            [
                (c.institution_name, c.credit_lines,
                 "" if c.points_share is None else f"{c.points_share:.1%}", c.loans,
                 "" if c.default_rate is None else f"{c.default_rate:.1%}")
                for c in cards.cards
            ],
        )
    )  # fmt: skip
    low, high = (f"{q:.0%}" for q in results[0].band)
    rows = []
    for r in results:
        end = r.projection[-1]
        rows.append(
            (f"run {r.id}: {r.name}", _yi(end.balance),
             _band_text(end.balance_low, end.balance_high),
             _yi(end.cumulative_defaults), _yi(end.payouts),
             _band_text(end.payouts_low, end.payouts_high))
        )  # fmt: skip
    console.print(
        table(
            f"Scenario at {results[0].projection[-1].month_end} "
            f"(亿元; band {low}–{high}, seed {seed})",
            ("run", "balance", "band", "defaults (cum.)", "pool payouts (cum.)", "band"),
            rows,
        )
    )  # fmt: skip
