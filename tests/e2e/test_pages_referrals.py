"""The referral pages' forms: a firm refers its need to several institutions at once with its
consent, each institution answers only its own referrals (opt in, decline with a reason code, the
funnel's steps), a decline re-matches the need and the firm sees the reason and the re-match; an
officer sees the overdue ones. Each form runs `matching.referrals` as the API does, refuses what
the API refuses (a role, another institution's row, a decline without a reason, a form without
the visitor's CSRF token) and then writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from api_world import PASSWORD, Clock, World, build_world, make_api
from innofin.access.models import Consent
from innofin.matching.models import NeedReferral
from innofin.registry.models import Enterprise

BASE = "http://127.0.0.1"


class Visitor:
    def __init__(self, app: Any, who: str) -> None:
        self.client = TestClient(app, base_url=BASE, follow_redirects=False)
        answer = self.client.post(
            "/sign-in",
            data={"username": who, "password": PASSWORD, "csrf": self.token("/sign-in")},
        )
        assert answer.status_code == 303, answer.text[:300]

    def token(self, path: str = "/") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.client.get(path).text)
        assert found
        return found[1]

    def post(self, path: str, data: dict[str, Any] | None = None, csrf: bool = True) -> Any:
        form = {**({"csrf": self.token()} if csrf else {}), **(data or {})}
        return self.client.post(path, data=form, headers={"Origin": BASE})

    def get(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        return str(answer.text)


@pytest.fixture
def world(engine: Engine) -> Iterator[tuple[World, Any, Clock]]:
    w = build_world(engine)
    clock = Clock()
    yield w, make_api(engine, clock), clock


def _rows(engine: Engine, need_id: int) -> dict[int, NeedReferral]:
    with engine.connect() as conn:
        found = conn.execute(select(NeedReferral).where(NeedReferral.need_id == need_id)).all()
    return {r.institution_id: r for r in found}  # type: ignore[misc]


def test_refer_decline_and_see_the_reason_and_the_rematch(
    world: tuple[World, Any, Clock], engine: Engine
) -> None:
    w, api, clock = world
    need, a, b = w.ids["need_e1"], w.ids["a"], w.ids["b"]
    firm = Visitor(api.app, "firm")
    refer = {"institution_id": [a, b], "consent": "yes"}
    # without the firm's consent on the form, or without the CSRF token: nothing is referred
    assert firm.post(f"/needs/{need}/referrals", {"institution_id": [a]}).status_code == 400
    assert firm.post(f"/needs/{need}/referrals", refer, csrf=False).status_code == 403
    assert _rows(engine, need) == {}
    # a bank may not refer a firm's need
    bank_a = Visitor(api.app, "bank_a")
    assert bank_a.post(f"/needs/{need}/referrals", refer).status_code == 403
    done = firm.post(f"/needs/{need}/referrals", refer)
    assert done.status_code == 303 and done.headers["location"] == f"/needs/{need}#referrals"
    sent = _rows(engine, need)
    assert set(sent) == {a, b} and {r.status for r in sent.values()} == {"referred"}
    with engine.connect() as conn:  # ticking the consent granted it to bank B, which lacked it
        consented = conn.scalars(
            select(Consent.institution_id).where(
                Consent.enterprise_id == w.ids["e1"], Consent.withdrawn_at.is_(None)
            )
        ).all()
    assert b in consented
    # each bank sees and answers only its own referral
    bank_b = Visitor(api.app, "bank_b")
    inbox_b = bank_b.get("/referrals")
    assert f'id="referral-{sent[b].id}"' in inbox_b
    assert f'id="referral-{sent[a].id}"' not in inbox_b
    answer_a = f"/referrals/{sent[a].id}/answer"
    assert bank_b.post(answer_a, {"answer": "opt_in"}).status_code == 404
    # a decline needs a reason code, and words for "other"
    assert bank_a.post(answer_a, {"answer": "decline"}).status_code == 400
    assert bank_a.post(answer_a, {"answer": "decline", "code": "other"}).status_code == 400
    assert _rows(engine, need)[a].status == "referred"
    declined = bank_a.post(answer_a, {"answer": "decline", "code": "risk"})
    assert declined.status_code == 303, declined.text[:300]
    after = _rows(engine, need)
    assert after[a].status == "declined" and after[a].decline_code == "risk"
    # bank B opts in and moves its referral along; a step is not repeated
    answer_b = f"/referrals/{sent[b].id}/answer"
    assert bank_b.post(answer_b, {"answer": "opt_in"}).status_code == 303
    step_b = f"/referrals/{sent[b].id}/step"
    assert bank_b.post(step_b, {"step": "contacted"}).status_code == 303
    assert bank_b.post(step_b, {"step": "contacted"}).status_code == 400
    assert _rows(engine, need)[b].status == "contacted"
    # the firm sees each referral's status, the reason in its words, and what the decline led to
    page = firm.get(f"/needs/{need}")
    row_a = page.split(f'id="referral-{sent[a].id}"')[1].split("</tr>")[0]
    assert "风险过高" in row_a and "已拒绝" in row_a
    rematched = [r for r in _rows(engine, need).values() if r.rematch_of_id == sent[a].id]
    # the best alternative with consent (branch A1) is referred at once, shown beside the decline
    assert [r.institution_id for r in rematched] == [w.ids["a1"]]
    assert f'id="referral-{rematched[0].id}"' in page and "甲银行科技支行" in row_a
    offered = page.split(f'id="rematch-{sent[a].id}"')[1].split("</section>")[0]
    assert "甲银行科技支行" in offered and f'href="#referral-{rematched[0].id}"' in offered
    assert "已联系" in page.split(f'id="referral-{sent[b].id}"')[1].split("</tr>")[0]
    # past the deadline an unanswered referral is on the officers' overdue list, not the firm's
    clock.advance(days=10)
    national = Visitor(api.app, "national")
    overdue = national.get("/referrals/overdue")
    for r in _rows(engine, need).values():
        assert (f'id="referral-{r.id}"' in overdue) == (r.status == "referred")
    firm_again = Visitor(api.app, "firm")
    assert firm_again.client.get("/referrals/overdue").status_code == 403
    assert firm_again.post("/referrals/overdue/flags").status_code == 403
    assert national.post("/referrals/overdue/flags").status_code == 303
    for r in _rows(engine, need).values():
        assert (r.overdue_flagged_at is not None) == (r.status == "referred")


def test_the_need_page_prechecks_a_product_rule_by_rule(
    world: tuple[World, Any, Clock],
) -> None:
    w, api, _ = world
    firm = Visitor(api.app, "firm")
    page = firm.get(f"/needs/{w.ids['need_e1']}?product={w.ids['pa']}")
    rules = re.findall(r'<span class="tag (ok|warn)">(通过|未通过)</span>', page)
    assert rules, page[-3000:]
    # another firm's need is not pre-checked for this visitor
    hidden = firm.client.get(f"/needs/{w.ids['need_e3']}?product={w.ids['pa']}")
    assert hidden.status_code == 404


def test_an_officer_runs_an_allocation_and_accepts_it_as_proposed_lines(
    world: tuple[World, Any, Clock], engine: Engine
) -> None:
    from innofin.ledger.models import CreditLine, Programme
    from innofin.matching.models import AllocationRow, AllocationRun

    w, api, _ = world
    with engine.begin() as conn:  # e1 in a key technology field, so its need is allocated
        conn.execute(
            update(Enterprise)
            .where(Enterprise.id == w.ids["e1"])
            .values(tech_field="electronic_information")
        )
        progs = dict(conn.execute(select(Programme.code, Programme.id)).all())
    jia, yi = progs["PRG-JIA"], progs["PRG-YI"]
    with engine.connect() as conn:
        runs_before = len(conn.execute(select(AllocationRun.id)).all())
    province = Visitor(api.app, "province")
    form = {"programme_id": jia, "on": "2026-03-01", "cap_wan": "500", "floor_share": "0.05"}
    # a bank may not run one; a province may not run another province's programme
    assert Visitor(api.app, "bank_a").post("/allocation", form).status_code == 403
    assert province.post("/allocation", {**form, "programme_id": yi}).status_code == 404
    assert province.post("/allocation", {**form, "field_quota": "IC=lots"}).status_code == 400
    with engine.connect() as conn:
        assert len(conn.execute(select(AllocationRun.id)).all()) == runs_before
    made = province.post("/allocation", form)
    assert made.status_code == 303, made.text[:300]
    run_path = made.headers["location"]
    run_id = int(run_path.rsplit("/", 1)[1])
    page = province.get(run_path)
    for label in ("目标值", "最优性差距", "先到先得", "紧约束额度", "无法满足的额度"):
        assert label in page, label
    assert run_id and f"/allocation/runs/{run_id}" in province.get(f"/allocation?programme={jia}")
    with engine.connect() as conn:
        rows = conn.execute(select(AllocationRow).where(AllocationRow.run_id == run_id)).all()
        lines_before = len(conn.execute(select(CreditLine.id)).all())
    assert rows, "the world's programme 甲 has an open need and a commitment to fund it"
    once = re.search(r'name="once" value="([^"]+)"', page)
    accept = {"opens_on": "2026-03-02", **({"once": once[1]} if once else {})}
    assert province.post(f"{run_path}/acceptance", accept).status_code == 303
    assert province.post(f"{run_path}/acceptance", accept).status_code == 303  # the same form
    with engine.connect() as conn:
        status = conn.scalar(select(AllocationRun.status).where(AllocationRun.id == run_id))
        lines = conn.execute(
            select(CreditLine.status).where(CreditLine.external_ref.like(f"ALLOC-{run_id}-%"))
        ).all()
        lines_after = len(conn.execute(select(CreditLine.id)).all())
    assert status == "accepted" and len(lines) == len(rows) == lines_after - lines_before
    assert {r.status for r in lines} == {"pending"}  # the institution's checker approves them
