"""Alembic environment: the engine comes from `innofin.db.migrate` (never from an ini file)."""

from __future__ import annotations

from alembic import context

from innofin.access import models as _access  # noqa: F401  (registers tables)
from innofin.api import models as _api  # noqa: F401
from innofin.audit import models as _audit  # noqa: F401
from innofin.db.base import Base
from innofin.ledger import models as _ledger  # noqa: F401
from innofin.matching import models as _matching  # noqa: F401
from innofin.registry import models as _registry  # noqa: F401
from innofin.scoring import models as _scoring  # noqa: F401

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
