"""A deactivated person's partner access ends: their room grants and their app consents.

The matrix layer deactivates accounts but may not call the partner layer (domains point
down), so the composition root hands `end_partner_access` to `DeactivationService` as a
hook. Leaving every room already voids each grant the person was in (any membership
change does, `consent/observer.py`); revoking them as well ends pending grants, names the
reason on each, and holds even for a grant whose room the person had left already. The
person's OAuth consents and every token of those apps go too, so no app reads their
profile again.
"""

from candor.partners.consent.rules import OPEN
from candor.partners.consent.service import ConsentService
from candor.partners.errors import PartnerError
from candor.partners.oauth.connected import ConnectedAppsService


class PartnerAccessEnder:
    def __init__(self, *, consent: ConsentService, connected: ConnectedAppsService) -> None:
        self._consent = consent
        self._connected = connected

    async def end_partner_access(self, user_id: str) -> None:
        """Revoke every open grant the person was asked about and every app they connected.

        Idempotent: an ended grant or a revoked app is left as it is, so a retried
        deactivation does the rest.
        """
        for grant in await self._consent.list_for(user_id):
            if grant.status not in OPEN:
                continue
            try:
                await self._consent.revoke(user_id, grant.grant_id)
            except PartnerError:
                continue  # ended meanwhile (another member, its expiry): nothing to revoke
        for app in await self._connected.list_for(user_id):
            await self._connected.revoke(user_id, app.client_id)
