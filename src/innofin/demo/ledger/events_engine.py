"""Ledger events and limit entries as columns, in the order of history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from innofin.demo.engine import date_series, json_text
from innofin.demo.ledger.dates_engine import moments
from innofin.demo.ledger.params import (
    BANK,
    CATEGORY_NAMES,
    CHECKER,
    MAKER,
    NONE,
    PROGRAMME,
    Array,
    Cols,
)

#: the order of events on one day (ids follow time, then this order)
PRIORITY = {
    "programme_created": 0, "agreement_signed": 1, "pool_opened": 2, "contributed": 3,
    "line_proposed": 4, "line_approved": 5, "drawn": 6, "repaid": 7, "classified": 8,
    "defaulted": 9, "written_off": 10, "recovered": 11, "claim_filed": 12,
    "claim_approved": 13, "claim_paid": 14, "recovery_shared": 16,
}  # fmt: skip
#: the table each ``entity`` / ``account`` / ``source`` of an event or limit entry names
ENTITY_TABLES = {
    "programme": "programme", "agreement": "agreement", "credit_line": "credit_line",
    "loan": "loan", "risk_pool": "risk_pool", "pool_claim": "pool_claim",
    "commitment": "agreement_commitment", "event": "ledger_event",
}  # fmt: skip
#: ids carried beside ``ledger_event.data`` (see `event_data`), in the order they are written
DATA_REFS = {
    "_credit_line_id": ("credit_line_id", "credit_line"),
    "_pool_id": ("pool_id", "risk_pool"),
    "_loan_id": ("loan_id", "loan"),
    "_claim_id": ("claim_id", "pool_claim"),
}

ENTITIES = ("programme", "agreement", "credit_line", "loan", "risk_pool", "pool_claim")
KINDS = tuple(PRIORITY)
ACTORS = (MAKER, CHECKER, BANK, PROGRAMME)
#: ``data`` of an event part: one text for all, or (distinct texts, index of each row's text)
Data = str | tuple[Sequence[str], Array]


def strings(names: Sequence[str], codes: Array) -> pl.Series:
    """A string column from codes into `names` (far cheaper than a list of Python strings)."""
    return pl.Series(list(names), dtype=pl.String).gather(np.asarray(codes, dtype=np.int64))


class Events:
    """Ledger events collected part by part as arrays; `key`s link limit entries to them."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Array]] = []
        self.texts: list[str] = ["{}"]
        self.count = 0

    def add(
        self,
        entity: str,
        entity_id: Array,
        kind: str,
        day: Array,
        actor: str,
        *,
        amount: Array | None = None,
        principal: Array | None = None,
        interest: Array | None = None,
        data: Data = "{}",
        refs: Mapping[str, Array] | None = None,
        seq: Array | None = None,
        priority: int | None = None,
    ) -> Array:
        ids = np.asarray(entity_id, dtype=np.int64)
        n = ids.size
        keys = np.arange(self.count, self.count + n, dtype=np.int64)
        self.count += n
        if isinstance(data, str):
            text = np.full(n, len(self.texts))
            self.texts.append(data)
        else:
            text = len(self.texts) + np.asarray(data[1], dtype=np.int64)
            self.texts += list(data[0])

        def money(values: Array | None) -> Array:
            return np.full(n, -1) if values is None else np.asarray(values, dtype=np.int64)

        part = {
            "entity": np.full(n, ENTITIES.index(entity)),
            "entity_id": ids,
            "kind": np.full(n, KINDS.index(kind)),
            "day": np.asarray(day, dtype=np.int64),
            "amount": money(amount),
            "principal": money(principal),
            "interest": money(interest),
            "text": text,
            "actor": np.full(n, ACTORS.index(actor)),
            "priority": np.full(n, PRIORITY[kind] if priority is None else priority),
            "seq": np.zeros(n, dtype=np.int64) if seq is None else np.asarray(seq),
            "key": keys,
        }
        for column in DATA_REFS:
            given = (refs or {}).get(column)
            part[column] = np.full(n, -1) if given is None else np.asarray(given, dtype=np.int64)
        self.parts.append(part)
        return keys

    def frame(self) -> tuple[pl.DataFrame, Array]:
        """The events in time order (then by kind, entity and sequence), with ids; and the id
        of each key."""
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        key = np.zeros(cols["day"].size, dtype=np.int64)
        bits = 0
        for column in ("day", "priority", "entity_id", "seq"):  # one int64 key, in this order
            value = cols[column] - cols[column].min(initial=0)
            width = int(value.max(initial=0)).bit_length()
            key, bits = (key << width) | value, bits + width
        if bits > 62:
            raise ValueError("too many events for the sort key")
        order = np.argsort(key, kind="stable")  # ties: the order the events were added
        ids = np.arange(1, order.size + 1, dtype=np.int64)
        id_of = np.empty(self.count, dtype=np.int64)
        id_of[cols["key"][order]] = ids
        day = cols["day"][order]
        frame = pl.DataFrame(
            {
                "id": ids,
                "entity": strings(ENTITIES, cols["entity"][order]),
                "entity_id": cols["entity_id"][order],
                "kind": strings(KINDS, cols["kind"][order]),
                "effective_on": date_series("effective_on", day),
                **{c: nullable(cols[c][order]) for c in ("amount", "principal", "interest")},
                "data": strings(self.texts, cols["text"][order]),
                **{c: nullable(cols[c][order]) for c in DATA_REFS},
                "actor": strings(ACTORS, cols["actor"][order]),
                "recorded_at": moments(day, 10),
            }
        )
        return frame, id_of


def json_pairs(pairs: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """A JSON object of string values from (key, expression) pairs."""
    parts: list[pl.Expr] = [pl.lit("{")]
    for i, (key, value) in enumerate(pairs):
        parts += [pl.lit(("," if i else "") + f'"{key}":"'), value, pl.lit('"')]
    return pl.concat_str([*parts, pl.lit("}")])


def event_data(frame: pl.DataFrame, offsets: Mapping[str, int]) -> pl.Series:
    """``ledger_event.data`` with the ids it names (``_credit_line_id`` …, shifted by the
    table's offset) written first, as `ledger.journal.record_event` orders them."""
    pieces = []
    for column, (key, table) in DATA_REFS.items():
        value = (pl.col(column) + offsets.get(table, 0)).cast(pl.String)
        text = pl.concat_str(pl.lit(f'"{key}":'), value, pl.lit(","))
        pieces.append(pl.when(pl.col(column).is_not_null()).then(text).otherwise(pl.lit("")))
    inner = pl.col("data").str.strip_prefix("{").str.strip_suffix("}")
    body = pl.concat_str([*pieces, inner]).str.strip_suffix(",")
    return frame.select(pl.concat_str(pl.lit("{"), body, pl.lit("}")).alias("data")).to_series()


def id_list_json(frame: pl.DataFrame, column: str, offset: int) -> pl.Series:
    """A list column of local ids as the JSON list of stored ids."""
    texts = pl.col(column).list.eval((pl.element() + offset).cast(pl.String)).list.join(",")
    return frame.select(pl.concat_str(pl.lit("["), texts, pl.lit("]")).alias(column)).to_series()


def nullable(values: Array, missing: Array | None = None) -> pl.Series:
    """Int64 with nulls where `missing` (default: where the value is negative)."""
    values = np.asarray(values, dtype=np.int64)
    hole = values < 0 if missing is None else missing
    return pl.Series(np.ma.masked_array(values, hole), dtype=pl.Int64)


# --------------------------------------------------------------------------- lines and loans


def line_and_loan_events(
    lines: Cols, loans: Cols, repaid: Cols, classes: Cols, ev: Events
) -> dict[str, Array]:
    """The events of credit lines and loans; the keys limit entries refer to."""
    line_ids = np.arange(1, lines["opens"].size + 1)
    loan_ids = np.arange(1, loans["drawn"].size + 1)
    keys = {
        "proposed": ev.add("credit_line", line_ids, "line_proposed", lines["opens"], MAKER,
                           amount=lines["limit"]),
        "approved": ev.add("credit_line", line_ids, "line_approved", lines["opens"], CHECKER,
                           amount=lines["limit"]),
        "drawn": ev.add("loan", loan_ids, "drawn", loans["drawn"], BANK,
                        principal=loans["principal"],
                        refs={"_credit_line_id": loans["line"] + 1}),
        "repaid": ev.add("loan", repaid["loan"] + 1, "repaid", repaid["day"], BANK,
                         principal=repaid["principal"], interest=repaid["interest"]),
    }  # fmt: skip
    combo = (classes["category"] * 5 + classes["previous"]) * 1_000 + classes["dpd"]
    distinct, index = np.unique(combo, return_inverse=True)
    texts = [
        json_text(
            {
                "category": str(CATEGORY_NAMES[c // 1_000 // 5]),
                "previous": str(CATEGORY_NAMES[c // 1_000 % 5]),
                "days_past_due": int(c % 1_000),
            }
        )
        for c in distinct.tolist()
    ]
    data: Data = (texts, index.ravel())
    ev.add("loan", classes["loan"] + 1, "classified", classes["day"], BANK, data=data,
           seq=classes["seq"])  # fmt: skip
    for kind, day, amount in (
        ("defaulted", "default_day", "at_default"),
        ("written_off", "write_off_day", "written_off"),
        ("recovered", "recovery_day", "recovered"),
    ):
        rows = np.flatnonzero(loans[day] < NONE)
        ev.add("loan", rows + 1, kind, loans[day][rows], BANK, principal=loans[amount][rows])
    return keys


def claim_events(claims: Cols, ev: Events) -> None:
    """The events of pool claims: filed, approved, paid (by the pool, then on the claim) and the
    recoveries shared back, each payment with its split between the contributors."""
    claim_ids = np.arange(1, claims["loan"].size + 1)
    pool_ids = claims["pool"] + 1
    ev.add(
        "pool_claim",
        claim_ids,
        "claim_filed",
        claims["filed"],
        MAKER,
        amount=claims["covered"],
        refs={"_pool_id": pool_ids, "_loan_id": claims["loan"] + 1},
    )
    decided = np.flatnonzero(claims["approved"] < NONE)
    ev.add(
        "pool_claim",
        claim_ids[decided],
        "claim_approved",
        claims["approved"][decided],
        CHECKER,
        amount=claims["covered"][decided],
    )

    def from_pool(kind: str, rows: Array, day: str, amount: str, split: str) -> None:
        """A payment out of the pool (or back into it) on claims `rows`, with its split."""
        data: Data = (
            ["{" + f'"split":{t}' + "}" for t in claims[split][rows]],
            np.arange(rows.size),
        )
        ev.add(
            "risk_pool",
            pool_ids[rows],
            kind,
            claims[day][rows],
            PROGRAMME,
            amount=claims[amount][rows],
            data=data,
            refs={"_claim_id": claim_ids[rows]},
        )

    paid = np.flatnonzero(claims["paid"] < NONE)
    from_pool("claim_paid", paid, "paid", "covered", "split")
    ev.add(
        "pool_claim",
        claim_ids[paid],
        "claim_paid",
        claims["paid"][paid],
        PROGRAMME,
        amount=claims["covered"][paid],
        priority=PRIORITY["claim_paid"] + 1,
    )
    back = np.flatnonzero(claims["back"] > 0)
    from_pool("recovery_shared", back, "shared", "back", "back_split")


def limit_entries(
    lines: Cols, loans: Cols, repaid: Cols, keys: Mapping[str, Array], id_of: Array
) -> pl.DataFrame:
    """Reservations, releases and consumptions, as `ledger.loans.service` writes them: a committed
    line reserves its limit when proposed, releases and consumes it when approved; a drawdown
    consumes its line; a repayment on a revolving line releases it."""
    committed = np.flatnonzero(lines["commitment"] >= 0)
    limit = lines["limit"][committed]
    release = np.flatnonzero(repaid["release"])
    parts = [
        ("commitment", lines["commitment"][committed] + 1, "reserve", limit, "credit_line",
         committed + 1, keys["proposed"][committed], 0),
        ("commitment", lines["commitment"][committed] + 1, "release", limit, "credit_line",
         committed + 1, keys["approved"][committed], 0),
        ("commitment", lines["commitment"][committed] + 1, "consume", limit, "credit_line",
         committed + 1, keys["approved"][committed], 1),
        ("credit_line", loans["line"] + 1, "consume", loans["principal"], "loan",
         np.arange(1, loans["drawn"].size + 1), keys["drawn"], 0),
        ("credit_line", loans["line"][repaid["loan"][release]] + 1, "release",
         repaid["principal"][release], "event", np.zeros(release.size),
         keys["repaid"][release], 0),
    ]  # fmt: skip
    accounts, kinds = ("commitment", "credit_line"), ("reserve", "release", "consume")
    sources = ("credit_line", "loan", "event")
    cols: dict[str, list[Array]] = {
        k: [] for k in ("account", "account_id", "kind", "amount", "source", "source_id",
                        "event_id", "order")
    }  # fmt: skip
    for account, account_id, kind, amount, source, source_id, key, rank in parts:
        event_id = id_of[key]
        n = event_id.size
        cols["account"].append(np.full(n, accounts.index(account)))
        cols["account_id"].append(np.asarray(account_id, dtype=np.int64))
        cols["kind"].append(np.full(n, kinds.index(kind)))
        cols["amount"].append(np.asarray(amount, dtype=np.int64))
        cols["source"].append(np.full(n, sources.index(source)))
        cols["source_id"].append(event_id if source == "event" else np.asarray(source_id))
        cols["event_id"].append(event_id)
        cols["order"].append(np.full(n, rank))  # within an event: release before consume
    flat = {k: np.concatenate(v).astype(np.int64) for k, v in cols.items()}
    order = np.argsort(flat["event_id"] * 2 + flat["order"], kind="stable")
    return pl.DataFrame(
        {
            "id": np.arange(1, order.size + 1, dtype=np.int64),
            "account": strings(accounts, flat["account"][order]),
            "account_id": flat["account_id"][order],
            "kind": strings(kinds, flat["kind"][order]),
            "amount": flat["amount"][order],
            "source": strings(sources, flat["source"][order]),
            "source_id": flat["source_id"][order],
            "event_id": flat["event_id"][order],
        }
    )
