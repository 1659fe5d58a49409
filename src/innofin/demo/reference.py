"""Reference tables the demo generator draws from: places, industries, field parameters, names.

Everything here is data, not logic, so that a reader can judge the realism of the synthetic data
at a glance and change it in one place. Sources: DOMAIN.md (fields, thresholds, programmes),
GB/T 2260 administrative division codes (city level, or the district that hosts the zone for
the four municipalities) and GB/T 4754-2017 industry classes.
"""

from __future__ import annotations

from typing import NamedTuple

from innofin.kernel.codes import TechField


class City(NamedTuple):
    """A city that hosts hi-tech zones; `weight` ≈ its share of national zone activity."""

    name_zh: str
    name_en: str
    province_zh: str
    region_code: str  # 6-digit administrative division code (GB/T 2260)
    weight: float


#: Cities hosting national or provincial hi-tech zones. Weights are rough relative sizes of their
#: technology economies (Beijing, Shenzhen, Shanghai, Suzhou... dominate), which with the
#: Zipf law over zone ranks gives the heavy tail of zone sizes seen in the national statistics.
CITIES: tuple[City, ...] = (
    City("北京", "Beijing", "北京市", "110108", 10.0),
    City("天津", "Tianjin", "天津市", "120116", 3.0),
    City("上海", "Shanghai", "上海市", "310115", 8.0),
    City("重庆", "Chongqing", "重庆市", "500106", 3.0),
    City("石家庄", "Shijiazhuang", "河北省", "130100", 1.5),
    City("保定", "Baoding", "河北省", "130600", 1.0),
    City("唐山", "Tangshan", "河北省", "130200", 0.8),
    City("太原", "Taiyuan", "山西省", "140100", 1.0),
    City("包头", "Baotou", "内蒙古自治区", "150200", 0.6),
    City("沈阳", "Shenyang", "辽宁省", "210100", 1.5),
    City("大连", "Dalian", "辽宁省", "210200", 1.5),
    City("长春", "Changchun", "吉林省", "220100", 1.2),
    City("哈尔滨", "Harbin", "黑龙江省", "230100", 1.2),
    City("大庆", "Daqing", "黑龙江省", "230600", 0.5),
    City("南京", "Nanjing", "江苏省", "320100", 4.0),
    City("无锡", "Wuxi", "江苏省", "320200", 3.0),
    City("徐州", "Xuzhou", "江苏省", "320300", 1.2),
    City("常州", "Changzhou", "江苏省", "320400", 2.0),
    City("苏州", "Suzhou", "江苏省", "320500", 5.0),
    City("南通", "Nantong", "江苏省", "320600", 1.5),
    City("扬州", "Yangzhou", "江苏省", "321000", 0.9),
    City("镇江", "Zhenjiang", "江苏省", "321100", 0.8),
    City("泰州", "Taizhou", "江苏省", "321200", 0.8),
    City("杭州", "Hangzhou", "浙江省", "330100", 5.0),
    City("宁波", "Ningbo", "浙江省", "330200", 2.5),
    City("温州", "Wenzhou", "浙江省", "330300", 1.0),
    City("嘉兴", "Jiaxing", "浙江省", "330400", 1.0),
    City("绍兴", "Shaoxing", "浙江省", "330600", 0.9),
    City("合肥", "Hefei", "安徽省", "340100", 3.0),
    City("芜湖", "Wuhu", "安徽省", "340200", 1.0),
    City("蚌埠", "Bengbu", "安徽省", "340300", 0.5),
    City("福州", "Fuzhou", "福建省", "350100", 1.5),
    City("厦门", "Xiamen", "福建省", "350200", 2.0),
    City("泉州", "Quanzhou", "福建省", "350500", 1.0),
    City("南昌", "Nanchang", "江西省", "360100", 1.2),
    City("赣州", "Ganzhou", "江西省", "360700", 0.6),
    City("济南", "Jinan", "山东省", "370100", 2.5),
    City("青岛", "Qingdao", "山东省", "370200", 2.5),
    City("淄博", "Zibo", "山东省", "370300", 1.0),
    City("烟台", "Yantai", "山东省", "370600", 1.0),
    City("潍坊", "Weifang", "山东省", "370700", 1.0),
    City("威海", "Weihai", "山东省", "371000", 0.6),
    City("郑州", "Zhengzhou", "河南省", "410100", 2.0),
    City("洛阳", "Luoyang", "河南省", "410300", 1.0),
    City("新乡", "Xinxiang", "河南省", "410700", 0.5),
    City("武汉", "Wuhan", "湖北省", "420100", 4.0),
    City("宜昌", "Yichang", "湖北省", "420500", 0.7),
    City("襄阳", "Xiangyang", "湖北省", "420600", 0.8),
    City("长沙", "Changsha", "湖南省", "430100", 2.5),
    City("株洲", "Zhuzhou", "湖南省", "430200", 0.9),
    City("湘潭", "Xiangtan", "湖南省", "430300", 0.6),
    City("广州", "Guangzhou", "广东省", "440100", 5.0),
    City("深圳", "Shenzhen", "广东省", "440300", 9.0),
    City("珠海", "Zhuhai", "广东省", "440400", 1.5),
    City("佛山", "Foshan", "广东省", "440600", 2.0),
    City("惠州", "Huizhou", "广东省", "441300", 1.0),
    City("东莞", "Dongguan", "广东省", "441900", 2.0),
    City("中山", "Zhongshan", "广东省", "442000", 1.0),
    City("南宁", "Nanning", "广西壮族自治区", "450100", 1.0),
    City("柳州", "Liuzhou", "广西壮族自治区", "450200", 0.6),
    City("海口", "Haikou", "海南省", "460100", 0.6),
    City("成都", "Chengdu", "四川省", "510100", 4.0),
    City("德阳", "Deyang", "四川省", "510600", 0.6),
    City("绵阳", "Mianyang", "四川省", "510700", 0.8),
    City("贵阳", "Guiyang", "贵州省", "520100", 1.0),
    City("昆明", "Kunming", "云南省", "530100", 1.0),
    City("拉萨", "Lhasa", "西藏自治区", "540100", 0.2),
    City("西安", "Xi'an", "陕西省", "610100", 3.5),
    City("宝鸡", "Baoji", "陕西省", "610300", 0.6),
    City("兰州", "Lanzhou", "甘肃省", "620100", 0.8),
    City("西宁", "Xining", "青海省", "630100", 0.4),
    City("银川", "Yinchuan", "宁夏回族自治区", "640100", 0.4),
    City("乌鲁木齐", "Urumqi", "新疆维吾尔自治区", "650100", 0.7),
)

#: English names of the provinces above.
PROVINCE_EN: dict[str, str] = {
    "北京市": "Beijing", "天津市": "Tianjin", "上海市": "Shanghai", "重庆市": "Chongqing",
    "河北省": "Hebei", "山西省": "Shanxi", "内蒙古自治区": "Inner Mongolia",
    "辽宁省": "Liaoning", "吉林省": "Jilin", "黑龙江省": "Heilongjiang", "江苏省": "Jiangsu",
    "浙江省": "Zhejiang", "安徽省": "Anhui", "福建省": "Fujian", "江西省": "Jiangxi",
    "山东省": "Shandong", "河南省": "Henan", "湖北省": "Hubei", "湖南省": "Hunan",
    "广东省": "Guangdong", "广西壮族自治区": "Guangxi", "海南省": "Hainan", "四川省": "Sichuan",
    "贵州省": "Guizhou", "云南省": "Yunnan", "西藏自治区": "Tibet", "陕西省": "Shaanxi",
    "甘肃省": "Gansu", "青海省": "Qinghai", "宁夏回族自治区": "Ningxia",
    "新疆维吾尔自治区": "Xinjiang",
}  # fmt: skip
CITY_EN: dict[str, str] = {c.name_zh: c.name_en for c in CITIES}

#: Suffixes telling apart several demo zones in one city.
ZONE_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("", ""),
    ("东区", " East"),
    ("西区", " West"),
    ("南区", " South"),
    ("北区", " North"),
    ("新区", " New Area"),
    ("滨江", " Riverside"),
    ("临港", " Port"),
)


class FieldProfile(NamedTuple):
    """Per-field parameters of the enterprise model (all medians; spreads are in the engine)."""

    share: float  # share of enterprises in this field
    rd_intensity: float  # median R&D expense / revenue
    rd_staff_share: float  # median R&D staff / employees
    revenue_factor: float  # multiplier on the stage's median revenue
    patent_factor: float  # multiplier on the patenting rate
    industries: tuple[str, ...]  # GB/T 4754-2017 industry classes typical of the field
    name_word: str  # word in demo company names


#: Field mix of zone enterprises and field effects. Electronic information and advanced
#: manufacturing dominate hi-tech zones; bio/medicine and electronics spend most on R&D.
FIELDS: dict[TechField, FieldProfile] = {
    TechField.ELECTRONIC_INFORMATION: FieldProfile(
        0.30, 0.085, 0.28, 1.0, 1.4, ("3911", "3921", "3973", "6511", "6513", "6520"), "信息"
    ),
    TechField.BIO_MEDICINE: FieldProfile(
        0.10, 0.120, 0.25, 0.8, 1.6, ("2710", "2720", "2761", "3581", "7340"), "生物医药"
    ),
    TechField.AEROSPACE: FieldProfile(
        0.04, 0.070, 0.22, 1.3, 1.2, ("3741", "3742", "3743"), "航空航天"
    ),
    TechField.NEW_MATERIALS: FieldProfile(
        0.10, 0.050, 0.16, 1.2, 1.0, ("2651", "3091", "3240", "3985"), "新材料"
    ),
    TechField.HIGH_TECH_SERVICES: FieldProfile(
        0.12, 0.060, 0.30, 0.6, 0.6, ("6560", "7320", "7452", "7520"), "技术服务"
    ),
    TechField.NEW_ENERGY: FieldProfile(
        0.08, 0.050, 0.16, 1.4, 1.0, ("3825", "3841", "4415", "4416"), "新能源"
    ),
    TechField.RESOURCES_ENVIRONMENT: FieldProfile(
        0.06, 0.045, 0.15, 1.0, 0.8, ("3591", "4620", "7721", "7722"), "环保"
    ),
    TechField.ADVANCED_MANUFACTURING: FieldProfile(
        0.20, 0.050, 0.17, 1.3, 1.1, ("3421", "3491", "3562", "4011"), "智能装备"
    ),
}

INDUSTRY_SCHEME = "GB/T 4754-2017"

#: Brand stems of the demo banks (fictional; "示例" marks them as synthetic).
BANK_BRANDS: tuple[tuple[str, str], ...] = (
    ("示例兴业", "Demo Xingye"),
    ("示例长江", "Demo Changjiang"),
    ("示例华信", "Demo Huaxin"),
    ("示例科创", "Demo Kechuang"),
    ("示例东方", "Demo Dongfang"),
    ("示例民泰", "Demo Mintai"),
    ("示例恒通", "Demo Hengtong"),
    ("示例瑞丰", "Demo Ruifeng"),
    ("示例金桥", "Demo Jinqiao"),
    ("示例泰和", "Demo Taihe"),
)


class ProductTemplate(NamedTuple):
    """Terms of a product kind: amounts in yuan, terms in months, rates as the kind prices.

    `rate` is ``("lpr_spread", lo_bps, hi_bps)`` or ``("fixed", lo_pct, hi_pct)`` with percents in
    hundredths (``150`` = 1.50 %), or None for equity.
    """

    name_zh: str
    mode: str  # direct / indirect
    amount_min: tuple[int, ...]  # choices of the minimum
    amount_max: tuple[int, int]  # range of the maximum (log-uniform)
    term: tuple[int, int] | None
    rate: tuple[str, int, int] | None
    collateral: tuple[str, ...]
    deals_per_year: int  # median deals, for the annual capacity


PRODUCT_TEMPLATES: dict[str, ProductTemplate] = {
    "pure_credit_loan": ProductTemplate(
        "科创信用贷",
        "indirect",
        (100_000, 500_000),
        (3_000_000, 10_000_000),
        (6, 36),
        ("lpr_spread", 20, 150),
        ("none",),
        400,
    ),
    "ip_pledge_loan": ProductTemplate(
        "知识产权质押贷",
        "indirect",
        (500_000, 1_000_000),
        (5_000_000, 30_000_000),
        (12, 36),
        ("lpr_spread", 50, 200),
        ("ip_pledge",),
        120,
    ),
    "points_loan": ProductTemplate(
        "创新积分贷",
        "indirect",
        (500_000,),
        (3_000_000, 10_000_000),
        (12, 36),
        ("lpr_spread", 0, 100),
        ("none",),
        300,
    ),
    "venture_loan": ProductTemplate(
        "投贷联动贷",
        "indirect",
        (1_000_000, 5_000_000),
        (20_000_000, 50_000_000),
        (12, 60),
        ("lpr_spread", 100, 300),
        ("none", "equity_pledge"),
        40,
    ),
    "secured_loan": ProductTemplate(
        "科技抵押贷",
        "indirect",
        (1_000_000,),
        (20_000_000, 100_000_000),
        (12, 60),
        ("lpr_spread", 30, 180),
        ("real_estate", "receivables", "equity_pledge"),
        150,
    ),
    "equity_investment": ProductTemplate(
        "科创股权投资",
        "direct",
        (5_000_000, 10_000_000),
        (50_000_000, 200_000_000),
        None,
        None,
        ("none",),
        8,
    ),
    "bond": ProductTemplate(
        "科创债券承销",
        "direct",
        (50_000_000,),
        (300_000_000, 1_000_000_000),
        (36, 84),
        ("fixed", 250, 450),
        ("none",),
        5,
    ),
    "guarantee": ProductTemplate(
        "科技融资担保",
        "indirect",
        (500_000, 1_000_000),
        (5_000_000, 20_000_000),
        (12, 36),
        ("fixed", 50, 200),
        ("none",),
        200,
    ),
    "tech_insurance": ProductTemplate(
        "科技保险",
        "indirect",
        (1_000_000,),
        (10_000_000, 50_000_000),
        (12, 12),
        ("fixed", 50, 300),
        ("none",),
        150,
    ),
    "leasing": ProductTemplate(
        "科技融资租赁",
        "indirect",
        (2_000_000, 5_000_000),
        (30_000_000, 100_000_000),
        (24, 60),
        ("fixed", 450, 800),
        ("none",),
        30,
    ),
}

#: Which product kinds each institution kind offers.
PRODUCT_KINDS_BY_INSTITUTION: dict[str, tuple[str, ...]] = {
    "bank": ("pure_credit_loan", "ip_pledge_loan", "points_loan", "venture_loan", "secured_loan"),
    "vc_pe": ("equity_investment",),
    "securities": ("bond", "equity_investment"),
    "guarantor": ("guarantee",),
    "insurer": ("tech_insurance",),
    "leasing": ("leasing",),
    "micro_credit": ("pure_credit_loan", "secured_loan"),
}

#: Shares of institution kinds among programme partners (banks lead, as in the programmes).
INSTITUTION_MIX: dict[str, float] = {
    "bank": 0.50,
    "vc_pe": 0.18,
    "guarantor": 0.09,
    "insurer": 0.07,
    "leasing": 0.06,
    "micro_credit": 0.05,
    "securities": 0.05,
}
