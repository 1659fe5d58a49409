"""Checks of input against the registry's reference rows: an unknown code names its field."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innofin.kernel.errors import InvalidInput
from innofin.registry.models import (
    CertificationKindRef,
    GrowthStageRef,
    Institution,
    TechFieldRef,
    Zone,
)

_REFERENCES: dict[str, tuple[Any, str]] = {
    "tech_field": (TechFieldRef.code, "tech field"),
    "growth_stage": (GrowthStageRef.code, "growth stage"),
    "kind": (CertificationKindRef.code, "certification kind"),
    "zone_id": (Zone.id, "zone"),
    "parent_id": (Institution.id, "institution"),
    "institution_id": (Institution.id, "institution"),
}


def references(session: Session, values: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Every named field that is set must name an existing row (else InvalidInput → 400)."""
    for name in fields:
        value = values.get(name)
        if value is None:
            continue
        column, what = _REFERENCES[name]
        if session.scalar(select(column).where(column == value)) is None:
            raise InvalidInput(f"{name}: there is no {what} {value!r}", field=name)
