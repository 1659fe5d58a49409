"""A rejects report echoes values in the unit of their column's header: under 本金（万元） a
refused repayment shows 万元, as the bank wrote it, not yuan (SQLite and PostgreSQL). Bank
returns also read full-width amounts and name --ignore-extra for a column they do not know."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

import ledger_world as lw
from ingest_helpers import seed_registry
from innofin.ingest import Mapping, RejectedRows, UnknownColumn, import_file
from innofin.ingest.rejects import read_rejects
from innofin.ledger import returns

ZH = ["机构代码", "借据编号", "业务类型", "业务日期", "授信编号", "本金（万元）", "利息（万元）"]
ZH.append("期限月数")


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_a_bank_return_echoes_amounts_in_wan(engine: Engine, tmp_path: Path) -> None:
    w = lw.build(engine)
    lw.line(w, limit="5000000.00", commitment=False)
    rows = [
        ["B001", "JJ-1", "放款", "2024-02-01", "L-1", "150", "", "24"],
        ["B001", "JJ-1", "还款", "2024-03-01", "", "200.5", "0.4712", ""],  # above the balance
        ["B001", "JJ-2", "放款", "2024-02-01", "L-1", "１０００", "", "24"],  # over the limit
    ]
    path = _write(tmp_path / "贷款报送.csv", ZH, rows)
    with pytest.raises(RejectedRows) as exc:
        returns.import_return(engine, path, mapping="loan-events-zh", actor=lw.MAKER)
    found = {r["row"]: r for r in read_rejects(exc.value.rejects_path)}
    assert (found["3"]["column"], found["3"]["value"]) == ("本金（万元）", "200.5")
    assert (found["4"]["column"], found["4"]["value"]) == ("本金（万元）", "1000")


def test_an_import_echoes_compared_amounts_in_the_unit_of_the_header(
    engine: Engine, tmp_path: Path
) -> None:
    seed_registry(engine)
    mapping = Mapping.model_validate(
        {
            "kind": "products",
            "columns": {
                "产品代码": "code",
                "机构代码": "institution",
                "产品名称": "name",
                "产品类型": "kind",
                "融资方式": "financing_mode",
                "最低金额（万元）": {"field": "amount_min", "unit": "万元"},
                "最高金额（万元）": {"field": "amount_max", "unit": "万元"},
            },
        }
    )
    header = ["产品代码", "机构代码", "产品名称", "产品类型", "融资方式"]
    header += ["最低金额（万元）", "最高金额（万元）"]
    path = _write(
        tmp_path / "产品.csv",
        header,
        [["P9", "B1", "科创贷", "points_loan", "indirect", "500.5", "300"]],
    )
    with pytest.raises(RejectedRows) as exc:
        import_file(engine, "products", path, mapping=mapping)
    (line,) = read_rejects(exc.value.rejects_path)
    assert (line["column"], line["value"]) == ("最低金额（万元）", "500.5")
    assert line["reason"] == "amount_min (500.5) must not exceed amount_max (300)"


def test_a_bank_return_with_an_extra_column_names_ignore_extra(
    engine: Engine, tmp_path: Path
) -> None:
    w = lw.build(engine)
    lw.line(w, limit="5000000.00", commitment=False)
    header = ["institution", "loan_ref", "event", "date", "line_ref", "principal", "months"]
    row = ["B001", "JJ-1", "drawdown", "2024-02-01", "L-1", "１５００", "24"]
    path = _write(tmp_path / "r.csv", [*header, "note"], [[*row, "第一笔"]])
    hint = r"column 'note' is not in the mapping; .*--ignore-extra"
    with pytest.raises(UnknownColumn, match=hint):
        returns.import_return(engine, path, actor=lw.MAKER)
    done = returns.import_return(engine, path, actor=lw.MAKER, ignore_extra=True)
    assert (done.applied, done.rejected) == (1, 0)
