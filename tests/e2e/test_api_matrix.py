"""The authorisation matrix: every endpoint × every caller (and an anonymous one).

Each case states, for every caller, whether the call succeeds, or is refused with 401 (not signed
in), 403 (role not allowed, or visible but not changeable) or 404 (the row is not visible to the
caller). Reads run first and also check that no response carries another organisation's rows;
writes follow. The test fails when the application has an endpoint without a case here (and
`create_app` already refuses a route without a policy action).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine

import factories
from api_world import (
    ANON,
    CALLERS,
    EVERYONE,
    FILERS,
    KEY_LIST,
    OBJECTORS,
    REFERRERS,
    RESPONDERS,
    RESPONDERS_YI,
    RUNNERS,
    RUNNERS_YI,
    Api,
    World,
    build_world,
    leak_markers,
    make_api,
)
from innofin.server.app import route_actions

OK = "ok"
Expect = dict[str, Any]


def allow(*callers: str, hidden: tuple[str, ...] = (), public: bool = False) -> Expect:
    """`callers` succeed, `hidden` get 404, other signed-in callers 403, the anonymous 401."""
    out: Expect = {}
    for name in EVERYONE:
        if name in callers or (public and name == ANON):
            out[name] = OK
        elif name in hidden:
            out[name] = 404
        else:
            out[name] = 401 if name == ANON else 403
    return out


ALL = CALLERS
OFFICERS = ("admin", "national", "province", "zone")
AGGREGATE_READERS = ("admin", "national", "province", "zone", "bank_a", "bank_b")
READERS = AGGREGATE_READERS  # of programmes, agreements, pools and claims
_counter = itertools.count(100)


@dataclass
class Case:
    method: str
    template: str  # the OpenAPI path
    path: Callable[[World], str]
    expect: Expect
    body: Callable[[World, str], dict[str, Any]] | None = None
    files: Callable[[World, str], dict[str, Any]] | None = None
    fresh_token: bool = False  # logout ends the session it is called with
    #: the path for one caller, when each caller needs a row of its own (a claim is decided once)
    path_for: Callable[[World, str], str] | None = None

    def url(self, w: World, who: str) -> str:
        return self.path_for(w, who) if self.path_for is not None else self.path(w)


def own(prefix: str, owners: tuple[str, ...], template: str) -> Callable[[World, str], str]:
    """The path to the caller's own row ``<prefix>_<who>`` (the first owner's for the others)."""

    def path(w: World, who: str) -> str:
        return template.format(w.ids[f"{prefix}_{who if who in owners else owners[0]}"])

    return path


def _zone_body(_w: World, who: str) -> dict[str, Any]:
    n = next(_counter)
    return {
        "code": f"ZN{n}",
        "name_zh": "新区",
        "name_en": "New zone",
        "province": "丙省",
        "city": "某市",
        "level": "provincial",
    }


def _enterprise_body(w: World, who: str) -> dict[str, Any]:
    return {"identifier": factories.uscc(next(_counter)), "name": "新企业", "zone_id": w.ids["z1"]}


def _cert_body(_w: World, _who: str) -> dict[str, Any]:
    n = next(_counter)
    return {"kind": "tech_sme", "valid_from": f"20{n % 90 + 10:02d}-01-01"}


def _institution_body(_w: World, _who: str) -> dict[str, Any]:
    return {"code": f"INST-{next(_counter)}", "name": "新机构", "kind": "guarantor"}


def _product_body(w: World, who: str) -> dict[str, Any]:
    owner = {"bank_a": "a1", "bank_b": "b"}.get(who, "a")
    return {
        "code": f"PROD-{next(_counter)}",
        "institution_id": w.ids[owner],
        "name": "新产品",
        "kind": "ip_pledge_loan",
        "financing_mode": "indirect",
        "amount_min": "100000.00",
        "amount_max": "2000000.00",
    }


def _referral_body(w: World, who: str) -> dict[str, Any]:
    target = {"admin": ("e3", "a1"), "national": ("e3", "b"), "province": ("e1", "b")}
    enterprise, institution = target.get(who, ("e2", "b"))
    return {"enterprise_id": w.ids[enterprise], "institution_id": w.ids[institution]}


def _user_body(_w: World, _who: str) -> dict[str, Any]:
    return {
        "username": f"user{next(_counter)}",
        "password": "long-enough-password",
        "roles": ["programme_officer"],
        "org_kind": "government",
    }


def _upload(_w: World, _who: str) -> dict[str, Any]:
    csv = (
        "code,name_zh,name_en,province,city,level\n"
        + f"ZU{next(_counter)},上传区,Up,丁省,某市,national\n"
    )
    return {"file": ("zones.csv", csv.encode("utf-8"), "text/csv")}


def _moved(
    field: str, values: dict[str, str], other: str, ids: bool = False
) -> Callable[[World, str], dict[str, Any]]:
    """A body that sets a field deciding who sees the row: callers in `values` move it (and the
    last moves it back, so the world is unchanged), every other caller sends `other`."""

    def body(w: World, who: str) -> dict[str, Any]:
        value = values.get(who, other)
        return {field: w.ids[value] if ids else value}

    return body


def ids(key: str) -> Callable[[World], str]:
    return lambda w: str(w.ids[key])


def _programme_reads(collection: str, item: str, key: str) -> list[Case]:
    """The list, a row of 甲's (zone Z1, bank A) and a row of 乙's (zone Z2, bank B)."""
    one = f"/api/v1/{collection}/{{{item}}}"
    return [
        Case("GET", f"/api/v1/{collection}", lambda w: f"/api/v1/{collection}", allow(*READERS)),
        Case(
            "GET",
            one,
            lambda w: f"/api/v1/{collection}/{w.ids[f'{key}_jia']}",
            allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
        ),
        Case(
            "GET",
            one,
            lambda w: f"/api/v1/{collection}/{w.ids[f'{key}_yi']}",
            allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a")),
        ),
    ]


READS: list[Case] = [
    Case("GET", "/api/v1/health", lambda w: "/api/v1/health", allow(*ALL, public=True)),
    Case("GET", "/api/v1/auth/me", lambda w: "/api/v1/auth/me", allow(*ALL)),
    Case("GET", "/api/v1/users", lambda w: "/api/v1/users", allow("admin")),
    Case(
        "GET",
        "/api/v1/consents",
        lambda w: "/api/v1/consents",
        allow("admin", "bank_a", "bank_b", "firm"),
    ),
    Case(
        "GET",
        "/api/v1/referrals",
        lambda w: "/api/v1/referrals",
        allow(*OFFICERS, "bank_a", "bank_b"),
    ),
    Case("GET", "/api/v1/zones", lambda w: "/api/v1/zones", allow(*ALL)),
    Case("GET", "/api/v1/zones/{zone_id}", lambda w: f"/api/v1/zones/{w.ids['z2']}", allow(*ALL)),
    Case(
        "GET",
        "/api/v1/zones/{zone_id}/stats",
        lambda w: f"/api/v1/zones/{w.ids['z1']}/stats",
        allow(*OFFICERS),
    ),
    Case(
        "GET",
        "/api/v1/zones/{zone_id}/stats",
        lambda w: f"/api/v1/zones/{w.ids['z2']}/stats",
        allow("admin", "national", hidden=("province", "zone")),
    ),
    Case("GET", "/api/v1/enterprises", lambda w: "/api/v1/enterprises", allow(*ALL)),
    Case(
        "GET",
        "/api/v1/enterprises/{enterprise_id}",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case(
        "GET",
        "/api/v1/enterprises/{enterprise_id}",
        lambda w: f"/api/v1/enterprises/{w.ids['e2']}",
        allow(*OFFICERS, "bank_a", hidden=("bank_b", "firm")),
    ),
    Case(
        "GET",
        "/api/v1/enterprises/{enterprise_id}",
        lambda w: f"/api/v1/enterprises/{w.ids['e3']}",
        allow("admin", "national", hidden=("province", "zone", "bank_a", "bank_b", "firm")),
    ),
    Case(
        "GET",
        "/api/v1/enterprises/{enterprise_id}/reports",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}/reports",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case(  # referred, no consent: bank A sees the enterprise but not its indicators
        "GET",
        "/api/v1/enterprises/{enterprise_id}/reports",
        lambda w: f"/api/v1/enterprises/{w.ids['e2']}/reports",
        allow(*OFFICERS, hidden=("bank_b", "firm")),
    ),
    Case(
        "GET",
        "/api/v1/enterprises/{enterprise_id}/certifications",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}/certifications",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case("GET", "/api/v1/institutions", lambda w: "/api/v1/institutions", allow(*ALL)),
    Case(
        "GET",
        "/api/v1/institutions/{institution_id}",
        lambda w: f"/api/v1/institutions/{w.ids['b']}",
        allow(*OFFICERS, "bank_b", "firm", hidden=("bank_a",)),
    ),
    Case("GET", "/api/v1/products", lambda w: "/api/v1/products", allow(*ALL)),
    Case(
        "GET",
        "/api/v1/products/{product_id}",
        lambda w: f"/api/v1/products/{w.ids['pa1']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case(
        "GET",
        "/api/v1/aggregates/enterprises",
        lambda w: "/api/v1/aggregates/enterprises?year=2024&group_by=zone",
        allow(*AGGREGATE_READERS),
    ),
    Case(
        "GET",
        "/api/v1/aggregates/institutions",
        lambda w: "/api/v1/aggregates/institutions",
        allow(*AGGREGATE_READERS),
    ),
    Case("GET", "/api/v1/audit", lambda w: "/api/v1/audit", allow("admin")),
    Case(
        "GET",
        "/api/v1/enterprises/{enterprise_id}/score",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}/score?year=2024",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case(  # referred, no consent: bank A sees the points but not the breakdown
        "GET",
        "/api/v1/enterprises/{enterprise_id}/score",
        lambda w: f"/api/v1/enterprises/{w.ids['e2']}/score?year=2024",
        allow(*OFFICERS, "bank_a", hidden=("bank_b", "firm")),
    ),
    Case(
        "GET",
        "/api/v1/enterprises/{enterprise_id}/score",
        lambda w: f"/api/v1/enterprises/{w.ids['e3']}/score?year=2024",
        allow("admin", "national", hidden=("province", "zone", "bank_a", "bank_b", "firm")),
    ),
    Case(
        "GET",
        "/api/v1/key-lists/{name}",
        lambda w: f"/api/v1/key-lists/{KEY_LIST}",
        allow(*AGGREGATE_READERS),
    ),
    Case(
        "GET",
        "/api/v1/zone-rankings/{year}",
        lambda w: "/api/v1/zone-rankings/2024",
        allow(*OFFICERS),
    ),
    Case("GET", "/api/v1/credit-lines", lambda w: "/api/v1/credit-lines", allow(*ALL)),
    Case("GET", "/api/v1/loans", lambda w: "/api/v1/loans", allow(*ALL)),
    Case(
        "GET",
        "/api/v1/credit-lines/{line_id}",
        lambda w: f"/api/v1/credit-lines/{w.ids['line_a']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case(  # bank B's line to e3 (乙省): invisible to bank A, 甲省, zone Z1 and e1
        "GET",
        "/api/v1/credit-lines/{line_id}",
        lambda w: f"/api/v1/credit-lines/{w.ids['line_b']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a", "firm")),
    ),
    Case(
        "GET",
        "/api/v1/loans/{loan_id}",
        lambda w: f"/api/v1/loans/{w.ids['loan_a']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case(
        "GET",
        "/api/v1/loans/{loan_id}",
        lambda w: f"/api/v1/loans/{w.ids['loan_b']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a", "firm")),
    ),
    Case(
        "GET",
        "/api/v1/loans/{loan_id}/events",
        lambda w: f"/api/v1/loans/{w.ids['loan_a']}/events",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    *_programme_reads("programmes", "programme_id", "prg"),
    *_programme_reads("agreements", "agreement_id", "ag"),
    *_programme_reads("risk-pools", "pool_id", "pool"),
    *_programme_reads("pool-claims", "claim_id", "claim"),
    Case("GET", "/api/v1/subsidies", lambda w: "/api/v1/subsidies", allow(*ALL)),
    Case(  # 甲's subsidy on bank A's loan to e1
        "GET",
        "/api/v1/subsidies/{subsidy_id}",
        lambda w: f"/api/v1/subsidies/{w.ids['sub_jia']}",
        allow(*OFFICERS, "bank_a", "firm", hidden=("bank_b",)),
    ),
    Case(  # 乙's subsidy on bank B's loan to e3
        "GET",
        "/api/v1/subsidies/{subsidy_id}",
        lambda w: f"/api/v1/subsidies/{w.ids['sub_yi']}",
        allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a", "firm")),
    ),
]


def _line_body(w: World, who: str) -> dict[str, Any]:
    return {
        "institution_id": w.ids["a"],
        "external_ref": f"LINE-{next(_counter)}",
        "enterprise_id": w.ids["e1"],
        "limit_amount": "500000.00",
        "opens_on": "2025-01-01",
        "matures_on": "2026-12-31",
        "rate": "0.0365",
    }


def _line_naming(pool: str | None, product: str | None) -> Callable[[World, str], dict[str, Any]]:
    """Bank A's line to e1 naming a risk pool and a product (world keys)."""

    def body(w: World, who: str) -> dict[str, Any]:
        named = {"risk_pool_id": pool, "product_id": product}
        return _line_body(w, who) | {k: w.ids[v] for k, v in named.items() if v is not None}

    return body


def _drawdown_body(w: World, who: str) -> dict[str, Any]:
    return {
        "amount": "1000.00",
        "drawn_on": "2025-03-01",
        "external_ref": f"LOAN-{next(_counter)}",
        "months": 12,
    }


def _contribution(_w: World, _who: str) -> dict[str, Any]:
    return {"contributor": "county", "amount": "1000.00", "paid_on": "2025-06-30"}


def _publish(side: str, months: dict[str, int]) -> Callable[[World, str], dict[str, Any]]:
    """A month's publication for each caller (a period is published once)."""

    def body(w: World, who: str) -> dict[str, Any]:
        year, month = divmod(months.get(who, next(iter(months.values()))), 100)
        end = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).isoformat()
        return {
            "programme_id": w.ids[f"prg_{side}"],
            "period_start": f"{year}-{month:02d}-01",
            "period_end": end,
            "rules": {"share": "0.5"},
        }

    return body


NEED_E1_READERS = (*OFFICERS, "bank_a", "firm")
NEED_E3_HIDDEN = ("province", "zone", "bank_a", "bank_b", "firm")
MATCHING_READS: list[Case] = [
    Case("GET", "/api/v1/needs", lambda w: "/api/v1/needs", allow(*ALL)),
    Case(
        "GET",
        "/api/v1/needs/{need_id}",
        lambda w: f"/api/v1/needs/{w.ids['need_e1']}",
        allow(*NEED_E1_READERS, hidden=("bank_b",)),
    ),
    Case(
        "GET",
        "/api/v1/needs/{need_id}",
        lambda w: f"/api/v1/needs/{w.ids['need_e3']}",
        allow("admin", "national", hidden=NEED_E3_HIDDEN),
    ),
    Case(
        "GET",
        "/api/v1/needs/{need_id}/recommendations",
        lambda w: f"/api/v1/needs/{w.ids['need_e1']}/recommendations",
        allow(*NEED_E1_READERS, hidden=("bank_b",)),
    ),
    Case(
        "GET",
        "/api/v1/needs/{need_id}/recommendations",
        lambda w: f"/api/v1/needs/{w.ids['need_e3']}/recommendations",
        allow("admin", "national", hidden=NEED_E3_HIDDEN),
    ),
    Case(
        "GET",
        "/api/v1/needs/{need_id}/precheck/{product_id}",
        lambda w: f"/api/v1/needs/{w.ids['need_e1']}/precheck/{w.ids['pa']}",
        allow(*NEED_E1_READERS, hidden=("bank_b",)),
    ),
    Case(  # bank A sees the need but not bank B's product
        "GET",
        "/api/v1/needs/{need_id}/precheck/{product_id}",
        lambda w: f"/api/v1/needs/{w.ids['need_e1']}/precheck/{w.ids['pb']}",
        allow(*OFFICERS, "firm", hidden=("bank_a", "bank_b")),
    ),
    Case(
        "GET",
        "/api/v1/institutions/{institution_id}/matches",
        lambda w: f"/api/v1/institutions/{w.ids['a']}/matches",
        allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
    ),
    Case(
        "GET",
        "/api/v1/matching/backtest",
        lambda w: "/api/v1/matching/backtest?train_until=2023-12-31&test_from=2024-01-01",
        allow("admin", "national", "province"),
    ),
]
MATCHING_READS += [
    Case("GET", "/api/v1/need-referrals", lambda w: "/api/v1/need-referrals", allow(*ALL)),
    Case(  # bank A is shown only its own tree's offers (bank B's product and 甲's subsidy withheld)
        "GET",
        "/api/v1/needs/{need_id}/alternatives",
        lambda w: f"/api/v1/needs/{w.ids['need_e1_declined']}/alternatives",
        allow(*NEED_E1_READERS, hidden=("bank_b",)),
    ),
    Case(
        "GET",
        "/api/v1/needs/{need_id}/alternatives",
        lambda w: f"/api/v1/needs/{w.ids['need_e3']}/alternatives",
        allow("admin", "national", hidden=NEED_E3_HIDDEN),
    ),
    Case(
        "GET",
        "/api/v1/allocation-runs/{run_id}",
        lambda w: f"/api/v1/allocation-runs/{w.ids['run_jia']}",
        allow(*RUNNERS),
    ),
    Case(  # 乙's run: 甲省's office does not see 乙's programme
        "GET",
        "/api/v1/allocation-runs/{run_id}",
        lambda w: f"/api/v1/allocation-runs/{w.ids['run_yi']}",
        allow(*RUNNERS_YI, hidden=("province",)),
    ),
    Case(
        "GET",
        "/api/v1/matching/funnel",
        lambda w: "/api/v1/matching/funnel",
        allow(*OFFICERS, "bank_a", "bank_b"),
    ),
]
READS += MATCHING_READS

#: monitoring: the funnel and scorecards — officers every institution, a bank its own rows and
#: the others as anonymous aggregates; a programme the caller does not see is 404
MONITORING_READS: list[Case] = []
for _template in ("/api/v1/monitoring/funnel", "/api/v1/monitoring/scorecards"):
    MONITORING_READS += [
        Case("GET", _template, lambda w, t=_template: t, allow(*OFFICERS, "bank_a", "bank_b")),
        Case(  # programme 甲 (zone Z1, bank A): bank B does not take part
            "GET",
            _template,
            lambda w, t=_template: f"{t}?programme_id={w.ids['prg_jia']}",
            allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
        ),
        Case(  # programme 乙 (zone Z2, bank B): only the admin, the national office and bank B
            "GET",
            _template,
            lambda w, t=_template: f"{t}?programme_id={w.ids['prg_yi']}",
            allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a")),
        ),
    ]
MONITORING_READS += [
    Case("GET", "/api/v1/monitoring/scenarios", lambda w: "/api/v1/monitoring/scenarios",
         allow(*OFFICERS)),
    Case(  # a run of programme 甲: officers who see 甲 (zone Z1 is in 甲省)
        "GET",
        "/api/v1/monitoring/scenarios/{run_id}",
        lambda w: f"/api/v1/monitoring/scenarios/{w.ids['scenario_jia']}",
        allow(*OFFICERS),
    ),
]  # fmt: skip
READS += MONITORING_READS

#: the balance cube, growth, programme summaries and quota use: officers their scope, a bank its
#: own loans and the others anonymously; a programme the caller does not see is 404
PROGRAMME_MONITOR: list[Case] = []
for _template in ("/api/v1/monitoring/balances", "/api/v1/monitoring/growth"):
    PROGRAMME_MONITOR += [
        Case("GET", _template, lambda w, t=_template: t, allow(*OFFICERS, "bank_a", "bank_b")),
        Case(
            "GET",
            _template,
            lambda w, t=_template: f"{t}?programme_id={w.ids['prg_jia']}",
            allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
        ),
        Case(
            "GET",
            _template,
            lambda w, t=_template: f"{t}?programme_id={w.ids['prg_yi']}",
            allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a")),
        ),
    ]
PROGRAMME_MONITOR.append(
    Case(
        "GET",
        "/api/v1/monitoring/balances",
        lambda w: "/api/v1/monitoring/balances?by=institution_id,tech_field,product_kind",
        allow(*OFFICERS, "bank_a", "bank_b"),
    )
)
for _template in (
    "/api/v1/monitoring/programmes/{programme_id}/summary",
    "/api/v1/monitoring/programmes/{programme_id}/quota",
):
    PROGRAMME_MONITOR += [
        Case(
            "GET",
            _template,
            lambda w, t=_template: t.format(programme_id=w.ids["prg_jia"]),
            allow(*OFFICERS, "bank_a", hidden=("bank_b",)),
        ),
        Case(
            "GET",
            _template,
            lambda w, t=_template: t.format(programme_id=w.ids["prg_yi"]),
            allow("admin", "national", "bank_b", hidden=("province", "zone", "bank_a")),
        ),
    ]
READS += PROGRAMME_MONITOR


#: matchmaking meetings: 甲's event (zone Z1, banks A and B, firms e1 and e2). The notice is
#: public; officers of Z1's reach organise it; each participant reads its own rows
def _ev(suffix: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/v1/events/{w.ids['event']}{suffix}"


def _agenda_of(fmt: str) -> Callable[[World, str], str]:
    def path(w: World, who: str) -> str:
        party, key = {"bank_a": ("institution", "a"), "bank_b": ("institution", "b")}.get(
            who, ("enterprise", "e1")
        )
        return (
            f"/api/v1/events/{w.ids['event']}/agenda?party={party}&party_id={w.ids[key]}"
            f"&format={fmt}"
        )

    return path


ORGANISERS = OFFICERS  # Z1's event: every officer reaches it
EVENT_READS: list[Case] = [
    Case("GET", "/api/v1/events", lambda w: "/api/v1/events", allow(*ALL)),
    Case("GET", "/api/v1/events/{event_id}", _ev(), allow(*ALL)),
    Case("GET", "/api/v1/events/{event_id}/institutions", _ev("/institutions"), allow(*ALL)),
    Case("GET", "/api/v1/events/{event_id}/enterprises", _ev("/enterprises"), allow(*ALL)),
    Case("GET", "/api/v1/events/{event_id}/requests", _ev("/requests"), allow(*ALL)),
    Case("GET", "/api/v1/events/{event_id}/schedules", _ev("/schedules"), allow(*ORGANISERS)),
    *(
        Case(
            "GET",
            "/api/v1/events/{event_id}/agenda",
            _ev("/agenda"),
            allow(*ALL),
            path_for=_agenda_of(fmt),
        )
        for fmt in ("json", "ics", "xlsx")
    ),
    Case(  # the banks see e1 at the event, but its agenda is e1's own (and the organiser's)
        "GET",
        "/api/v1/events/{event_id}/agenda",
        lambda w: f"/api/v1/events/{w.ids['event']}/agenda?party=enterprise&party_id={w.ids['e1']}",
        allow(*ORGANISERS, "firm"),
    ),
    Case("GET", "/api/v1/events/{event_id}/timetable", _ev("/timetable"), allow(*ORGANISERS)),
    Case("GET", "/api/v1/events/{event_id}/participants", _ev("/participants"), allow(*ORGANISERS)),
    Case(
        "GET",
        "/api/v1/events/{event_id}/outcomes",
        _ev("/outcomes"),
        allow(*ORGANISERS, "bank_a", "bank_b"),
    ),
    Case(
        "GET",
        "/api/v1/events/{event_id}/report",
        _ev("/report"),
        allow(*ORGANISERS, "bank_a", "bank_b"),
    ),
]
READS += EVENT_READS
READS += [
    Case(  # a check runs the import and rolls it back: the import's callers, and no write
        "POST",
        "/api/v1/imports/{kind}",
        lambda w: "/api/v1/imports/zones",
        allow("admin", "national"),
        files=lambda w, who: {**_upload(w, who), "check_only": (None, "true")},
    ),
]


def _need_body(w: World, who: str) -> dict[str, Any]:
    firm = "e3" if who in ("admin", "national") else "e1"
    return {
        "enterprise_id": w.ids[firm],
        "amount": "1500000.00",
        "term_months": 24,
        "purpose": "rd",
        "max_rate": "4.5",
        "collateral_offered": ["ip_pledge", "receivables"],
        "needed_by": "2025-09-30",
    }


MATCHING_WRITES: list[Case] = [
    Case(
        "POST",
        "/api/v1/needs",
        lambda w: "/api/v1/needs",
        allow(*OFFICERS, "firm"),
        body=_need_body,
    ),
    Case(  # a need for 乙's enterprise: only those who see it (and may write) post one
        "POST",
        "/api/v1/needs",
        lambda w: "/api/v1/needs",
        allow("admin", "national", hidden=("province", "zone", "firm")),
        body=lambda w, who: {**_need_body(w, who), "enterprise_id": w.ids["e3"]},
    ),
    Case(
        "PATCH",
        "/api/v1/needs/{need_id}",
        lambda w: f"/api/v1/needs/{w.ids['need_e1']}",
        allow(*OFFICERS, "firm"),
        body=lambda w, who: {"note": f"by {who}", "max_rate": "5.25"},
    ),
    Case(  # the enterprise a need belongs to is fixed: no one may move it
        "PATCH",
        "/api/v1/needs/{need_id}",
        lambda w: f"/api/v1/needs/{w.ids['need_e1']}",
        allow(),
        body=lambda w, who: {"enterprise_id": w.ids["e1"]},
    ),
    Case(
        "PATCH",
        "/api/v1/needs/{need_id}",
        lambda w: f"/api/v1/needs/{w.ids['need_e3']}",
        allow("admin", "national", hidden=("province", "zone", "firm")),
        body=lambda w, who: {"status": "open"},
    ),
]

MATCHING_WRITES += [
    Case(  # each referrer its own need of e1, to bank A (e1 consented to it)
        "POST",
        "/api/v1/needs/{need_id}/referrals",
        lambda w: f"/api/v1/needs/{w.ids['need_e1_refer_admin']}/referrals",
        allow(*REFERRERS),
        body=lambda w, _who: {"institution_ids": [w.ids["a"]]},
        path_for=own("need_e1_refer", REFERRERS, "/api/v1/needs/{}/referrals"),
    ),
    Case(  # e3 has consented to no one: refused naming institution_ids, for those who see it
        "POST",
        "/api/v1/needs/{need_id}/referrals",
        lambda w: f"/api/v1/needs/{w.ids['need_e3']}/referrals",
        allow(hidden=("province", "zone", "firm")) | {"admin": 400, "national": 400},
        body=lambda w, _who: {"institution_ids": [w.ids["b"]]},
    ),
    Case(  # only the institution the need went to answers (bank B: not there)
        "POST",
        "/api/v1/need-referrals/{referral_id}/response",
        lambda w: f"/api/v1/need-referrals/{w.ids['nref_respond_admin']}/response",
        allow(*RESPONDERS, hidden=("bank_b",)),
        body=lambda _w, _who: {"answer": "decline", "code": "risk"},
        path_for=own("nref_respond", RESPONDERS, "/api/v1/need-referrals/{}/response"),
    ),
    Case(
        "POST",
        "/api/v1/need-referrals/{referral_id}/response",
        lambda w: f"/api/v1/need-referrals/{w.ids['nref_respond_yi_admin']}/response",
        allow(*RESPONDERS_YI, hidden=("bank_a",)),
        body=lambda _w, _who: {"answer": "opt_in"},
        path_for=own("nref_respond_yi", RESPONDERS_YI, "/api/v1/need-referrals/{}/response"),
    ),
    Case(
        "POST",
        "/api/v1/need-referrals/{referral_id}/steps",
        lambda w: f"/api/v1/need-referrals/{w.ids['nref_step_admin']}/steps",
        allow(*RESPONDERS, hidden=("bank_b",)),
        body=lambda _w, _who: {"step": "contacted"},
        path_for=own("nref_step", RESPONDERS, "/api/v1/need-referrals/{}/steps"),
    ),
    Case(  # approved, naming bank A's line to e1
        "POST",
        "/api/v1/need-referrals/{referral_id}/steps",
        lambda w: f"/api/v1/need-referrals/{w.ids['nref_approve_admin']}/steps",
        allow(*RESPONDERS, hidden=("bank_b",)),
        body=lambda w, _who: {"step": "approved", "credit_line_id": w.ids["line_a"]},
        path_for=own("nref_approve", RESPONDERS, "/api/v1/need-referrals/{}/steps"),
    ),
    Case(  # bank B's line to e3 is not this referral's: refused naming credit_line_id
        "POST",
        "/api/v1/need-referrals/{referral_id}/steps",
        lambda w: f"/api/v1/need-referrals/{w.ids['nref_badline']}/steps",
        allow(hidden=("bank_b",)) | {"admin": 400, "bank_a": 400},
        body=lambda w, _who: {"step": "approved", "credit_line_id": w.ids["line_b"]},
    ),
    Case(
        "POST",
        "/api/v1/matching/overdue-flags",
        lambda w: "/api/v1/matching/overdue-flags",
        allow(*OFFICERS),
    ),
    Case(
        "POST",
        "/api/v1/allocation-runs",
        lambda w: "/api/v1/allocation-runs",
        allow(*RUNNERS),
        body=lambda w, _who: {"programme_id": w.ids["prg_jia"], "time_limit": 10.0},
    ),
    Case(  # 乙's programme: not 甲省's to see
        "POST",
        "/api/v1/allocation-runs",
        lambda w: "/api/v1/allocation-runs",
        allow(*RUNNERS_YI, hidden=("province",)),
        body=lambda w, _who: {
            "programme_id": w.ids["prg_yi"],
            "zone_floor": {"Z2": "100000.00"},
            "enterprise_cap": "3000000.00",
        },
    ),
    Case(
        "POST",
        "/api/v1/allocation-runs/{run_id}/acceptance",
        lambda w: f"/api/v1/allocation-runs/{w.ids['run_accept_admin']}/acceptance",
        allow(*RUNNERS),
        body=lambda _w, _who: {"opens_on": "2026-03-02", "rate": "0.0310"},
        path_for=own("run_accept", RUNNERS, "/api/v1/allocation-runs/{}/acceptance"),
    ),
    Case(
        "POST",
        "/api/v1/allocation-runs/{run_id}/acceptance",
        lambda w: f"/api/v1/allocation-runs/{w.ids['run_accept_yi_admin']}/acceptance",
        allow(*RUNNERS_YI, hidden=("province",)),
        body=lambda _w, _who: {"opens_on": "2026-03-02"},
        path_for=own("run_accept_yi", RUNNERS_YI, "/api/v1/allocation-runs/{}/acceptance"),
    ),
]


def _event_body(w: World, who: str) -> dict[str, Any]:
    return {
        "code": f"EV-{next(_counter)}",
        "name": "对接会",
        "held_on": "2026-04-20",
        "venue": "会场",
        "booking_opens": "2026-03-01",
        "booking_closes": "2026-04-10",
        "sessions": [{"starts": "09:00", "slots": 4}],
    }


def _preferences(w: World, who: str) -> dict[str, Any]:
    if who == "firm":
        return {"side": "enterprise", "party_id": w.ids["e1"], "targets": [w.ids["a"]]}
    if who in ("bank_a", "bank_b"):
        bank = "a" if who == "bank_a" else "b"
        return {"side": "institution", "party_id": w.ids[bank], "targets": [w.ids["e1"]]}
    return {"side": "enterprise", "party_id": w.ids["e2"], "targets": [w.ids["b"], w.ids["a"]]}


def _outcome(w: World, who: str) -> dict[str, Any]:
    bank = "b" if who == "bank_b" else "a"
    return {"enterprise_id": w.ids["e1"], "institution_id": w.ids[bank], "outcome": "follow_up"}


EVENT_WRITES: list[Case] = [
    Case("POST", "/api/v1/events", lambda w: "/api/v1/events", allow(*OFFICERS), body=_event_body),
    Case(
        "PATCH",
        "/api/v1/events/{event_id}",
        _ev(),
        allow(*ORGANISERS),
        body=lambda w, who: {"venue": f"会场 ({who})"},
    ),
    Case(  # the event's province decides who organises it: only the admin or the national office
        "PATCH",
        "/api/v1/events/{event_id}",
        _ev(),
        allow("admin", "national"),
        body=_moved("province", {"admin": "丙省", "national": "甲省"}, "丙省"),
    ),
    Case(  # its zone: a programme office may move it within its province, a zone officer not
        "PATCH",
        "/api/v1/events/{event_id}",
        _ev(),
        allow("admin", "national", "province"),
        # the venue changes too, so each allowed call writes (and audits) something
        body=lambda w, who: {"zone_id": w.ids["z1"], "venue": f"会场 Z1 ({who})"},
    ),
    Case(
        "POST",
        "/api/v1/events/{event_id}/institutions",
        _ev("/institutions"),
        allow(*ORGANISERS),
        body=lambda w, who: {"institution_id": w.ids["a1"], "desks": 1},
    ),
    Case(  # a firm registers itself; an officer registers a firm it oversees
        "POST",
        "/api/v1/events/{event_id}/enterprises",
        _ev("/enterprises"),
        allow(*ORGANISERS, "firm"),
        body=lambda w, who: {"enterprise_id": w.ids["e1" if who == "firm" else "e2"]},
    ),
    Case(  # e3 (乙省) is not the province's or zone's to register
        "POST",
        "/api/v1/events/{event_id}/enterprises",
        _ev("/enterprises"),
        allow("admin", "national", hidden=("province", "zone", "firm")),
        body=lambda w, who: {"enterprise_id": w.ids["e3"]},
    ),
    Case(
        "PUT",
        "/api/v1/events/{event_id}/preferences",
        _ev("/preferences"),
        allow(*ALL),
        body=_preferences,
    ),
    Case(  # bank B may not book for bank A; a firm not for another firm
        "PUT",
        "/api/v1/events/{event_id}/preferences",
        _ev("/preferences"),
        allow(*ORGANISERS) | {"bank_a": OK, "bank_b": 403, "firm": 404},
        body=lambda w, who: {
            "side": "institution",
            "party_id": w.ids["a"],
            "targets": [w.ids["e1"], w.ids["e2"]],
        },
    ),
    Case(
        "POST",
        "/api/v1/events/{event_id}/schedules",
        _ev("/schedules"),
        allow(*ORGANISERS),
        body=lambda w, who: {"time_limit_s": 5},
    ),
    Case(  # the draft planned after the announced schedule (announcing it again is a no-op)
        "POST",
        "/api/v1/events/{event_id}/schedules/{schedule_id}/announce",
        lambda w: f"/api/v1/events/{w.ids['event']}/schedules/{w.ids['schedule_draft']}/announce",
        allow(*ORGANISERS),
    ),
    Case(  # each bank records its own meetings' outcomes; bank B does not see A's
        "POST",
        "/api/v1/events/{event_id}/outcomes",
        _ev("/outcomes"),
        allow(*ORGANISERS, "bank_a", "bank_b"),
        body=_outcome,
    ),
    Case(
        "POST",
        "/api/v1/events/{event_id}/outcomes",
        _ev("/outcomes"),
        allow(*ORGANISERS, "bank_a", hidden=("bank_b",)),
        body=lambda w, who: {
            "enterprise_id": w.ids["e1"],
            "institution_id": w.ids["a"],
            "outcome": "no_interest",
            "reason_code": "too_early",
        },
    ),
    Case(  # the organiser validates; e2 is not the firm's to see (last: a rejection in between
        # takes e2 out of the event for the cases above)
        "PATCH",
        "/api/v1/events/{event_id}/enterprises/{enterprise_id}",
        lambda w: f"/api/v1/events/{w.ids['event']}/enterprises/{w.ids['e2']}",
        allow(*ORGANISERS, hidden=("firm",)),
        # a real change for each allowed caller (so it is audited); the last leaves it validated
        body=_moved("status", {"admin": "rejected", "province": "rejected"}, "validated"),
    ),
]


LEDGER_WRITES: list[Case] = [
    Case(
        "POST",
        "/api/v1/risk-pools/{pool_id}/contributions",
        lambda w: f"/api/v1/risk-pools/{w.ids['pool_jia']}/contributions",
        allow(*RUNNERS),
        body=_contribution,
    ),
    Case(  # 乙's pool: not 甲省's
        "POST",
        "/api/v1/risk-pools/{pool_id}/contributions",
        lambda w: f"/api/v1/risk-pools/{w.ids['pool_yi']}/contributions",
        allow(*RUNNERS_YI, hidden=("province",)),
        body=_contribution,
    ),
    Case(  # the bank (or an admin) files; bank B does not see 甲's pool
        "POST",
        "/api/v1/risk-pools/{pool_id}/claims",
        lambda w: f"/api/v1/risk-pools/{w.ids['pool_jia']}/claims",
        allow(*FILERS, hidden=("bank_b",)),
        body=lambda w, who: {
            "loan_id": w.ids[f"loan_defaulted_{who if who in FILERS else FILERS[0]}"]
        },
    ),
    Case(
        "POST",
        "/api/v1/pool-claims/{claim_id}/decision",
        lambda w: f"/api/v1/pool-claims/{w.ids['claim_pending_admin']}/decision",
        allow(*RUNNERS),
        body=lambda _w, _who: {"approve": True},
        path_for=own("claim_pending", RUNNERS, "/api/v1/pool-claims/{}/decision"),
    ),
    Case(
        "POST",
        "/api/v1/pool-claims/{claim_id}/decision",
        lambda w: f"/api/v1/pool-claims/{w.ids['claim_yi_pending_admin']}/decision",
        allow(*RUNNERS_YI, hidden=("province",)),
        body=lambda _w, _who: {"approve": False},
        path_for=own("claim_yi_pending", RUNNERS_YI, "/api/v1/pool-claims/{}/decision"),
    ),
    Case(
        "POST",
        "/api/v1/pool-claims/{claim_id}/payment",
        lambda w: f"/api/v1/pool-claims/{w.ids['claim_approved_admin']}/payment",
        allow(*RUNNERS),
        body=lambda _w, _who: {"paid_on": "2026-03-01"},
        path_for=own("claim_approved", RUNNERS, "/api/v1/pool-claims/{}/payment"),
    ),
    Case(
        "POST",
        "/api/v1/pool-claims/{claim_id}/payment",
        lambda w: f"/api/v1/pool-claims/{w.ids['claim_yi_approved_admin']}/payment",
        allow(*RUNNERS_YI, hidden=("province",)),
        path_for=own("claim_yi_approved", RUNNERS_YI, "/api/v1/pool-claims/{}/payment"),
    ),
    Case(
        "POST",
        "/api/v1/subsidies/publish",
        lambda w: "/api/v1/subsidies/publish",
        allow(*RUNNERS),
        body=_publish("jia", {"admin": 202505, "national": 202506, "province": 202507}),
    ),
    Case(  # 乙's programme: not 甲省's
        "POST",
        "/api/v1/subsidies/publish",
        lambda w: "/api/v1/subsidies/publish",
        allow(*RUNNERS_YI, hidden=("province",)),
        body=_publish("yi", {"admin": 202407, "national": 202408}),
    ),
    Case(  # the list is public notice: whoever sees the subsidy may object
        "POST",
        "/api/v1/subsidies/{subsidy_id}/objection",
        lambda w: f"/api/v1/subsidies/{w.ids['sub_object_admin']}/objection",
        allow(*OBJECTORS, hidden=("bank_b",)),
        body=lambda _w, who: {"text": f"利息有误 ({who})"},
        path_for=own("sub_object", OBJECTORS, "/api/v1/subsidies/{}/objection"),
    ),
    Case(
        "POST",
        "/api/v1/subsidies/{subsidy_id}/resolution",
        lambda w: f"/api/v1/subsidies/{w.ids['sub_resolve_admin']}/resolution",
        allow(*RUNNERS),
        body=lambda _w, _who: {"upheld": False},
        path_for=own("sub_resolve", RUNNERS, "/api/v1/subsidies/{}/resolution"),
    ),
    Case(  # only the enterprise itself confirms
        "POST",
        "/api/v1/subsidies/{subsidy_id}/confirmation",
        lambda w: f"/api/v1/subsidies/{w.ids['sub_confirm']}/confirmation",
        allow("firm"),
    ),
    Case(
        "POST",
        "/api/v1/subsidies/{subsidy_id}/payment",
        lambda w: f"/api/v1/subsidies/{w.ids['sub_pay_admin']}/payment",
        allow(*RUNNERS),
        path_for=own("sub_pay", RUNNERS, "/api/v1/subsidies/{}/payment"),
    ),
]

#: scenarios: those who run the programme (甲: the admin, the national and 甲's provincial
#: office; 乙: the admin and the national office, 甲's office does not see it)
MONITORING_WRITES: list[Case] = [
    Case(
        "POST",
        "/api/v1/monitoring/scenarios",
        lambda w: "/api/v1/monitoring/scenarios",
        allow("admin", "national", "province"),
        body=lambda w, who: {
            "programme_id": w.ids["prg_jia"], "levers": {"risk_share": "0.5"}, "months": 12,
            "paths": 100, "seed": 3,
        },
    ),
    Case(
        "POST",
        "/api/v1/monitoring/scenarios",
        lambda w: "/api/v1/monitoring/scenarios",
        allow("admin", "national", hidden=("province",)),
        body=lambda w, who: {"programme_id": w.ids["prg_yi"], "months": 12, "paths": 100},
    ),
]  # fmt: skip

WRITES: list[Case] = [
    Case(  # bank B may not enter a line for bank A (403); only institution officers enter lines
        "POST",
        "/api/v1/credit-lines",
        lambda w: "/api/v1/credit-lines",
        allow("bank_a"),
        body=_line_body,
    ),
    Case(  # its own programme's pool (甲) and its own product
        "POST",
        "/api/v1/credit-lines",
        lambda w: "/api/v1/credit-lines",
        allow("bank_a"),
        body=_line_naming("pool_jia", "pa"),
    ),
    Case(  # a pool of a programme bank A is not in (乙's) does not exist for its lines
        "POST",
        "/api/v1/credit-lines",
        lambda w: "/api/v1/credit-lines",
        allow(hidden=("bank_a",)),
        body=_line_naming("pool_yi", None),
    ),
    Case(  # nor does another bank's product
        "POST",
        "/api/v1/credit-lines",
        lambda w: "/api/v1/credit-lines",
        allow(hidden=("bank_a",)),
        body=_line_naming(None, "pb"),
    ),
    Case(  # the pending line was entered by another officer, so bank A's user may check it
        "POST",
        "/api/v1/credit-lines/{line_id}/decision",
        lambda w: f"/api/v1/credit-lines/{w.ids['line_p']}/decision",
        allow("bank_a", hidden=("bank_b",)),
        body=lambda _w, _who: {"approve": True},
    ),
    Case(
        "POST",
        "/api/v1/credit-lines/{line_id}/drawdowns",
        lambda w: f"/api/v1/credit-lines/{w.ids['line_a']}/drawdowns",
        allow("bank_a", hidden=("bank_b",)),
        body=_drawdown_body,
    ),
    Case(
        "POST",
        "/api/v1/loans/{loan_id}/repayments",
        lambda w: f"/api/v1/loans/{w.ids['loan_a']}/repayments",
        allow("bank_a", hidden=("bank_b",)),
        body=lambda _w, _who: {"principal": "100.00", "interest": "1.00", "paid_on": "2025-03-01"},
    ),
    Case(
        "POST",
        "/api/v1/score-runs",
        lambda w: "/api/v1/score-runs",
        allow("admin", "national"),
        body=lambda _w, _who: {"year": 2024, "system": "default"},
    ),
    Case("POST", "/api/v1/zones", lambda w: "/api/v1/zones", allow("admin"), body=_zone_body),
    Case(
        "PATCH",
        "/api/v1/zones/{zone_id}",
        lambda w: f"/api/v1/zones/{w.ids['z1']}",
        allow(*OFFICERS),
        body=lambda w, who: {"city": f"市{who}"},
    ),
    Case(  # Z2 is visible to everyone but only the national office and admin may change it
        "PATCH",
        "/api/v1/zones/{zone_id}",
        lambda w: f"/api/v1/zones/{w.ids['z2']}",
        allow("admin", "national"),
        body=lambda w, who: {"city": f"市{who}"},
    ),
    Case(  # a zone's province decides which provincial office reaches it: above the province
        "PATCH",
        "/api/v1/zones/{zone_id}",
        lambda w: f"/api/v1/zones/{w.ids['z1']}",
        allow("admin", "national"),
        body=_moved("province", {"admin": "丙省", "national": "甲省"}, "丙省"),
    ),
    Case(
        "PUT",
        "/api/v1/zones/{zone_id}/stats/{year}",
        lambda w: f"/api/v1/zones/{w.ids['z1']}/stats/2025",
        allow(*OFFICERS),
        body=lambda w, who: {"gdp": "2000000.50", "enterprises": 10, "hte_enterprises": 4},
    ),
    Case(
        "POST",
        "/api/v1/enterprises",
        lambda w: "/api/v1/enterprises",
        allow(*OFFICERS),
        body=_enterprise_body,
    ),
    Case(
        "PATCH",
        "/api/v1/enterprises/{enterprise_id}",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}",
        allow(*OFFICERS, "firm"),
        body=lambda w, who: {"name": f"甲一科技({who})"},
    ),
    Case(  # an enterprise's zone: the offices above the zone (the zone officer may not)
        "PATCH",
        "/api/v1/enterprises/{enterprise_id}",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}",
        allow("admin", "national", "province"),
        body=_moved("zone_id", {"admin": "z2", "national": "z1", "province": "z1"}, "z1", ids=True),
    ),
    Case(
        "PATCH",
        "/api/v1/enterprises/{enterprise_id}",
        lambda w: f"/api/v1/enterprises/{w.ids['e3']}",
        allow("admin", "national", hidden=("province", "zone", "firm")),
        body=lambda w, who: {"name": f"乙三科技({who})"},
    ),
    Case(
        "PUT",
        "/api/v1/enterprises/{enterprise_id}/reports/{year}",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}/reports/2025",
        allow(*OFFICERS, "firm"),
        body=lambda w, who: {"revenue": "1000000.00", "employees": 20, "rd_staff": 5},
    ),
    Case(
        "POST",
        "/api/v1/enterprises/{enterprise_id}/certifications",
        lambda w: f"/api/v1/enterprises/{w.ids['e1']}/certifications",
        allow(*OFFICERS),
        body=_cert_body,
    ),
    Case(
        "POST",
        "/api/v1/institutions",
        lambda w: "/api/v1/institutions",
        allow("admin"),
        body=_institution_body,
    ),
    Case(
        "PATCH",
        "/api/v1/institutions/{institution_id}",
        lambda w: f"/api/v1/institutions/{w.ids['a1']}",
        allow("admin", "bank_a", hidden=("bank_b",)),
        body=lambda w, who: {"name_en": f"Tech branch ({who})"},
    ),
    Case(
        "POST",
        "/api/v1/products",
        lambda w: "/api/v1/products",
        allow("admin", "bank_a", "bank_b"),
        body=_product_body,
    ),
    Case(
        "PATCH",
        "/api/v1/products/{product_id}",
        lambda w: f"/api/v1/products/{w.ids['pa']}",
        allow("admin", "bank_a", hidden=("bank_b",)),
        body=lambda w, who: {"amount_max": "6000000.00"},
    ),
    Case(
        "POST",
        "/api/v1/consents",
        lambda w: "/api/v1/consents",
        allow("firm"),
        body=lambda w, who: {"institution_id": w.ids["b"]},
    ),
    Case(
        "POST",
        "/api/v1/consents/{consent_id}/withdraw",
        lambda w: f"/api/v1/consents/{w.ids['c2']}/withdraw",
        allow("firm"),
    ),
    Case(
        "POST",
        "/api/v1/referrals",
        lambda w: "/api/v1/referrals",
        allow(*OFFICERS),
        body=_referral_body,
    ),
    Case("POST", "/api/v1/users", lambda w: "/api/v1/users", allow("admin"), body=_user_body),
    *LEDGER_WRITES,
    *MATCHING_WRITES,
    *MONITORING_WRITES,
    *EVENT_WRITES,
    Case(
        "POST",
        "/api/v1/imports/{kind}",
        lambda w: "/api/v1/imports/zones",
        allow("admin", "national"),
        files=_upload,
    ),
    Case(
        "POST",
        "/api/v1/auth/logout",
        lambda w: "/api/v1/auth/logout",
        allow(*ALL),
        fresh_token=True,
    ),
]
# login is exercised by every case (and by test_api_auth); it is public
SPECIAL = {("POST", "/api/v1/auth/login")}


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[World, Api]]:
    w = build_world(engine)
    yield w, make_api(engine)


def _status_ok(expected: Any, status: int) -> bool:
    return 200 <= status < 300 if expected == OK else status == expected


def _run(case: Case, w: World, api: Api, who: str) -> Any:
    kwargs: dict[str, Any] = {}
    if case.body is not None:
        kwargs["json"] = case.body(w, who)
    if case.files is not None:
        kwargs["files"] = case.files(w, who)
    return api.call(who, case.method, case.url(w, who), fresh=case.fresh_token, **kwargs)


def test_every_endpoint_has_a_case(world: tuple[World, Api]) -> None:
    _, api = world
    schema = api.app.openapi()
    endpoints = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    covered = {(c.method, c.template) for c in READS + WRITES} | SPECIAL
    assert endpoints == covered, (
        f"endpoints without a matrix case: {sorted(endpoints - covered)}; "
        f"cases for no endpoint: {sorted(covered - endpoints)}"
    )
    assert set(api.app.state.actions) == endpoints
    for case in READS + WRITES:
        assert set(case.expect) == set(EVERYONE)


def test_authorisation_matrix(world: tuple[World, Api]) -> None:
    w, api = world
    failures = []
    markers = leak_markers(w)
    for phase in (READS, WRITES):
        for case, who in itertools.product(phase, EVERYONE):
            response = _run(case, w, api, who)
            expected = case.expect[who]
            label = f"{case.method} {case.url(w, who)} as {who}"
            if not _status_ok(expected, response.status_code):
                failures.append(
                    f"{label}: {response.status_code} (expected {expected}) {response.text[:200]}"
                )
                continue
            if response.status_code >= 400:
                body = response.json()
                assert {"code", "message"} <= set(body), label
            if phase is READS:
                leaked = [m for m in markers.get(who, ()) if m in response.text]
                if leaked:
                    failures.append(f"{label}: response shows {leaked}")
    assert not failures, "\n".join(failures)


def test_lists_hold_only_the_callers_rows(world: tuple[World, Api]) -> None:
    w, api = world

    def listed(who: str, path: str) -> set[int]:
        response = api.call(who, "GET", path + ("&" if "?" in path else "?") + "limit=500")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return {item["id"] for item in body["items"]}

    e = {k: w.ids[k] for k in ("e1", "e2", "e3")}
    expected_enterprises = {
        "admin": set(e.values()),
        "national": set(e.values()),
        "province": {e["e1"], e["e2"]},
        "zone": {e["e1"], e["e2"]},
        "bank_a": {e["e1"], e["e2"]},  # consent and referral
        "bank_b": set(),
        "firm": {e["e1"]},
    }
    for who, wanted in expected_enterprises.items():
        assert listed(who, "/api/v1/enterprises") == wanted, who
    tree_a = {w.ids["a"], w.ids["a1"]}
    assert listed("bank_a", "/api/v1/institutions") == tree_a
    assert listed("bank_b", "/api/v1/institutions") == {w.ids["b"]}
    assert listed("firm", "/api/v1/institutions") == tree_a | {w.ids["b"]}
    assert listed("bank_a", "/api/v1/products") == {w.ids["pa"], w.ids["pa1"]}
    assert listed("bank_b", "/api/v1/products") == {w.ids["pb"]}
    assert listed("bank_a", "/api/v1/consents") == {w.ids["c1"], w.ids["c2"]}
    assert listed("bank_b", "/api/v1/consents") == set()
    assert listed("bank_b", "/api/v1/referrals") == set()
    assert listed("zone", "/api/v1/referrals") == {w.ids["r1"]}
    need_e1 = {v for k, v in w.ids.items() if k.startswith("need_e1")}
    need_e3 = {v for k, v in w.ids.items() if k.startswith("need_e3")}
    needs = {
        "admin": need_e1 | need_e3,
        "national": need_e1 | need_e3,
        "province": need_e1,
        "zone": need_e1,
        "bank_a": need_e1,
        "bank_b": set(),
        "firm": need_e1,
    }
    for who, wanted in needs.items():
        assert listed(who, "/api/v1/needs") == wanted, who
    sides = {  # 甲's rows and 乙's rows of each programme-level list
        path: tuple(
            {v for k, v in w.ids.items() if k.startswith(prefix) and ("yi" in k) == yi}
            for yi in (False, True)
        )
        for path, prefix in (
            ("/api/v1/programmes", "prg_"),
            ("/api/v1/agreements", "ag_"),
            ("/api/v1/risk-pools", "pool_"),
            ("/api/v1/pool-claims", "claim_"),
            ("/api/v1/subsidies", "sub_"),
        )
    }
    for path, (jia, yi) in sides.items():
        assert jia and yi, path
        for who in ("admin", "national"):
            assert listed(who, path) == jia | yi, (who, path)
        for who in ("province", "zone", "bank_a"):
            assert listed(who, path) == jia, (who, path)
        assert listed("bank_b", path) == yi, path
    assert listed("firm", "/api/v1/subsidies") == sides["/api/v1/subsidies"][0]  # all e1's
    # loans and credit lines: the same row scopes as one loan or line, filters on top
    loans = {w.ids["loan_a"], w.ids["loan_b"]}
    for who in ("admin", "national"):
        assert listed(who, "/api/v1/loans") >= loans, who
    for who in ("province", "zone", "bank_a", "firm"):
        assert w.ids["loan_a"] in listed(who, "/api/v1/loans"), who
        assert w.ids["loan_b"] not in listed(who, "/api/v1/loans"), who
    assert w.ids["loan_b"] in listed("bank_b", "/api/v1/loans")
    assert w.ids["loan_a"] not in listed("bank_b", "/api/v1/loans")
    of_b = listed("admin", f"/api/v1/loans?institution_id={w.ids['b']}")
    assert w.ids["loan_b"] in of_b and w.ids["loan_a"] not in of_b
    assert listed("admin", "/api/v1/loans?drawn_from=2100-01-01") == set()
    assert w.ids["line_b"] in listed("bank_b", "/api/v1/credit-lines")
    assert w.ids["line_b"] not in listed("bank_a", "/api/v1/credit-lines")
    by_bank = listed("admin", f"/api/v1/credit-lines?institution_id={w.ids['b']}")
    assert w.ids["line_b"] in by_bank and w.ids["line_a"] not in by_bank


def test_institution_cannot_publish_for_another(world: tuple[World, Api]) -> None:
    w, api = world
    body = _product_body(w, "bank_a") | {"institution_id": w.ids["b"]}
    response = api.call("bank_a", "POST", "/api/v1/products", json=body)
    assert response.status_code == 403
    listed = api.call("admin", "GET", "/api/v1/products?limit=500").json()
    assert body["code"] not in json.dumps(listed)  # rolled back, not half-written


def test_zone_officer_cannot_create_or_move_enterprises_elsewhere(world: tuple[World, Api]) -> None:
    w, api = world
    body = _enterprise_body(w, "zone") | {"zone_id": w.ids["z2"]}
    assert api.call("zone", "POST", "/api/v1/enterprises", json=body).status_code == 403
    moved = api.call(
        "zone", "PATCH", f"/api/v1/enterprises/{w.ids['e1']}", json={"zone_id": w.ids["z2"]}
    )
    assert moved.status_code == 403
    still = api.call("admin", "GET", f"/api/v1/enterprises/{w.ids['e1']}").json()
    assert still["zone_id"] == w.ids["z1"]


def test_enterprise_user_may_not_change_identity_fields(world: tuple[World, Api]) -> None:
    w, api = world
    response = api.call(
        "firm", "PATCH", f"/api/v1/enterprises/{w.ids['e1']}", json={"zone_id": w.ids["z2"]}
    )
    assert response.status_code == 403
    assert response.json()["field"] == "zone_id"


def test_a_route_without_policy_is_refused() -> None:
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/naked")
    def naked() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="GET /naked"):
        route_actions([router])
