"""Tables of scoring: systems used, reference values, runs and their results, key lists, rankings.

A run's per-indicator breakdown is stored per enterprise as one binary column (`detail`): the
float64 values, little-endian, of raw value, normalised value and chosen alternative for each
indicator in the system's order, then the points of each group. A national run has ~500,000
enterprises × 23 indicators; one row each keeps writing it within seconds, where a row per
indicator would be ten million rows. `innofin score export` writes the breakdown as a table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

import innofin.registry.models  # noqa: F401  (defines the tables this module's foreign keys name)
from innofin.db.base import Base, JsonDoc, UtcDateTime


class ScoreSystemRecord(Base):
    """An indicator system as it was used: its resolved document and content hash."""

    __tablename__ = "score_system"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ScoreReference(Base):
    """A yearly reference value (参照值) of one indicator for one reference group."""

    __tablename__ = "score_reference"
    __table_args__ = (
        UniqueConstraint("system_id", "year", "indicator", "alternative", "group_label"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("score_system.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    indicator: Mapped[str] = mapped_column(String(60))
    alternative: Mapped[int] = mapped_column(Integer, default=0)
    group_label: Mapped[str] = mapped_column(String(200))
    n: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Double)
    mean: Mapped[float | None] = mapped_column(Double)
    sd: Mapped[float | None] = mapped_column(Double)
    percentile: Mapped[float] = mapped_column(Double)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ScoreRun(Base):
    """One scoring run: what was scored with which system and inputs, and a hash of results."""

    __tablename__ = "score_run"
    __table_args__ = (Index("ix_score_run_system_year", "system_id", "year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("score_system.id"))
    year: Mapped[int] = mapped_column(Integer)
    reference_year: Mapped[int] = mapped_column(Integer)
    enterprises: Mapped[int] = mapped_column(Integer)
    input_fingerprint: Mapped[str] = mapped_column(String(64))
    result_fingerprint: Mapped[str] = mapped_column(String(64))
    previous_run_id: Mapped[int | None] = mapped_column(ForeignKey("score_run.id"))
    seconds: Mapped[float] = mapped_column(Double)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ScoreResult(Base):
    """An enterprise's points in a run, its ranks, and (in `detail`) the breakdown."""

    __tablename__ = "score_result"
    __table_args__ = (
        Index("ix_score_result_run_rank", "run_id", "rank_national"),
        Index("ix_score_result_enterprise", "enterprise_id", "run_id"),
    )
    run_id: Mapped[int] = mapped_column(
        ForeignKey("score_run.id", ondelete="CASCADE"), primary_key=True
    )
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(20))
    points: Mapped[float] = mapped_column(Double)
    previous_points: Mapped[float | None] = mapped_column(Double)
    rank_national: Mapped[int] = mapped_column(Integer)
    rank_zone: Mapped[int] = mapped_column(Integer)
    rank_field: Mapped[int] = mapped_column(Integer)
    rank_stage: Mapped[int] = mapped_column(Integer)
    percentile: Mapped[float] = mapped_column(Double)
    qualified: Mapped[bool | None] = mapped_column(Boolean)
    verdict: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[bytes] = mapped_column(LargeBinary)


class KeyList(Base):
    """A version of a named list of key enterprises (重点企业名单), with how it was solved."""

    __tablename__ = "key_list"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_run.id"))
    count: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    rules_sha256: Mapped[str] = mapped_column(String(64))
    #: solver name and version, time limit, gap, status, objective, bound, seconds
    solver: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class KeyListEntry(Base):
    """A member of a key list, or a near miss (`member` false) with why it was left out."""

    __tablename__ = "key_list_entry"
    __table_args__ = (CheckConstraint("change IN ('entered', 'stayed', 'none')", name="change"),)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("key_list.id", ondelete="CASCADE"), primary_key=True
    )
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), primary_key=True)
    member: Mapped[bool] = mapped_column(Boolean)
    position: Mapped[int] = mapped_column(Integer)
    points: Mapped[float] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(String(300))
    #: for members: new in this version, or also in the previous one
    change: Mapped[str] = mapped_column(String(8), default="none")


class KeyListExit(Base):
    """An enterprise in the previous version of a list but not in this one."""

    __tablename__ = "key_list_exit"
    list_id: Mapped[int] = mapped_column(
        ForeignKey("key_list.id", ondelete="CASCADE"), primary_key=True
    )
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(300))


class ZoneRanking(Base):
    """A pilot-zone ranking (TOPSIS) with its criteria, weights and sensitivity report."""

    __tablename__ = "zone_ranking"
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("score_run.id"))
    top_n: Mapped[int] = mapped_column(Integer)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    result: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
