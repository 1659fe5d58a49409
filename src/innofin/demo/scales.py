"""The demo's scales (how much to generate), apart from the generators so that the CLI can
offer them without importing NumPy or Polars."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from innofin.kernel.errors import InvalidInput


class ScaleName(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    NATIONAL = "national"


@dataclass(frozen=True)
class Scale:
    """How much to generate. All scales cover the same years of annual reports."""

    name: str
    zones: int
    enterprises: int
    institutions: int
    products: int
    years: tuple[int, ...] = (2022, 2023, 2024)
    #: share of enterprises that get an organisation (an account holder on the platform)
    enterprise_org_share: float = 0.01

    def __post_init__(self) -> None:
        if self.zones < 1 or self.enterprises < self.zones:
            raise InvalidInput("a scale needs at least one zone and one enterprise per zone")
        if self.institutions < 8:
            raise InvalidInput("a scale needs at least 8 institutions (one per kind, 2 banks)")
        if self.products < self.institutions:
            raise InvalidInput("a scale needs at least one product per institution")
        if len(self.years) < 2 or list(self.years) != list(
            range(self.years[0], self.years[-1] + 1)
        ):
            raise InvalidInput("years must be consecutive, at least two")

    @property
    def as_of(self) -> dt.date:
        """The reference date: the end of the last reported year."""
        return dt.date(self.years[-1], 12, 31)


SCALES: dict[str, Scale] = {
    ScaleName.SMALL: Scale("small", zones=30, enterprises=3_000, institutions=15, products=60),
    ScaleName.MEDIUM: Scale("medium", zones=170, enterprises=50_000, institutions=40, products=300),
    ScaleName.NATIONAL: Scale(
        "national", zones=170, enterprises=500_000, institutions=100, products=1_000
    ),
}


#: the key-enterprise list the demo publishes (its rules ship with scoring), which the demo's
#: first programme names as its candidate list
KEY_LIST = "key-enterprises"


def key_list_size(scale: Scale) -> int:
    """How many firms the demo's key list holds: a thirtieth of the enterprises, 10 to 1,000."""
    return min(1000, max(10, scale.enterprises // 30))


def get_scale(name: str | Scale) -> Scale:
    """The named scale (small, medium, national), or `name` itself when it is a `Scale`."""
    if isinstance(name, Scale):
        return name
    try:
        return SCALES[name]
    except KeyError:
        known = ", ".join(SCALES)
        raise InvalidInput(f"unknown scale {name!r}: use one of {known}", field="scale") from None
