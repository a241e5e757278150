"""Administrators' review of partner apps: list every app, approve, suspend.

The same service serves the admin API (a Matrix access token) and the admin web page (a
session), so the rule "administrators only" is checked once, here, before anything is
read or changed. Suspension ends every token of the app in the same transaction
(`PartnerAppsService.suspend`).

No access record is written: an app's registration is the partner's data, not a person's,
and nothing here reads a conversation.
"""

import logging
from typing import Protocol

from candor.partners.apps.service import App, PartnerAppsService
from candor.partners.errors import forbidden

logger = logging.getLogger(__name__)


class Actor(Protocol):
    """Who asks: a Matrix `Requester` or a web page's `WebUser`."""

    @property
    def user_id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


def check_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise forbidden("Only administrators may do this")


class PartnerAdminService:
    def __init__(self, *, apps: PartnerAppsService) -> None:
        self._apps = apps

    async def list_apps(self, actor: Actor) -> list[App]:
        """Every app, pending, approved and suspended, oldest first."""
        check_admin(actor)
        return await self._apps.list_all()

    async def approve(self, actor: Actor, client_id: str) -> App:
        """Approve a pending or suspended app: from now on it may get tokens."""
        check_admin(actor)
        app = await self._apps.approve(client_id)
        logger.info("%s approved partner app %s", actor.user_id, client_id)
        return app

    async def suspend(self, actor: Actor, client_id: str) -> App:
        """Suspend an app: every one of its tokens ends at once."""
        check_admin(actor)
        app = await self._apps.suspend(client_id)
        logger.info("%s suspended partner app %s", actor.user_id, client_id)
        return app
