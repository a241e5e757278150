"""TURN credentials for calls (`GET /voip/turnServer`), from configuration.

Why time-limited credentials: a TURN server relays anyone's traffic, so it must not take
a password that, once read out of one client, works for ever. With a shared secret each
answer is the TURN REST API scheme that coturn's `use-auth-secret` checks (and Synapse
serves): username `EXPIRY:USER_ID`, password base64(HMAC-SHA1(secret, username)), valid
until EXPIRY (Unix seconds). Nothing is stored. With nothing configured the answer is
`404 M_NOT_FOUND`: the spec's 200 requires credentials (Synapse's `{}` breaks its schema),
and matrix-js-sdk takes any error as "no TURN server for now", calling without a relay.
"""

import base64
import hashlib
import hmac

from candor.config import TurnSettings
from candor.core.canonical_json import JsonDict
from candor.core.clock import Clock
from candor.matrix.errors import NotFound


class TurnService:
    def __init__(self, clock: Clock, settings: TurnSettings) -> None:
        self._clock = clock
        self._settings = settings

    def credentials(self, user_id: str) -> JsonDict:
        turn = self._settings
        if not turn.uris:
            raise NotFound("This homeserver has no TURN server configured")
        if turn.shared_secret is not None:
            expiry = self._clock.now_ms() // 1000 + turn.user_lifetime_s
            username = f"{expiry}:{user_id}"
            mac = hmac.new(
                turn.shared_secret.get_secret_value().encode(), username.encode(), hashlib.sha1
            )
            password = base64.b64encode(mac.digest()).decode()
        else:
            # The settings guarantee a fixed pair when there is no secret.
            username = turn.username or ""
            password = turn.password.get_secret_value() if turn.password is not None else ""
        return {
            "username": username,
            "password": password,
            "uris": list(turn.uris),
            "ttl": turn.user_lifetime_s,
        }
