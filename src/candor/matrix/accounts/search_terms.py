"""The terms a profile is found by in people search, and the one way text is compared.

Pure, so the profile writer (`repository.py`, with the profile row) and the search
(`matrix/user_directory/`) normalise text identically: NFKC, case-folded (so "ß" is found
by "ss" and "Å" by "å"), whitespace collapsed. A name is found by a prefix of itself or
of its part from any later word on, which a single range scan over the stored terms
answers; nothing here needs a database's own case or word rules, so SQLite and
PostgreSQL find the same people.
"""

import re
import unicodedata
from enum import IntEnum
from typing import Final

from candor.core.ids import UserID

# Terms are stored in a String(255) column; longer text is searched by its first 255.
MAX_TERM_LENGTH: Final = 255
# A display name is found from at most this many of its words on (names are short).
MAX_NAME_WORDS: Final = 16
_WORD = re.compile(r"\w+")


class TermKind(IntEnum):
    """What a stored term is, which ranks a match (lower first)."""

    NAME = 0  # the whole display name
    NAME_WORD = 1  # the display name from a later word on
    USER_ID = 2  # the user id, or its localpart


def normalise(text: str) -> str:
    """Text as search compares it: NFKC, case-folded, single spaces, no outer spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def search_terms(user_id: str, displayname: str | None) -> set[tuple[str, TermKind]]:
    """Every (term, kind) a profile is found by."""
    terms = {
        (normalise(user_id)[:MAX_TERM_LENGTH], TermKind.USER_ID),
        (normalise(UserID.parse(user_id).localpart)[:MAX_TERM_LENGTH], TermKind.USER_ID),
    }
    name = normalise(displayname or "")
    if name:
        terms.add((name[:MAX_TERM_LENGTH], TermKind.NAME))
        starts = [m.start() for m in _WORD.finditer(name) if m.start() > 0]
        for start in starts[: MAX_NAME_WORDS - 1]:
            terms.add((name[start:][:MAX_TERM_LENGTH], TermKind.NAME_WORD))
    return {(term, kind) for term, kind in terms if term}


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """[low, high) of the terms that start with `prefix`, in code point (byte) order."""
    return prefix, prefix + "\U0010ffff"
