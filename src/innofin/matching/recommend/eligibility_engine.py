"""Hard eligibility of financing needs for products, vectorised over needs × products.

Pure: NumPy arrays in, NumPy arrays out; no database. Each rule is a broadcast comparison of a
needs column against a products column (or a gather from a small table indexed by a need's
code), so a block of needs × every product is checked without a Python loop per pair. Amounts
are converted to float64 yuan for the comparison (analytics precision: the database keeps the
exact Decimals); a band's bounds are inclusive.

The rules, in the order they are reported (`RULES`): innovation points, field, growth stage,
zone, certifications, amount band, term band, collateral, revenue band, firm age, equity,
financing mode by growth stage, rate, and the product's active period. A condition a product
does not set admits everyone; a condition a product sets fails a firm whose value is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from innofin.kernel.codes import DEFAULT_CERTIFICATION_KINDS, TECH_FIELD_NAMES, TechField

Array = np.ndarray

#: order of the codes the engine uses as bit positions / indices
FIELDS: tuple[str, ...] = tuple(f.value for f in TechField)
STAGES: tuple[str, ...] = ("startup", "growth", "stable")
COLLATERALS: tuple[str, ...] = (
    "none",
    "ip_pledge",
    "receivables",
    "real_estate",
    "guarantee",
    "equity_pledge",
)
MODES: tuple[str, ...] = ("indirect", "direct")


@dataclass(frozen=True)
class Rule:
    code: str
    zh: str
    en: str


RULES: tuple[Rule, ...] = (
    Rule("points", "创新积分", "innovation points"),
    Rule("field", "技术领域", "technology field"),
    Rule("stage", "成长阶段", "growth stage"),
    Rule("zone", "所在园区", "zone"),
    Rule("certifications", "资质认定", "certifications"),
    Rule("amount", "融资金额", "amount"),
    Rule("term", "期限", "term"),
    Rule("collateral", "担保方式", "collateral"),
    Rule("revenue", "营业收入", "revenue"),
    Rule("age", "成立年限", "firm age"),
    Rule("equity", "股权融资意愿", "equity acceptable"),
    Rule("mode", "融资方式与成长阶段", "financing mode for the growth stage"),
    Rule("rate", "利率上限", "maximum rate"),
    Rule("active", "产品有效期", "product period"),
)
RULE_INDEX = {r.code: i for i, r in enumerate(RULES)}

#: which financing modes each growth stage may use (a programme setting; default: both for all)
DEFAULT_STAGE_MODES: Mapping[str, tuple[str, ...]] = {
    "startup": ("indirect", "direct"),
    "growth": ("indirect", "direct"),
    "stable": ("indirect", "direct"),
}


def _f(values: object) -> Array:
    return np.asarray(values, dtype=np.float64)


def _i(values: object) -> Array:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class Needs:
    """Needs with their firms' facts, one entry per need. Unknown numbers are NaN, unknown
    codes -1. `certs` and `collateral` are bit masks (bit i: `certifications[i]`,
    `COLLATERALS[i]`)."""

    amount: Array  # yuan
    term: Array  # months
    max_rate: Array  # percent a year, NaN: no limit
    collateral: Array  # bit mask of COLLATERALS offered
    equity: Array  # bool
    day: Array  # int day number of `needed_by`
    points: Array
    field: Array  # index into FIELDS
    stage: Array  # index into STAGES
    zone: Array  # zone index (0..zones-1)
    certs: Array  # bit mask of certification kinds held
    revenue: Array  # yuan
    age: Array  # years since founding

    def __len__(self) -> int:
        return int(self.amount.shape[0])

    @classmethod
    def of(cls, **columns: object) -> Needs:
        floats = {"amount", "max_rate", "points", "revenue", "age"}
        values = {k: _f(v) if k in floats else np.asarray(v) for k, v in columns.items()}
        values["equity"] = np.asarray(values["equity"], dtype=bool)
        for name in ("term", "collateral", "day", "field", "stage", "zone", "certs"):
            values[name] = _i(values[name])
        return cls(**values)

    def take(self, rows: Array) -> Needs:
        return Needs(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class Products:
    """Products' conditions, one entry per product. NaN / -1 / 0 masks mean "no condition".

    `zones` is a (zones + 1) × products boolean table: row z tells which products admit a firm
    of zone z; the last row is for a firm whose zone is unknown (only products without a zone
    rule)."""

    institution: Array  # institution index
    direct: Array  # bool: direct financing (equity, bonds)
    equity: Array  # bool: an equity investment (needs the firm to accept equity)
    min_points: Array
    field_mask: Array  # bits of FIELDS, 0: any
    stage_mask: Array  # bits of STAGES, 0: any
    zones: Array  # bool (zones + 1, products)
    cert_mask: Array  # bits of certification kinds, all required
    amount_min: Array
    amount_max: Array
    term_min: Array  # -1: none
    term_max: Array
    collateral: Array  # index into COLLATERALS; 0 ("none"): nothing required
    revenue_min: Array
    revenue_max: Array
    age_min: Array
    age_max: Array
    rate_min: Array  # the lowest annual rate in percent, NaN: not a priced loan
    active_from: Array  # day number, very small: none
    active_until: Array  # day number, very large: none
    stage_modes: Array = field(
        default_factory=lambda: np.ones((len(STAGES) + 1, len(MODES)), dtype=bool)
    )  # (stages + 1) × modes: which modes each stage may use (last row: stage unknown)

    def __len__(self) -> int:
        return int(self.institution.shape[0])


def stage_modes_table(rules: Mapping[str, tuple[str, ...]] = DEFAULT_STAGE_MODES) -> Array:
    """The stage × mode table of a programme's rule (a stage not named may use every mode)."""
    table = np.ones((len(STAGES) + 1, len(MODES)), dtype=bool)
    for stage, modes in rules.items():
        if stage in STAGES:
            row = STAGES.index(stage)
            table[row] = [m in modes for m in MODES]
    return table


@dataclass(frozen=True)
class Check:
    """The result of checking a block of needs against every product."""

    eligible: Array  # bool (needs, products)
    failures: Array  # uint8: how many rules failed
    failed_rule: Array  # uint8: the failed rule's index where exactly one failed


def _band(value: Array, low: Array, high: Array) -> Array:
    """value within [low, high] where the bounds are set (NaN bounds are no condition)."""
    v = value[:, None]
    ok_low = np.isnan(low)[None, :] | (v >= low[None, :])
    ok_high = np.isnan(high)[None, :] | (v <= high[None, :])
    result: Array = ok_low & ok_high
    return result


def _bit(mask: Array, index: Array) -> Array:
    """Whether bit `index` (per need) is set in `mask` (per product); an empty mask admits all
    and a negative index (unknown) passes only an empty mask."""
    known = index >= 0
    bits = np.where(known, np.left_shift(1, np.maximum(index, 0)), 0)
    hit = (mask[None, :] & bits[:, None]) != 0
    result: Array = (mask == 0)[None, :] | (hit & known[:, None])
    return result


def rule_matrices(needs: Needs, products: Products) -> list[Array]:
    """One boolean (needs, products) matrix per rule of `RULES`, in order."""
    n = needs
    p = products
    zone_row = np.where(n.zone >= 0, n.zone, p.zones.shape[0] - 1)
    stage_row = np.where(n.stage >= 0, n.stage, len(STAGES))
    mode = p.direct.astype(np.int64)
    points = n.points[:, None]
    rate = n.max_rate[:, None]
    return [
        np.isnan(p.min_points)[None, :] | (points >= p.min_points[None, :]),
        _bit(p.field_mask, n.field),
        _bit(p.stage_mask, n.stage),
        p.zones[zone_row],
        (n.certs[:, None] & p.cert_mask[None, :]) == p.cert_mask[None, :],
        _band(n.amount, p.amount_min, p.amount_max),
        (
            ((p.term_min < 0)[None, :] | (n.term[:, None] >= p.term_min[None, :]))
            & ((p.term_max < 0)[None, :] | (n.term[:, None] <= p.term_max[None, :]))
        ),
        (p.collateral == 0)[None, :] | ((n.collateral[:, None] >> p.collateral[None, :]) & 1 == 1),
        _band(n.revenue, p.revenue_min, p.revenue_max),
        _band(n.age, p.age_min, p.age_max),
        ~p.equity[None, :] | n.equity[:, None],
        p.stage_modes[stage_row][:, mode],
        np.isnan(p.rate_min)[None, :] | np.isnan(rate) | (p.rate_min[None, :] <= rate),
        (p.active_from[None, :] <= n.day[:, None]) & (n.day[:, None] <= p.active_until[None, :]),
    ]


def check(needs: Needs, products: Products) -> Check:
    """Which products each need is eligible for, and for the others how many rules failed
    (and which one, where exactly one did: the near misses)."""
    shape = (len(needs), len(products))
    failures = np.zeros(shape, dtype=np.uint8)
    which = np.zeros(shape, dtype=np.uint8)
    for index, ok in enumerate(rule_matrices(needs, products)):
        failed = ~ok
        failures += failed
        # only read where exactly one rule failed, so wrapping sums elsewhere do no harm
        which += failed * np.uint8(index)
    return Check(eligible=failures == 0, failures=failures, failed_rule=which)


# --------------------------------------------------------------------------- plain words


@dataclass(frozen=True)
class RuleOutcome:
    code: str
    passed: bool
    zh: str
    en: str


def _mask_names(mask: int, names: tuple[str, ...]) -> list[str]:
    return [name for i, name in enumerate(names) if mask >> i & 1]


def _num(value: float, places: int = 2) -> str:
    return f"{value:,.{places}f}".rstrip("0").rstrip(".") if places else f"{value:,.0f}"


def _wan(yuan: float) -> str:
    return f"{_num(yuan / 10_000)} 万元"


def _field_words(code: str) -> tuple[str, str]:
    try:
        return TECH_FIELD_NAMES[TechField(code)]
    except ValueError:
        return code, code


def explain(
    needs: Needs,
    products: Products,
    need: int,
    product: int,
    certifications: tuple[str, ...],
    zone_codes: tuple[str, ...],
) -> list[RuleOutcome]:
    """Each rule for one need and one product, passed or failed, in plain Chinese and English
    (what the firm has against what the product asks)."""
    one_n, one_p = needs.take(np.array([need])), _take_products(products, product)
    results = [bool(m[0, 0]) for m in rule_matrices(one_n, one_p)]
    n, p = one_n, one_p
    out: list[RuleOutcome] = []

    def add(code: str, zh: str, en: str) -> None:
        out.append(RuleOutcome(code, results[RULE_INDEX[code]], zh, en))

    def unknown(value: float) -> bool:
        return bool(np.isnan(value))

    mp = float(p.min_points[0])
    pts = float(n.points[0])
    if np.isnan(mp):
        add("points", "产品不设创新积分要求", "no minimum innovation points")
    else:
        has = "未评分" if unknown(pts) else _num(pts, 1)
        has_en = "not scored" if unknown(pts) else _num(pts, 1)
        add(
            "points",
            f"创新积分 {has}，产品要求不低于 {_num(mp, 1)}",
            f"innovation points {has_en}; the product asks at least {_num(mp, 1)}",
        )
    fmask, fidx = int(p.field_mask[0]), int(n.field[0])
    firm_field = _field_words(FIELDS[fidx]) if fidx >= 0 else ("未知", "unknown")
    if fmask == 0:
        add("field", "产品不限技术领域", "any technology field")
    else:
        wanted = [_field_words(c) for c in _mask_names(fmask, FIELDS)]
        add(
            "field",
            f"技术领域“{firm_field[0]}”，产品面向：{'、'.join(w[0] for w in wanted)}",
            f"field '{firm_field[1]}'; the product is for: {', '.join(w[1] for w in wanted)}",
        )
    smask, sidx = int(p.stage_mask[0]), int(n.stage[0])
    stage_name = STAGES[sidx] if sidx >= 0 else "unknown"
    stage_zh = {"startup": "初创期", "growth": "成长期", "stable": "稳定期"}
    if smask == 0:
        add("stage", "产品不限成长阶段", "any growth stage")
    else:
        wanted_s = _mask_names(smask, STAGES)
        add(
            "stage",
            f"成长阶段“{stage_zh.get(stage_name, '未知')}”，产品面向："
            + "、".join(stage_zh[s] for s in wanted_s),
            f"growth stage '{stage_name}'; the product is for: {', '.join(wanted_s)}",
        )
    zone_ok = p.zones[:-1, 0]
    zidx = int(n.zone[0])
    firm_zone = zone_codes[zidx] if 0 <= zidx < len(zone_codes) else "unknown"
    if bool(zone_ok.all()):
        add("zone", "产品不限园区", "any zone")
    else:
        listed = [zone_codes[i] for i in np.flatnonzero(zone_ok) if i < len(zone_codes)]
        add(
            "zone",
            f"所在园区 {firm_zone}，产品限于：{'、'.join(listed) or '无'}",
            f"zone {firm_zone}; the product is limited to: {', '.join(listed) or 'none'}",
        )
    cmask, held = int(p.cert_mask[0]), int(n.certs[0])
    if cmask == 0:
        add("certifications", "产品不要求资质认定", "no certification required")
    else:
        need_c = [_cert_words(c) for c in _mask_names(cmask, certifications)]
        have_c = [_cert_words(c) for c in _mask_names(held, certifications)]
        if cmask >> len(certifications):
            need_c.append(("未登记的资质", "a certification the registry does not know"))
        add(
            "certifications",
            f"产品要求：{'、'.join(c[0] for c in need_c)}；"
            f"企业持有：{'、'.join(c[0] for c in have_c) or '无'}",
            f"the product requires: {', '.join(c[1] for c in need_c)}; the firm holds: "
            f"{', '.join(c[1] for c in have_c) or 'none'}",
        )
    amin, amax, amt = float(p.amount_min[0]), float(p.amount_max[0]), float(n.amount[0])
    add(
        "amount",
        f"申请金额 {_wan(amt)}，产品额度 {_range_zh(amin, amax, _wan)}",
        f"amount asked {_wan(amt)}; the product lends {_range_en(amin, amax, _wan)}",
    )
    tmin, tmax, term = int(p.term_min[0]), int(p.term_max[0]), int(n.term[0])
    add(
        "term",
        f"期限 {term} 个月，产品期限 {_range_zh(_opt(tmin), _opt(tmax), _months_zh)}",
        f"term {term} months; the product runs {_range_en(_opt(tmin), _opt(tmax), _months_en)}",
    )
    coll = COLLATERALS[int(p.collateral[0])]
    offered = _mask_names(int(n.collateral[0]), COLLATERALS)
    if coll == "none":
        add("collateral", "产品无需抵质押或担保（信用）", "no collateral required (pure credit)")
    else:
        add(
            "collateral",
            f"产品要求 {coll}；企业可提供：{'、'.join(offered) or '无'}",
            f"the product requires {coll}; the firm offers: {', '.join(offered) or 'none'}",
        )
    rmin, rmax, rev = float(p.revenue_min[0]), float(p.revenue_max[0]), float(n.revenue[0])
    rev_zh = "未知" if unknown(rev) else _wan(rev)
    rev_en = "unknown" if unknown(rev) else _wan(rev)
    add(
        "revenue",
        f"营业收入 {rev_zh}，产品要求 {_range_zh(rmin, rmax, _wan)}",
        f"revenue {rev_en}; the product asks {_range_en(rmin, rmax, _wan)}",
    )
    gmin, gmax, age = float(p.age_min[0]), float(p.age_max[0]), float(n.age[0])
    age_zh = "未知" if unknown(age) else f"{_num(age, 1)} 年"
    age_en = "unknown" if unknown(age) else f"{_num(age, 1)} years"
    add(
        "age",
        f"成立 {age_zh}，产品要求 {_range_zh(gmin, gmax, _years_zh)}",
        f"founded {age_en} ago; the product asks {_range_en(gmin, gmax, _years_en)}",
    )
    if bool(p.equity[0]):
        accepts = bool(n.equity[0])
        add(
            "equity",
            f"股权投资产品；企业{'接受' if accepts else '不接受'}股权融资",
            f"an equity investment; the firm {'accepts' if accepts else 'does not accept'} equity",
        )
    else:
        add("equity", "非股权产品", "not an equity product")
    mode = MODES[int(p.direct[0])]
    mode_zh = {"direct": "直接融资", "indirect": "间接融资"}[mode]
    add(
        "mode",
        f"{mode_zh}，{stage_zh.get(stage_name, '阶段未知')}企业"
        + ("可用" if results[RULE_INDEX["mode"]] else "不可用"),
        f"{mode} financing is {'open' if results[RULE_INDEX['mode']] else 'closed'} to "
        f"{stage_name} firms",
    )
    prate, mrate = float(p.rate_min[0]), float(n.max_rate[0])
    if unknown(prate) or unknown(mrate):
        add("rate", "不比较利率（产品无利率或企业未设上限）", "no rate compared")
    else:
        add(
            "rate",
            f"产品最低年利率 {_num(prate)}%，企业可承受不高于 {_num(mrate)}%",
            f"the product's lowest rate {_num(prate)} %; the firm pays at most {_num(mrate)} %",
        )
    add(
        "active",
        "用款日期在产品有效期内" if results[RULE_INDEX["active"]] else "用款日期不在产品有效期内",
        "the product is offered on the date the money is needed"
        if results[RULE_INDEX["active"]]
        else "the product is not offered on the date the money is needed",
    )
    return out


def _cert_words(code: str) -> tuple[str, str]:
    known = DEFAULT_CERTIFICATION_KINDS.get(code)
    return (known[0], known[1]) if known else (code, code)


def _opt(value: int) -> float:
    return float("nan") if value < 0 else float(value)


def _months_zh(v: float) -> str:
    return f"{v:.0f} 个月"


def _months_en(v: float) -> str:
    return f"{v:.0f} months"


def _years_zh(v: float) -> str:
    return f"{_num(v, 1)} 年"


def _years_en(v: float) -> str:
    return f"{_num(v, 1)} years"


def _range_zh(low: float, high: float, fmt: object) -> str:
    f = fmt if callable(fmt) else str
    if np.isnan(low) and np.isnan(high):
        return "不限"
    if np.isnan(high):
        return f"不低于 {f(low)}"
    if np.isnan(low):
        return f"不高于 {f(high)}"
    return f"{f(low)} 至 {f(high)}"


def _range_en(low: float, high: float, fmt: object) -> str:
    f = fmt if callable(fmt) else str
    if np.isnan(low) and np.isnan(high):
        return "any"
    if np.isnan(high):
        return f"at least {f(low)}"
    if np.isnan(low):
        return f"at most {f(high)}"
    return f"{f(low)} to {f(high)}"


def _take_products(p: Products, index: int) -> Products:
    rows = np.array([index])
    values = {
        k: getattr(p, k)[rows] for k in p.__dataclass_fields__ if k not in ("zones", "stage_modes")
    }
    return Products(**values, zones=p.zones[:, rows], stage_modes=p.stage_modes)


# --------------------------------------------------------------------------- the fast path
# The same rules on bit sets: each rule's passing products for a need are gathered from a small
# table built once per product catalogue — a row per category value for codes, a row per prefix
# of the products sorted by a bound for numbers (the products whose lower bound is at most the
# need's value are a prefix of the products sorted by that bound). A need then costs one gather
# of ⌈products / 64⌉ words per rule, whatever the number of products; `rule_matrices` is the
# plain definition the tests hold this path to.


def _pack(matrix: Array) -> Array:
    """Rows of booleans as rows of uint64 words (bit j of the row: byte j // 8, big-endian)."""
    m = np.asarray(matrix, dtype=bool)
    width = -(-m.shape[1] // 64) * 8 if m.shape[1] else 8
    packed = np.zeros((m.shape[0], width), dtype=np.uint8)
    if m.shape[1]:
        bits = np.packbits(m, axis=1)
        packed[:, : bits.shape[1]] = bits
    result: Array = packed.view(np.uint64)
    return result


def unpack(words: Array, count: int) -> Array:
    """The inverse of `_pack`: rows of `count` booleans."""
    result: Array = np.unpackbits(words.view(np.uint8), axis=1, count=count).astype(bool)
    return result


@dataclass(frozen=True)
class _Bound:
    """Products sorted by one bound, and the packed prefixes of that order."""

    keys: Array  # the bound, sorted (lower bounds ascending; upper bounds negated, ascending)
    unset: int  # products without this bound (they come first and always pass)
    prefixes: Array  # (products + 1, words)


def _bound(values: Array, lower: bool) -> _Bound:
    v = np.asarray(values, dtype=np.float64)
    key = np.where(np.isnan(v), -np.inf, v if lower else -v)
    order = np.argsort(key, kind="stable")
    n = v.size
    tri = np.zeros((n + 1, n), dtype=bool)
    tri[np.tril_indices(n + 1, -1, n)] = True  # row j: the first j products of the order
    prefix = np.zeros((n + 1, n), dtype=bool)
    prefix[:, order] = tri
    return _Bound(key[order], int(np.isnan(v).sum()), _pack(prefix))


def _through(bound: _Bound, value: Array, lower: bool, unknown_passes: bool) -> Array:
    """Packed products whose bound admits each value (an unknown value passes only products
    without the bound, or all of them when `unknown_passes`)."""
    v = np.asarray(value, dtype=np.float64)
    key = v if lower else -v
    j = np.searchsorted(bound.keys, np.where(np.isnan(v), 0.0, key), side="right")
    missing = bound.keys.size if unknown_passes else bound.unset
    j = np.where(np.isnan(v), missing, j)
    result: Array = bound.prefixes[j]
    return result


@dataclass(frozen=True)
class Catalogue:
    """A product catalogue compiled for the fast path (see `compile_products`)."""

    products: Products
    bounds: dict[str, _Bound]
    field: Array  # (fields + 1, words): last row unknown
    stage: Array
    zone: Array
    equity: Array  # (2, words)
    mode: Array  # (stages + 1, words)


def compile_products(products: Products) -> Catalogue:
    p = products
    n_fields, n_stages = len(FIELDS), len(STAGES)
    codes = np.arange(-1, n_fields)
    field_ok = _bit(p.field_mask, codes)  # row 0: unknown
    stage_ok = _bit(p.stage_mask, np.arange(-1, n_stages))
    term_min = np.where(p.term_min < 0, np.nan, p.term_min).astype(np.float64)
    term_max = np.where(p.term_max < 0, np.nan, p.term_max).astype(np.float64)
    day_from = np.asarray(p.active_from, dtype=np.float64)
    day_until = np.asarray(p.active_until, dtype=np.float64)
    mode = p.direct.astype(np.int64)
    return Catalogue(
        products=p,
        bounds={
            "points": _bound(p.min_points, True),
            "amount_min": _bound(p.amount_min, True),
            "amount_max": _bound(p.amount_max, False),
            "term_min": _bound(term_min, True),
            "term_max": _bound(term_max, False),
            "revenue_min": _bound(p.revenue_min, True),
            "revenue_max": _bound(p.revenue_max, False),
            "age_min": _bound(p.age_min, True),
            "age_max": _bound(p.age_max, False),
            "rate": _bound(p.rate_min, True),
            "from": _bound(day_from, True),
            "until": _bound(day_until, False),
        },
        field=_pack(np.vstack([field_ok[1:], field_ok[:1]])),
        stage=_pack(np.vstack([stage_ok[1:], stage_ok[:1]])),
        zone=_pack(p.zones),
        equity=_pack(np.vstack([~p.equity, np.ones_like(p.equity)])),
        mode=_pack(p.stage_modes[:, mode]),
    )


def _by_value(codes: Array, build: object) -> Array:
    """Packed rows for each need's code, built once per distinct code."""
    values, inverse = np.unique(np.asarray(codes), return_inverse=True)
    table = build(values)  # type: ignore[operator]
    result: Array = table[inverse.ravel()]
    return result


def packed_rules(cat: Catalogue, needs: Needs) -> list[Array]:
    """The rules of `RULES` as packed (needs, words) bit sets of passing products."""
    p, n, b = cat.products, needs, cat.bounds
    n_f, n_s = len(FIELDS), len(STAGES)
    field_row = np.where((n.field >= 0) & (n.field < n_f), n.field, n_f)
    stage_row = np.where((n.stage >= 0) & (n.stage < n_s), n.stage, n_s)
    zone_row = np.where((n.zone >= 0) & (n.zone < p.zones.shape[0] - 1), n.zone, -1)
    term = n.term.astype(np.float64)
    day = n.day.astype(np.float64)

    def certs(values: Array) -> Array:
        return _pack((values[:, None] & p.cert_mask[None, :]) == p.cert_mask[None, :])

    def collateral(values: Array) -> Array:
        held = (values[:, None] >> p.collateral[None, :]) & 1 == 1
        return _pack((p.collateral == 0)[None, :] | held)

    return [
        _through(b["points"], n.points, True, False),
        cat.field[field_row],
        cat.stage[stage_row],
        cat.zone[zone_row],
        _by_value(n.certs, certs),
        _through(b["amount_min"], n.amount, True, False)
        & _through(b["amount_max"], n.amount, False, False),
        _through(b["term_min"], term, True, False) & _through(b["term_max"], term, False, False),
        _by_value(n.collateral, collateral),
        _through(b["revenue_min"], n.revenue, True, False)
        & _through(b["revenue_max"], n.revenue, False, False),
        _through(b["age_min"], n.age, True, False) & _through(b["age_max"], n.age, False, False),
        cat.equity[n.equity.astype(np.int64)],
        cat.mode[stage_row],
        _through(b["rate"], n.max_rate, True, True),
        _through(b["from"], day, True, False) & _through(b["until"], day, False, False),
    ]


@dataclass(frozen=True)
class PackedCheck:
    eligible: Array  # packed (needs, words)
    near: Array  # packed: exactly one rule failed
    rules: list[Array]  # packed pass sets per rule


def packed_check(cat: Catalogue, needs: Needs) -> PackedCheck:
    rules = packed_rules(cat, needs)
    ones = np.zeros_like(rules[0])
    twos = np.zeros_like(rules[0])
    for passed in rules:
        failed = ~passed
        twos |= ones & failed
        ones |= failed
    return PackedCheck(eligible=~ones, near=ones & ~twos, rules=rules)


def failed_rule(check: PackedCheck, rows: Array, products: Array) -> Array:
    """For (row, product) pairs that are near misses, the index of the one rule that failed."""
    byte = products >> 3
    shift = 7 - (products & 7)
    out = np.full(rows.shape, -1, dtype=np.int64)
    for index, passed in enumerate(check.rules):
        bit = (passed.view(np.uint8)[rows, byte] >> shift) & 1
        out = np.where((bit == 0) & (out < 0), index, out)
    return out
