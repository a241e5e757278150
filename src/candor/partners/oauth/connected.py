"""A person's connected apps: which apps they authorized, what each may do, and revoking.

Why apart from the token store (`service.py`): this is the person's view of their
consents (the Connected apps page), read and ended by them, not by an app or authlib.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from candor.core.clock import Clock
from candor.partners.apps.rules import SCOPES
from candor.partners.apps.service import PartnerAppsService
from candor.partners.oauth import repository as repo
from candor.store.db import Database


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    client_id: str
    name: str
    scopes: tuple[tuple[str, str], ...]  # (scope, plain-language text)
    created_ts: int
    last_used_ts: int | None


def scope_texts(scopes: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return tuple((s, SCOPES.get(s, s)) for s in scopes)


class ConnectedAppsService:
    def __init__(self, *, db: Database, clock: Clock, apps: PartnerAppsService) -> None:
        self._db = db
        self._clock = clock
        self._apps = apps

    async def list_for(self, user_id: str) -> list[ConnectedApp]:
        """Every app the person authorized and has not revoked, with what it may do."""
        async with self._db.read() as conn:
            rows = await repo.list_consents(conn, user_id)
        out = []
        for row in rows:
            app = await self._apps.find(row.client_id)
            name = app.name if app is not None else row.client_id
            out.append(
                ConnectedApp(
                    row.client_id,
                    name,
                    scope_texts(row.scopes.split()),
                    row.created_ts,
                    row.last_used_ts,
                )
            )
        return out

    async def revoke(self, user_id: str, client_id: str) -> None:
        """End the person's consent and every token of (app, person), in one transaction.

        Revoking an app one never authorized (or twice) is a quiet no-op, so the answer
        does not tell which apps a person uses.
        """
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            await repo.revoke_consent(conn, client_id, user_id, now)
            await repo.revoke_pair(conn, client_id, user_id, now)
