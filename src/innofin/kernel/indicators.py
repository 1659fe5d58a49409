"""The core fields of an enterprise's annual indicator report (年度指标), shared by every room."""

from __future__ import annotations

from typing import NamedTuple


class ReportField(NamedTuple):
    unit: str  # yuan, person, count
    name_zh: str
    name_en: str
    signed: bool = False  # may be negative


#: Core report fields in export order.
REPORT_FIELDS: dict[str, ReportField] = {
    "revenue": ReportField("yuan", "营业收入", "Revenue"),
    "main_revenue": ReportField("yuan", "主营业务收入", "Main-business revenue"),
    "rd_expense": ReportField("yuan", "研发费用", "R&D expense"),
    "rd_staff": ReportField("person", "研发人员数", "R&D staff"),
    "employees": ReportField("person", "从业人员数", "Employees"),
    "invention_patents": ReportField("count", "有效发明专利数", "Valid invention patents"),
    "ip_class1": ReportField("count", "Ⅰ类知识产权数", "Class I IP"),
    "ip_class2": ReportField("count", "Ⅱ类知识产权数", "Class II IP"),
    "tech_contract_turnover": ReportField("yuan", "技术合同成交额", "Technology contract turnover"),
    "hightech_revenue": ReportField("yuan", "高新技术产品收入", "High-tech product revenue"),
    "net_profit": ReportField("yuan", "净利润", "Net profit", signed=True),
    "tax_paid": ReportField("yuan", "纳税总额", "Tax paid"),
    "total_assets": ReportField("yuan", "资产总额", "Total assets"),
    "total_liabilities": ReportField("yuan", "负债总额", "Total liabilities"),
    "equity_financing": ReportField("yuan", "股权融资额", "Equity financing received"),
    "rd_platforms": ReportField("count", "省级以上研发平台数", "Provincial+ R&D platforms"),
    "standards_drafted": ReportField("count", "主持或参与制定标准数", "Standards drafted"),
}

MONEY_FIELDS = frozenset(k for k, v in REPORT_FIELDS.items() if v.unit == "yuan")
COUNT_FIELDS = frozenset(k for k, v in REPORT_FIELDS.items() if v.unit != "yuan")
