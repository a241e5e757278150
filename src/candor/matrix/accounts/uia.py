"""User-interactive authentication (UIA): the 401 round trip of /register and friends.

https://spec.matrix.org/v1.11/client-server-api/#user-interactive-authentication-api
Candor's flows have one stage each (m.login.dummy for registration, m.login.password to
confirm a password change), so a session needs no server-side state: any session string
the client echoes is accepted with a valid stage.
"""

from candor.core.errors import CandorError
from candor.core.tokens import random_string


class AuthRequired(CandorError):
    status = 401
    errcode = "M_FORBIDDEN"

    def __init__(
        self, stages: list[str], session: str | None, *, failed: str | None = None
    ) -> None:
        super().__init__(failed or "User-interactive authentication required")
        self.session = session or random_string(16)
        self.stages = stages
        self.failed = failed

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "flows": [{"stages": self.stages}],
            "params": {},
            "session": self.session,
            "completed": [],
        }
        if self.failed is not None:
            body["errcode"] = self.errcode
            body["error"] = self.failed
        return body
