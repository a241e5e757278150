"""What a locked or a suspended account may still do: pure rules on the matched route.

An administrator locks an account (`PUT /_matrix/client/v1/admin/lock/{userId}`) to stop
it entirely: every authenticated request answers 401 `M_USER_LOCKED` with
`soft_logout: true`, except logging out (spec, "Account locking").

A suspended account (`.../admin/suspend/{userId}`) keeps a read-only view (spec,
"Account suspension"): it syncs, reads messages, verifies devices, fills its key backup,
leaves rooms and rejects invites, redacts its own events, logs in and out. What would put
something new in front of other people answers 403 `M_USER_SUSPENDED`: creating, joining
or knocking on rooms, inviting, kicking, banning, sending messages and state, profile
changes, room aliases and directory listings, and media uploads.

The rules match the route's template with its parameters blanked (`/rooms/{}/send/{}/{}`),
so they hold whatever a handler names its parameters and whichever sub-package serves it.
"""

import re
from collections.abc import Sequence
from typing import Final

from candor.matrix.constants import EventType

_CLIENT: Final = r"/_matrix/client/(?:v3|r0|v1|unstable)"
_MEDIA: Final = r"/_matrix/media/(?:v3|r0|v1)"
_PARAM = re.compile(r"\{[^}]*\}")

_LOCKED_MAY: Final = re.compile(rf"POST {_CLIENT}/logout(?:/all)?")

_SUSPENDED_MAY_NOT: Final = re.compile(
    "|".join(
        [
            rf"POST {_CLIENT}/createRoom",
            rf"POST {_CLIENT}/(?:join|knock)/\{{\}}",
            rf"POST {_CLIENT}/rooms/\{{\}}/(?:join|knock|invite|kick|ban|unban|upgrade)",
            rf"PUT {_CLIENT}/rooms/\{{\}}/send/\{{\}}/\{{\}}",
            rf"PUT {_CLIENT}/rooms/\{{\}}/state/.*",
            rf"(?:PUT|DELETE) {_CLIENT}/profile/\{{\}}/.+",
            rf"(?:PUT|DELETE) {_CLIENT}/directory/room/\{{\}}",
            rf"PUT {_CLIENT}/directory/list/room/\{{\}}",
            rf"(?:POST|PUT) {_MEDIA}/(?:upload|create)(?:/.*)?",
        ]
    )
)
_SEND: Final = re.compile(rf"PUT {_CLIENT}/rooms/\{{\}}/send/\{{\}}/\{{\}}")


def route_key(method: str, template: str) -> str:
    """`PUT /_matrix/client/v3/rooms/{}/send/{}/{}`: what the rules below match."""
    return f"{method.upper()} {_PARAM.sub('{}', template)}"


def locked_may(key: str) -> bool:
    """A locked account may only log out (this session or all of them)."""
    return _LOCKED_MAY.fullmatch(key) is not None


def suspended_may(key: str, path_params: Sequence[str]) -> bool:
    """Whether a suspended account may make this request (`path_params` in route order).

    A redaction sent through `/send/m.room.redaction` is a redaction: allowed, like
    `/redact`.
    """
    if _SUSPENDED_MAY_NOT.fullmatch(key) is None:
        return True
    return (
        _SEND.fullmatch(key) is not None
        and len(path_params) >= 2
        and path_params[1] == EventType.REDACTION
    )
