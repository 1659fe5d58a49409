"""`POST /api/v1/imports/{kind}` with `check_only`, on SQLite and PostgreSQL: the import run and
rolled back. It answers as the import would — 200 with the rows it would write, or 422 naming
every rejected row with row, column, value and reason — and no table of the database changes:
no rows, no data source, no audit row, no idempotency record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

import factories
from api_world import Api, World, build_world, make_api
from ingest_helpers import every_table

PATH = "/api/v1/imports/indicators"
HEADER = "identifier,year,revenue,employees\n"
GOOD = [f"{factories.uscc(1)},2019,1250000.00,30\n", f"{factories.uscc(2)},2019,88,4\n"]
BAD = [
    f"{factories.uscc(1)[:-1]}X,2024,1.00,3\n",  # a bad check character
    f"{factories.uscc(99)},2024,1.00,3\n",  # no such enterprise
    f"{factories.uscc(2)},2023,-5,3\n",  # a negative revenue
    f"{factories.uscc(3)},2024,1.00,many\n",  # not a number
]


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    api = make_api(engine)
    api.headers("admin")  # signed in before anything is counted: sign-in writes its own rows
    yield world, api


def _post(api: Api, rows: list[str], headers: dict[str, str] | None = None, **form: Any) -> Any:
    data = (HEADER + "".join(rows)).encode()
    return api.call(
        "admin",
        "POST",
        PATH,
        files={"file": ("indicators.csv", data, "text/csv")},
        data={k: str(v).lower() for k, v in form.items()},
        headers=headers or {},
    )


def test_a_check_reports_exactly_the_imports_rejections_and_changes_no_table(
    setup: tuple[World, Api], engine: Engine
) -> None:
    _, api = setup
    rows = [GOOD[0], BAD[0], GOOD[1], *BAD[1:]]
    before = every_table(engine)
    checked = _post(api, rows, check_only=True)
    assert checked.status_code == 422, checked.text
    assert every_table(engine) == before
    body = checked.json()
    assert body["code"] == "import_rejected"
    assert "4 of 6 rows rejected" in body["message"]
    assert [(e["row"], e["column"]) for e in body["errors"]] == [
        (3, "identifier"),
        (5, "identifier"),
        (6, "revenue"),
        (7, "employees"),
    ]
    assert all(e["reason"] for e in body["errors"])
    assert body["errors"][3]["value"] == "many"
    imported = _post(api, rows)  # the import itself: the very same answer
    assert (imported.status_code, imported.json()) == (422, body)
    assert every_table(engine) == before
    # keeping the good rows: the check says which would be kept, and still writes nothing
    kept = _post(api, rows, check_only=True, skip_invalid=True)
    assert kept.status_code == 200, kept.text
    assert {k: kept.json()[k] for k in ("rows", "written", "rejected", "check_only")} == {
        "rows": 6,
        "written": 2,
        "rejected": 4,
        "check_only": True,
    }
    assert kept.json()["errors"] == body["errors"]
    assert every_table(engine) == before


def test_a_valid_files_check_says_how_many_rows_would_be_imported(
    setup: tuple[World, Api], engine: Engine
) -> None:
    _, api = setup
    before = every_table(engine)
    key = {"Idempotency-Key": "check-1", "X-Audit-Reason": "dry run"}
    checked = _post(api, GOOD, headers=key, check_only=True)
    assert checked.status_code == 200, checked.text
    out = checked.json()
    assert out["check_only"] is True and out["source_id"] is None
    assert (out["rows"], out["written"], out["rejected"], out["errors"]) == (2, 2, 0, [])
    # no rows, no data source, no audit row, and no idempotency record under the key
    assert every_table(engine) == before
    again = _post(api, GOOD, headers=key, check_only=True)  # not replayed: checked afresh
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    assert every_table(engine) == before
    # the import as checked, under the same key (the checks stored nothing under it)
    done = _post(api, GOOD, headers=key)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["check_only"] is False and result["source_id"] is not None
    assert result["written"] == out["written"]
    after = every_table(engine)
    assert after["indicator_report"] == before["indicator_report"] + 2
    assert after["data_source"] == before["data_source"] + 1
    assert after["audit_event"] > before["audit_event"]
    assert after["idempotency_record"] == before["idempotency_record"] + 1


def test_a_check_of_an_unreadable_file_answers_as_the_import(setup: tuple[World, Api]) -> None:
    _, api = setup
    for form in ({"check_only": True}, {}):
        response = api.call(
            "admin",
            "POST",
            "/api/v1/imports/zones",
            files={"file": ("z.csv", b"code,name_zh,province,city,level\n", "text/csv")},
            data={k: str(v).lower() for k, v in form.items()},
        )
        assert response.status_code == 400, response.text
        assert "has a header but no data rows" in response.json()["message"]
