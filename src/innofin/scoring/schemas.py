"""API shapes of scoring: an enterprise's points and their explanation, key lists, rankings.

Points are plain numbers (they are not money); indicator values are the raw values of the
indicators (ratios, counts, yuan as numbers) and are shown only to callers who may see the
enterprise's indicator data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from innofin.kernel.jsontypes import Text40


class ScoreItemOut(BaseModel):
    indicator: str
    name_zh: str
    name_en: str
    group: str
    raw: float | None
    normalised: float
    weight: float
    points: float
    missing: bool
    peer_group: str
    #: "yuan" when the raw value is an amount of money
    unit: str | None = None


class ImprovementOut(BaseModel):
    indicator: str
    step: float
    label_zh: str
    label_en: str
    points: float


class ScoreOut(BaseModel):
    enterprise_id: int
    name: str
    year: int
    system: str
    run_id: int
    stage: str
    points: float
    change: float | None
    ranks: dict[str, int]
    percentile: float
    #: the rule set's verdict; None without the details (as for a system that has none)
    verdict: str | None = None
    #: points per group; empty without the details
    groups: dict[str, float] = Field(default_factory=dict)
    #: false for an institution without the enterprise's consent: points (and their change on
    #: last year), ranks and percentile only — no group points, verdict or breakdown
    details_visible: bool
    items: list[ScoreItemOut] = Field(default_factory=list)
    missing_cost: dict[str, float] = Field(default_factory=dict)
    improvements: list[ImprovementOut] = Field(default_factory=list)


class ScoreRunCreate(BaseModel):
    model_config = {"extra": "forbid"}
    year: int = Field(ge=1990, le=2100)
    system: Text40 = "default"


class ScoreRunOut(BaseModel):
    run_id: int
    system: str
    sha256: str
    year: int
    enterprises: int
    input_fingerprint: str
    result_fingerprint: str
    qualified: int | None


class KeyListEntryOut(BaseModel):
    enterprise_id: int
    name: str
    zone: str | None
    points: float
    reason: str
    change: str


class KeyListOut(BaseModel):
    name: str
    version: int
    year: int
    count: int
    run_id: int
    created_at: dt.datetime
    solver: dict[str, Any]
    members: list[KeyListEntryOut]
    near_misses: list[KeyListEntryOut]


class ZoneRankingOut(BaseModel):
    id: int
    year: int
    run_id: int | None
    top_n: int
    criteria: list[dict[str, Any]]
    result: dict[str, Any]
    created_at: dt.datetime
