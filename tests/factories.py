"""Registry rows for tests: valid by default, any field overridable."""

from __future__ import annotations

from typing import Any

from innofin.kernel.ids import make_uscc
from innofin.registry.models import Enterprise, Zone


def zone(code: str = "Z001", **over: Any) -> Zone:
    values: dict[str, Any] = {
        "code": code,
        "name_zh": "示例高新区",
        "name_en": "Demo zone",
        "province": "江苏",
        "city": "苏州",
        "level": "national",
        "year_approved": 1992,
    }
    values.update(over)
    return Zone(**values)


def uscc(n: int) -> str:
    """The n-th valid test USCC (Suzhou region code, correct check character)."""
    return make_uscc(f"91320500MA{n:07d}")


def enterprise(n: int = 0, **over: Any) -> Enterprise:
    values: dict[str, Any] = {"id_scheme": "uscc", "identifier": uscc(n), "name": f"示例企业{n}"}
    values.update(over)
    return Enterprise(**values)
