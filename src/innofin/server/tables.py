"""Every room's tables, registered with `Base.metadata` by importing their models.

The migrations' `env.py` imports this module (it runs at the top, like the composition root), so
the metadata Alembic compares against holds the whole house while no room imports another only to
register its tables. A new room adds its models here.
"""

from __future__ import annotations

from innofin.access import models as access_models
from innofin.api import models as api_models
from innofin.audit import models as audit_models
from innofin.db.base import Base
from innofin.events import models as events_models
from innofin.ledger import models as ledger_models
from innofin.matching import models as matching_models
from innofin.monitoring.scenarios import models as monitoring_models
from innofin.registry import models as registry_models
from innofin.scoring import models as scoring_models

ROOM_MODELS = (
    registry_models,
    access_models,
    audit_models,
    api_models,
    scoring_models,
    ledger_models,
    matching_models,
    events_models,
    monitoring_models,
)

metadata = Base.metadata
