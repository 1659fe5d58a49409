"""Pydantic shapes of the registry: structured product eligibility and input records."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from innofin.kernel.codes import TechField


class Eligibility(BaseModel):
    """Who a product is for. Every condition is optional; an empty one admits everyone.

    Stored as JSON on the product; matching reads it later.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_points: Decimal | None = Field(None, ge=0, description="minimum innovation points")
    fields: list[TechField] = Field(default_factory=list, description="key high-tech fields")
    stages: list[str] = Field(default_factory=list, description="growth stage codes")
    zones: list[str] = Field(default_factory=list, description="zone codes")
    required_certifications: list[str] = Field(
        default_factory=list, description="certification kind codes, all required"
    )
    revenue_min: Decimal | None = Field(None, ge=0, description="yuan")
    revenue_max: Decimal | None = Field(None, ge=0, description="yuan")

    @model_validator(mode="after")
    def _revenue_band_ordered(self) -> Eligibility:
        if (
            self.revenue_min is not None
            and self.revenue_max is not None
            and self.revenue_min > self.revenue_max
        ):
            raise ValueError("revenue_min is larger than revenue_max")
        return self

    def to_json(self) -> dict[str, object]:
        """JSON for the database: Decimals as strings, empty conditions left out."""
        return self.model_dump(mode="json", exclude_defaults=True)
