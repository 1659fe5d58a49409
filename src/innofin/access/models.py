"""Sign-in sessions, sign-in throttles, consents and referrals, and platform settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

import innofin.registry.models  # noqa: F401  (defines the tables this module's foreign keys name)
from innofin.audit.recorder import Audited
from innofin.db.base import Base, UtcDateTime


class ApiSession(Base):
    """A signed-in session: the token's `jti`. Logging out revokes it; it also expires."""

    __tablename__ = "api_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class LoginThrottle(Base):
    """Failed sign-ins counted for slowing guessers down (`innofin.access.throttle`): per user name
    and client address, per address over all names (``username = ''``) and per name over all
    addresses (``client = ''``). A row is one counter, changed under a lock, so concurrent tries
    cannot pass it unseen."""

    __tablename__ = "login_throttle"
    username: Mapped[str] = mapped_column(String(80), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: no try is checked before this moment
    blocked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Consent(Audited, Base):
    """An enterprise lets an institution (and its branches) see its indicator data (数据授权).

    Withdrawing sets `withdrawn_at`; a later grant is a new row, so the history stays.
    """

    __tablename__ = "consent"
    __table_args__ = (
        Index("ix_consent_institution", "institution_id", "enterprise_id"),
        CheckConstraint(
            "withdrawn_at IS NULL OR withdrawn_at >= granted_at", name="withdrawn_after_granted"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprise.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Referral(Audited, Base):
    """An enterprise recommended to an institution (推荐): by an officer now, by matching later.

    The institution then sees the enterprise's record and aggregates, not its indicator details
    (those need the enterprise's consent).
    """

    __tablename__ = "referral"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "institution_id"),
        Index("ix_referral_institution", "institution_id", "enterprise_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    referred_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(String(500))


class PlatformSetting(Base):
    """Settings the platform keeps for itself (the token-signing key when none is configured)."""

    __tablename__ = "platform_setting"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
