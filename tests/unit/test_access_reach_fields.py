"""The field-level write rule of the access policy: a field that decides who sees a row changes
only by a role above the reach it decides — the table of `policy.REACH_FIELDS`, caller by caller
(the API matrix checks the same through the routes that expose such fields)."""

from __future__ import annotations

import pytest

from innofin.access import policy
from innofin.kernel.codes import Role
from innofin.kernel.errors import Forbidden
from innofin.kernel.principal import Principal

CALLERS = {
    "admin": Principal(1, "admin", frozenset({Role.PLATFORM_ADMIN}), 1, "government"),
    "national": Principal(2, "national", frozenset({Role.PROGRAMME_OFFICER}), 2, "government"),
    "province": Principal(
        3, "province", frozenset({Role.PROGRAMME_OFFICER}), 3, "government", province="甲省"
    ),
    "zone": Principal(4, "zone", frozenset({Role.ZONE_OFFICER}), 4, "zone", zone_id=1),
    "bank": Principal(
        5,
        "bank",
        frozenset({Role.INSTITUTION_OFFICER}),
        5,
        "institution",
        institution_ids=frozenset({1, 2}),
    ),
    "firm": Principal(
        6, "firm", frozenset({Role.ENTERPRISE_USER}), 6, "enterprise", enterprise_id=1
    ),
}

#: (table, field) → the callers who may change it
EXPECTED = {
    ("zone", "province"): {"admin", "national"},
    ("zone", "city"): set(CALLERS),  # decides no one's reach
    ("enterprise", "zone_id"): {"admin", "national", "province"},
    ("enterprise", "name"): set(CALLERS),
    ("institution", "parent_id"): {"admin"},
    ("product", "institution_id"): {"admin"},
    ("credit_line", "institution_id"): set(),
    ("credit_line", "enterprise_id"): set(),
    ("loan", "institution_id"): set(),
    ("loan", "enterprise_id"): set(),
    ("indicator_definition", "owner_zone_id"): {"admin", "national"},
    ("programme", "zone_ids"): {"admin", "national"},
    ("programme", "institution_ids"): {"admin", "national"},
    ("agreement", "institution_id"): set(),
    ("agreement", "programme_id"): {"admin", "national"},
    ("agreement", "zone_id"): {"admin", "national"},
    ("agreement", "enterprise_id"): {"admin", "national"},
    ("risk_pool", "programme_id"): {"admin", "national"},
    ("financing_need", "enterprise_id"): set(),
    ("financing_need", "amount"): set(CALLERS),
    ("event", "zone_id"): {"admin", "national", "province"},
    ("event", "province"): {"admin", "national"},
    ("event", "venue"): set(CALLERS),
}


@pytest.mark.parametrize(("table", "field"), sorted(EXPECTED))
def test_who_may_change_each_field(table: str, field: str) -> None:
    allowed = {who for who, p in CALLERS.items() if policy.may_change(p, table, field)}
    assert allowed == EXPECTED[(table, field)]


def test_every_reach_field_has_a_case() -> None:
    listed = {(t, f) for t, fields in policy.REACH_FIELDS.items() for f in fields}
    assert listed <= set(EXPECTED)


def test_a_refusal_names_the_field() -> None:
    with pytest.raises(Forbidden) as refused:
        policy.check_reach_fields(CALLERS["zone"], "zone", ["city", "province"], "zone")
    assert (refused.value.field, refused.value.code) == ("province", "reach_field")
    assert "only the platform admin or the national programme office" in str(refused.value)
    policy.check_reach_fields(CALLERS["zone"], "zone", ["city", "name_zh"], "zone")
