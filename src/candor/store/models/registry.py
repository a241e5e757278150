"""Imports every model module so `Base.metadata` is complete (for Alembic and tests)."""

from candor.store.models import (
    accounts,
    events,
    keys,
    media,
    moderation,
    partners,
    push,
    relations,
    reports,
    rooms,
    search,
    share,
    transparency,
    web_sessions,
)
from candor.store.models.base import Base

__all__ = [
    "Base",
    "accounts",
    "events",
    "keys",
    "media",
    "moderation",
    "partners",
    "push",
    "relations",
    "reports",
    "rooms",
    "search",
    "share",
    "transparency",
    "web_sessions",
]
metadata = Base.metadata
