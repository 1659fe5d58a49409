"""The stored scenario runs (情景分析): each run with everything that made it — the levers, the
assumptions, the rates estimated from the ledger by segment, the book's cells and their
fingerprint, the seed and the engine's version — beside its result, so a run can be shown,
explained and recomputed from its seed to the same figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

import innofin.ledger.models  # noqa: F401  (defines the programme table the run names)
from innofin.db.base import Base, JsonDoc, UtcDateTime


class ScenarioRun(Base):
    """One Monte Carlo run of a programme's levers. Written once, never changed (the inputs are
    stored, not referenced: the ledger moves on, the run stays reproducible)."""

    __tablename__ = "scenario_run"
    __table_args__ = (
        CheckConstraint("months BETWEEN 1 AND 120", name="months_plausible"),
        CheckConstraint("paths BETWEEN 1 AND 100000", name="paths_plausible"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programme.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    as_of: Mapped[dt.date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    paths: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    engine_version: Mapped[str] = mapped_column(String(20))
    #: `scenarios.engine.Levers` and `Assumptions` as JSON, and the baseline's levers
    levers: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    assumptions: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    baseline: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    #: per segment (field × size band): exposure, events, shrunk monthly probabilities; the
    #: recent mix and pace of new lending
    rates: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    #: the loans outstanding as cells, and the SHA-256 of those cells
    book: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    book_fingerprint: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
