"""Who is calling: the account and device behind an access token, as services see it.

It lives apart from `matrix/auth.py` (which reads the token off a FastAPI request) so a
service can name its caller without importing the web framework.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Requester:
    user_id: str
    device_id: str
    is_admin: bool
    access_token_hash: str
    # Set by an administrator (`matrix/moderation`); `matrix/auth.py` enforces both.
    locked: bool = False
    suspended: bool = False

    @property
    def device(self) -> tuple[str, str]:
        return (self.user_id, self.device_id)
