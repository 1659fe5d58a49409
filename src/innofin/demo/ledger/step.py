"""The ledger step of the demo: make the tables, then write them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from innofin.db.base import Base
from innofin.demo.engine import DemoData, StepInput, date_series
from innofin.demo.ids import WriteContext, write_frame
from innofin.demo.ledger.agreements_engine import assign, make_commitments
from innofin.demo.ledger.book_engine import (
    add_losses,
    classifications,
    instalments,
    principals,
    repayments,
    set_limits,
    year_scales,
)
from innofin.demo.ledger.borrowers_engine import (
    after_first_miss,
    in_time_order,
    make_lines,
    make_loans,
)
from innofin.demo.ledger.claims_engine import make_claims, make_pools
from innofin.demo.ledger.dates_engine import year_of
from innofin.demo.ledger.events_engine import (
    DATA_REFS,
    ENTITY_TABLES,
    Events,
    claim_events,
    event_data,
    id_list_json,
    limit_entries,
    line_and_loan_events,
)
from innofin.demo.ledger.rules import pool_terms
from innofin.demo.ledger.tables_engine import claim_table, line_table, loan_table, programme_tables
from innofin.demo.ledger.world_engine import make_plan, make_world

#: the tables the step makes, in write order
TABLES = (
    "programme", "programme_target", "agreement", "agreement_commitment", "risk_pool",
    "credit_line", "loan", "loan_instalment", "ledger_event", "limit_entry", "pool_claim",
)  # fmt: skip


def make_ledger(inp: StepInput) -> Mapping[str, Any]:
    rng = inp.rng
    w = make_world(inp)
    plan = make_plan(w)
    lines = make_lines(rng, w, plan)
    loans = make_loans(rng, w, lines)
    lines, loans = in_time_order(*after_first_miss(lines, loans))
    raw = lines["base"][loans["line"]] * loans["share"]
    scales = year_scales(rng, w, raw, loans)
    cohort = year_of(loans["drawn"]) - w.first_year
    loans["principal"] = principals(raw, scales, cohort)
    loans["rate"] = (lines["rate"] + lines["spread_bp"])[loans["line"]]
    inst = instalments(
        loans["drawn"], loans["principal"], loans["rate"], loans["months"], loans["method"]
    )
    repaid = repayments(w, loans, inst)
    add_losses(loans, repaid)
    classes = classifications(w, loans)
    set_limits(rng, w, lines, loans, repaid, scales)
    agreements = assign(rng, w, plan, lines)
    commitments = make_commitments(rng, agreements, lines, w.as_of)
    terms = pool_terms()
    claims = make_claims(rng, w, terms, lines, loans)
    pools = make_pools(w, plan, terms, lines, loans, repaid, claims)

    ev = Events()
    tables = programme_tables(w, plan, agreements, commitments, terms, pools, ev)
    keys = line_and_loan_events(lines, loans, repaid, classes, ev)
    claim_events(claims, ev)
    events, id_of = ev.frame()
    tables["credit_line"] = line_table(w, lines)
    tables["loan"] = loan_table(w, lines, loans)
    tables["loan_instalment"] = pl.DataFrame(
        {
            "id": np.arange(1, inst["loan"].size + 1, dtype=np.int64),
            "loan_id": inst["loan"] + 1,
            "seq": inst["seq"],
        }
    ).with_columns(
        date_series("due_on", inst["due"]),
        pl.Series("principal", inst["principal"], dtype=pl.Int64),
        pl.Series("interest", inst["interest"], dtype=pl.Int64),
    )
    tables["ledger_event"] = events
    tables["limit_entry"] = limit_entries(lines, loans, repaid, keys, id_of)
    tables["pool_claim"] = claim_table(w, claims)
    return {name: tables[name] for name in TABLES}


def write_ledger(ctx: WriteContext, data: DemoData) -> Mapping[str, int]:
    """The ledger's tables. Ids that are not foreign keys — an event's ``entity_id``, a limit
    entry's ``account_id`` and ``source_id``, the ids inside ``ledger_event.data`` and the
    programmes' zone and institution lists — are shifted here by their table's offset."""
    tables = data.tables
    offset = {kind: ctx.offsets.get(table, 0) for kind, table in ENTITY_TABLES.items()}
    programme = tables["programme"]
    programme = programme.with_columns(
        id_list_json(programme, "zone_ids", ctx.offsets.get("zone", 0)),
        id_list_json(programme, "institution_ids", ctx.offsets.get("institution", 0)),
    )
    events = tables["ledger_event"]
    events = events.with_columns(
        (pl.col("entity_id") + pl.col("entity").replace_strict(offset, return_dtype=pl.Int64)),
        event_data(events, ctx.offsets),
    ).drop(*DATA_REFS)
    entries = tables["limit_entry"].with_columns(
        pl.col("account_id") + pl.col("account").replace_strict(offset, return_dtype=pl.Int64),
        pl.col("source_id") + pl.col("source").replace_strict(offset, return_dtype=pl.Int64),
    )
    frames = {**tables, "programme": programme, "ledger_event": events, "limit_entry": entries}
    return {n: write_frame(ctx, Base.metadata.tables[n], frames[n]) for n in TABLES}
