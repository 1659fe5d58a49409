"""Reference codes of the field. Rule values are defaults users can change; these are names."""

from __future__ import annotations

from enum import StrEnum


class TechField(StrEnum):
    """The 8 national key-supported high-tech fields (国家重点支持的高新技术领域)."""

    ELECTRONIC_INFORMATION = "electronic_information"  # 电子信息
    BIO_MEDICINE = "bio_medicine"  # 生物与新医药
    AEROSPACE = "aerospace"  # 航空航天
    NEW_MATERIALS = "new_materials"  # 新材料
    HIGH_TECH_SERVICES = "high_tech_services"  # 高技术服务
    NEW_ENERGY = "new_energy"  # 新能源与节能
    RESOURCES_ENVIRONMENT = "resources_environment"  # 资源与环境
    ADVANCED_MANUFACTURING = "advanced_manufacturing"  # 先进制造与自动化


TECH_FIELD_NAMES: dict[TechField, tuple[str, str]] = {
    TechField.ELECTRONIC_INFORMATION: ("电子信息", "Electronic information"),
    TechField.BIO_MEDICINE: ("生物与新医药", "Biology and new medicine"),
    TechField.AEROSPACE: ("航空航天", "Aerospace"),
    TechField.NEW_MATERIALS: ("新材料", "New materials"),
    TechField.HIGH_TECH_SERVICES: ("高技术服务", "High-tech services"),
    TechField.NEW_ENERGY: ("新能源与节能", "New energy and energy saving"),
    TechField.RESOURCES_ENVIRONMENT: ("资源与环境", "Resources and environment"),
    TechField.ADVANCED_MANUFACTURING: ("先进制造与自动化", "Advanced manufacturing and automation"),
}

#: Default growth stages (name zh, name en); programmes may add their own in the database.
DEFAULT_GROWTH_STAGES: dict[str, tuple[str, str]] = {
    "startup": ("初创期", "Start-up"),
    "growth": ("成长期", "Growth"),
    "stable": ("稳定期", "Stable"),
}

#: Default certification kinds: code → (name zh, name en, validity in years or None).
DEFAULT_CERTIFICATION_KINDS: dict[str, tuple[str, str, int | None]] = {
    "hnte": ("高新技术企业", "High and new technology enterprise", 3),
    "tech_sme": ("科技型中小企业", "Technology-based SME", 1),
    "srdi": ("专精特新中小企业", "Specialised, refined, distinctive and novel SME", 3),
    "little_giant": ("专精特新“小巨人”企业", "SRDI 'little giant' enterprise", 3),
    "gazelle": ("瞪羚企业", "Gazelle enterprise", 1),
}


class ZoneLevel(StrEnum):
    NATIONAL = "national"
    PROVINCIAL = "provincial"


class InstitutionKind(StrEnum):
    BANK = "bank"
    INSURER = "insurer"
    GUARANTOR = "guarantor"
    VC_PE = "vc_pe"
    LEASING = "leasing"
    MICRO_CREDIT = "micro_credit"
    SECURITIES = "securities"
    OTHER = "other"


class ProductKind(StrEnum):
    PURE_CREDIT_LOAN = "pure_credit_loan"  # 纯信用贷款
    IP_PLEDGE_LOAN = "ip_pledge_loan"  # 知识产权质押贷款
    POINTS_LOAN = "points_loan"  # 创新积分贷
    VENTURE_LOAN = "venture_loan"  # 投贷联动 / venture debt
    SECURED_LOAN = "secured_loan"
    EQUITY_INVESTMENT = "equity_investment"
    GUARANTEE = "guarantee"
    TECH_INSURANCE = "tech_insurance"
    LEASING = "leasing"
    BOND = "bond"


class FinancingMode(StrEnum):
    """Direct (equity, bonds, VC) or indirect (bank credit) financing."""

    DIRECT = "direct"
    INDIRECT = "indirect"


class RateType(StrEnum):
    FIXED = "fixed"  # a fixed annual rate, in percent
    LPR_SPREAD = "lpr_spread"  # loan prime rate plus a spread, in basis points


class Collateral(StrEnum):
    NONE = "none"
    IP_PLEDGE = "ip_pledge"
    EQUITY_PLEDGE = "equity_pledge"
    RECEIVABLES = "receivables"
    REAL_ESTATE = "real_estate"
    GUARANTEE = "guarantee"


class OrgKind(StrEnum):
    GOVERNMENT = "government"
    ZONE = "zone"
    INSTITUTION = "institution"
    ENTERPRISE = "enterprise"


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    PROGRAMME_OFFICER = "programme_officer"
    ZONE_OFFICER = "zone_officer"
    INSTITUTION_OFFICER = "institution_officer"
    ENTERPRISE_USER = "enterprise_user"


class SourceKind(StrEnum):
    """Where a value came from (lineage)."""

    IMPORT = "import"  # an imported file
    PROVIDER = "provider"  # a data provider's feed
    SELF_REPORTED = "self_reported"
    DEMO = "demo"  # synthetic demo data


class NeedPurpose(StrEnum):
    """What a financing need (融资需求) is for."""

    WORKING_CAPITAL = "working_capital"  # 流动资金
    RD = "rd"  # 研发投入
    EQUIPMENT = "equipment"  # 设备购置
    EXPANSION = "expansion"  # 扩大生产 / 扩张
    IP_COMMERCIALISATION = "ip_commercialisation"  # 成果转化


NEED_PURPOSE_NAMES: dict[NeedPurpose, tuple[str, str]] = {
    NeedPurpose.WORKING_CAPITAL: ("流动资金", "Working capital"),
    NeedPurpose.RD: ("研发投入", "R&D"),
    NeedPurpose.EQUIPMENT: ("设备购置", "Equipment"),
    NeedPurpose.EXPANSION: ("扩大经营", "Expansion"),
    NeedPurpose.IP_COMMERCIALISATION: ("知识产权转化", "IP commercialisation"),
}

#: the collateral an enterprise may offer for a need (a subset of `Collateral`)
NEED_COLLATERAL: tuple[str, ...] = ("none", "ip_pledge", "receivables", "real_estate", "guarantee")
