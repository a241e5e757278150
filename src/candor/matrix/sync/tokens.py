"""Opaque stream tokens: `s{position}_{typing serial}` for /sync, `t{position}` for paging.

A position denotes the gap *after* the event with that stream position. Clients treat
tokens as opaque; parsing is strict so a forged token is M_INVALID_PARAM, never a 500.
"""

import re
from dataclasses import dataclass

from candor.matrix.errors import InvalidParam

_SYNC_RE = re.compile(r"s([0-9]{1,18})_([0-9]{1,18})")
_PAGE_RE = re.compile(r"[ts]([0-9]{1,18})(?:_[0-9]{1,18})?")


@dataclass(frozen=True, slots=True)
class SyncToken:
    position: int
    typing: int

    @classmethod
    def parse(cls, raw: str) -> "SyncToken":
        m = _SYNC_RE.fullmatch(raw)
        if m is None:
            raise InvalidParam("Invalid sync token")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"s{self.position}_{self.typing}"


def parse_page_token(raw: str) -> int:
    """A /messages token: a pagination token or any /sync token (its event position)."""
    m = _PAGE_RE.fullmatch(raw)
    if m is None:
        raise InvalidParam("Invalid pagination token")
    return int(m.group(1))


def page_token(position: int) -> str:
    return f"t{max(position, 0)}"
