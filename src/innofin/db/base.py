"""Declarative base and the exact decimal column types.

PostgreSQL stores money as NUMERIC(20,2). SQLite has no exact decimal type (its NUMERIC affinity
turns 0.1 into a binary float), so there money is stored as an INTEGER count of fen; values read
back are exact `Decimal` either way, and SQL sums stay exact on both. (On SQLite that caps money at
about 9.2 × 10^16 yuan — far beyond any programme — and a larger value is refused, not rounded.)
`Quantity` does the same for non-money indicator values with four decimal places.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, MetaData, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

from innofin.kernel.money import to_money

SQLITE_INT_MAX = 2**63 - 1

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: JSON documents: JSONB on PostgreSQL (indexable, mergeable with ||), JSON text on SQLite.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _ScaledDecimal(TypeDecorator[Decimal]):
    """Exact decimal: NUMERIC(p, s) where supported, a scaled INTEGER on SQLite."""

    impl = Numeric
    cache_ok = True
    precision = 20
    scale = 2

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def _coerce(self, value: Any) -> Decimal:
        if isinstance(value, float):
            raise TypeError(f"{type(self).__name__} columns take Decimal, not float: {value!r}")
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = self._coerce(value)
        if dialect.name == "sqlite":
            scaled = int(exact.scaleb(self.scale))
            if not -SQLITE_INT_MAX <= scaled <= SQLITE_INT_MAX:
                raise ValueError(
                    f"{exact} is beyond what SQLite stores exactly ({self.sqlite_max})"
                )
            return scaled
        return exact

    @property
    def sqlite_max(self) -> Decimal:
        """The largest value this column holds on SQLite (a 64-bit integer of scaled units)."""
        return Decimal(SQLITE_INT_MAX).scaleb(-self.scale)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale))


class Money(_ScaledDecimal):
    """Yuan with fen precision: NUMERIC(20,2); INTEGER fen on SQLite."""

    cache_ok = True
    precision = 20
    scale = 2

    def _coerce(self, value: Any) -> Decimal:
        if isinstance(value, float):
            raise TypeError(f"Money columns take Decimal, not float: {value!r}")
        return to_money(value)


class Quantity(_ScaledDecimal):
    """A non-money indicator value: NUMERIC(24,4); INTEGER ten-thousandths on SQLite."""

    cache_ok = True
    precision = 24
    scale = 4


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A moment in time: TIMESTAMPTZ on PostgreSQL; on SQLite (which keeps no zone) stored as UTC
    and read back as an aware UTC datetime, so both databases hand back the same value."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise TypeError(f"UtcDateTime columns take aware datetimes, not {value!r}")
        return value.astimezone(dt.UTC) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        moment: dt.datetime = value
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
