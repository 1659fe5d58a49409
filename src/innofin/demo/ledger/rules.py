"""The demo's three risk pools under the ledger's own rule templates, read once into the plain
`PoolTerms` the engines compute with: the one place the demo asks the ledger's pool engine."""

from __future__ import annotations

from decimal import Decimal

from innofin.demo.engine import json_text
from innofin.demo.ledger.borrowers_engine import TAG_NAMES
from innofin.demo.ledger.claims_engine import PoolTerms, e4
from innofin.demo.ledger.params import ZONE_POOL_CAP
from innofin.kernel.money import fen_of
from innofin.ledger.pools import engine as pool_engine
from innofin.ledger.pools.engine import PoolRules

#: the assessment's fields that depend only on the rules and the tags, in its order
HEAD_FIELDS = ("eligible", "reasons", "nominal_rate", "bonuses", "coverage_rate")


def pool_rules() -> list[PoolRules]:
    return [
        pool_engine.province_direct_guaranteed_bonus_rules(
            contributors={"national": "0.5", "province": "0.5"}, leverage="15"
        ),
        pool_engine.early_province_county_rules(Decimal("0.40")),
        pool_engine.zone_pool_rules(cap_per_institution_year=ZONE_POOL_CAP),
    ]


def pool_terms() -> list[PoolTerms]:
    return [_terms(rule) for rule in pool_rules()]


def _terms(rule: PoolRules) -> PoolTerms:
    """The rule's numbers, and one assessment per tag set for its rate and bonuses."""
    nominal, heads = [], []
    for bits in range(2 ** len(TAG_NAMES)):
        names = frozenset(t for i, t in enumerate(TAG_NAMES) if bits >> i & 1)
        sample = pool_engine.assess_claim(
            rule,
            pool_engine.ClaimInput(
                principal_loss=Decimal("100.00"),
                tags=names,
                guaranteed="guaranteed" in names,
                in_candidate_pool=True,
            ),
        ).model_dump(mode="json")
        nominal.append(e4(Decimal(sample["nominal_rate"])))
        heads.append(json_text({k: sample[k] for k in HEAD_FIELDS})[:-1] + ",")
    return PoolTerms(
        contributors=dict(rule.contributors),
        leverage=None if rule.leverage is None else int(rule.leverage),
        max_coverage=e4(rule.max_coverage),
        cap_per_loan=-1 if rule.cap_per_loan is None else fen_of(rule.cap_per_loan),
        cap_per_institution_year=(
            -1 if rule.cap_per_institution_year is None else fen_of(rule.cap_per_institution_year)
        ),
        nominal=tuple(nominal),
        heads=tuple(heads),
        document=json_text(rule.model_dump(mode="json")),
    )
