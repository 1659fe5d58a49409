"""Settings read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///innofin.db"


@dataclass(frozen=True)
class Settings:
    database_url: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(database_url=os.environ.get("INNOFIN_DATABASE_URL") or DEFAULT_DATABASE_URL)
