"""Opaque stream tokens: `s{position}_{typing}[_{to-device}]` for /sync, `t{position}` for paging.

A position denotes the gap *after* the event with that stream position. The optional
third part is present only when the response delivered to-device messages: it is the
position up to which it delivered them, which the next request acknowledges (the server
then deletes them). Clients treat tokens as opaque; parsing is strict so a forged token
is M_INVALID_PARAM, never a 500.
"""

import re
from dataclasses import dataclass

from candor.matrix.errors import InvalidParam

_SYNC_RE = re.compile(r"s([0-9]{1,18})_([0-9]{1,18})(?:_([0-9]{1,18}))?")
_PAGE_RE = re.compile(r"[ts]([0-9]{1,18})(?:_[0-9]{1,18}){0,2}")


@dataclass(frozen=True, slots=True)
class SyncToken:
    position: int
    typing: int
    to_device: int | None = None

    @classmethod
    def parse(cls, raw: str) -> "SyncToken":
        m = _SYNC_RE.fullmatch(raw)
        if m is None:
            raise InvalidParam("Invalid sync token")
        to_device = int(m.group(3)) if m.group(3) is not None else None
        if to_device is not None and to_device > int(m.group(1)):
            raise InvalidParam("Invalid sync token")
        return cls(int(m.group(1)), int(m.group(2)), to_device)

    def __str__(self) -> str:
        if self.to_device is None:
            return f"s{self.position}_{self.typing}"
        return f"s{self.position}_{self.typing}_{self.to_device}"


def parse_page_token(raw: str) -> int:
    """A /messages token: a pagination token or any /sync token (its event position)."""
    m = _PAGE_RE.fullmatch(raw)
    if m is None:
        raise InvalidParam("Invalid pagination token")
    return int(m.group(1))


def page_token(position: int) -> str:
    return f"t{max(position, 0)}"
