"""Write the README's example files from a small demo database (`make demo`, seed 42).

    python examples/generate.py innofin-demo.db

- `年度指标.xlsx`: the 2024 annual reports of 20 enterprises of 示例绍兴国家高新区 as the zone
  sends them: Chinese headers, amounts in 万元 rounded to 0.01 万元 (`--mapping indicators-zh`).
- `贷款报送.xlsx`: a bank return of January 2025 from 示例兴业银行绍兴科技支行2 (DEMO-BK005):
  a new credit line (maker demo.bank2, checker demo.checker2) and a drawdown on it, a repayment,
  a classification and a default on its loans (`--mapping loan-events-zh`).

The demo is deterministic, so the same seed gives the same files; the README test runs every
example against a fresh demo database.
"""

from __future__ import annotations

import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent
ZONE = "DEMO-Z012"
REPORT_FIELDS = {  # header → (column, 万元?)
    "营业收入（万元）": ("revenue", True),
    "主营业务收入（万元）": ("main_revenue", True),
    "研发费用（万元）": ("rd_expense", True),
    "研发人员数": ("rd_staff", False),
    "从业人员数": ("employees", False),
    "有效发明专利数": ("invention_patents", False),
    "Ⅰ类知识产权数": ("ip_class1", False),
    "Ⅱ类知识产权数": ("ip_class2", False),
    "高新技术产品收入（万元）": ("hightech_revenue", True),
    "净利润（万元）": ("net_profit", True),
    "纳税总额（万元）": ("tax_paid", True),
    "资产总额（万元）": ("total_assets", True),
    "负债总额（万元）": ("total_liabilities", True),
    "股权融资额（万元）": ("equity_financing", True),
}


def wan(fen: int | None) -> Decimal | None:
    """Fen (SQLite stores money as fen) in 万元, rounded to 0.01 万元 as offices report."""
    return None if fen is None else (Decimal(fen) / 1_000_000).quantize(Decimal("0.01"))


def indicators(db: sqlite3.Connection, target: Path) -> None:
    columns = ", ".join(f"r.{c}" for c, _ in REPORT_FIELDS.values())
    rows = db.execute(
        f"SELECT e.identifier, e.name, {columns} FROM indicator_report r "
        "JOIN enterprise e ON e.id = r.enterprise_id JOIN zone z ON z.id = e.zone_id "
        "WHERE z.code = ? AND r.year = 2024 ORDER BY e.id LIMIT 20",
        (ZONE,),
    ).fetchall()
    book = Workbook()
    sheet = book.active
    sheet.title = "2024年度指标"
    sheet.append(["序号", "企业名称", "统一社会信用代码", "年度", *REPORT_FIELDS, "数据截止日期"])
    for n, (identifier, name, *values) in enumerate(rows, start=1):
        cells = [
            wan(v) if in_wan else v
            for v, (_, in_wan) in zip(values, REPORT_FIELDS.values(), strict=True)
        ]
        sheet.append([n, name, identifier, 2024, *cells, "2024-12-31"])
    book.save(target)


RETURN_HEADERS = [
    "序号", "机构代码", "业务类型", "业务日期", "借据编号", "授信编号", "统一社会信用代码",
    "企业名称", "授信额度（万元）", "期限月数", "年利率（%）", "利率类型", "是否循环", "计划编号",
    "风险池编号", "贷款标签", "经办人", "复核人", "本金（万元）", "利息（万元）", "还款方式",
    "五级分类",
]  # fmt: skip


def bank_return(db: sqlite3.Connection, target: Path) -> None:
    firm = db.execute(
        "SELECT e.identifier, e.name FROM enterprise e JOIN zone z ON z.id = e.zone_id "
        "WHERE z.code = ? AND e.id NOT IN (SELECT enterprise_id FROM credit_line) "
        "ORDER BY e.id LIMIT 1",
        (ZONE,),
    ).fetchone()

    def loan(loan_id: int) -> tuple[str, str]:
        ref, name = db.execute(
            "SELECT l.external_ref, e.name FROM loan l JOIN enterprise e ON e.id = l.enterprise_id "
            "WHERE l.id = ?",
            (loan_id,),
        ).fetchone()
        return ref, name

    def row(**cells: object) -> list[object]:  # cells by header without its unit
        return [cells.get(h.split("（")[0]) for h in RETURN_HEADERS]

    bank = "DEMO-BK005"
    line = "DEMO-BK005-SX-2025-001"
    rows = [
        row(机构代码=bank, 业务类型="授信", 业务日期="2025-01-06", 授信编号=line,
            统一社会信用代码=firm[0], 企业名称=firm[1], 授信额度=500, 期限月数=12,
            年利率=Decimal("3.45"), 利率类型="固定利率", 是否循环="否", 计划编号="DEMO-PRG-ZONE",
            风险池编号="DEMO-POOL-ZONE", 贷款标签="首贷;纯信用", 经办人="demo.bank2",
            复核人="demo.checker2"),
        row(机构代码=bank, 业务类型="放款", 业务日期="2025-01-08", 借据编号=f"{line}-01",
            授信编号=line, 企业名称=firm[1], 本金=300, 期限月数=12, 还款方式="等额本金"),
    ]  # fmt: skip
    ref, name = loan(10395)
    rows.append(row(机构代码=bank, 业务类型="五级分类", 业务日期="2025-01-15", 借据编号=ref,
                    企业名称=name, 五级分类="次级"))  # fmt: skip
    ref, name = loan(9785)
    rows.append(row(机构代码=bank, 业务类型="违约", 业务日期="2025-01-20", 借据编号=ref,
                    企业名称=name))  # fmt: skip
    book = Workbook()
    sheet = book.active
    sheet.title = "2025年1月"
    sheet.append(RETURN_HEADERS)
    for n, cells in enumerate(rows, start=1):
        cells[0] = n
        sheet.append(cells)
    book.save(target)


def generate(database: Path, folder: Path) -> None:
    """Write both files into `folder` from the demo database at `database`."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        indicators(db, folder / "年度指标.xlsx")
        bank_return(db, folder / "贷款报送.xlsx")
    finally:
        db.close()


if __name__ == "__main__":
    generate(Path(sys.argv[1] if len(sys.argv) > 1 else "innofin-demo.db"), HERE)
