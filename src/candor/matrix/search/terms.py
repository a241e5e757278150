"""Search terms, parsed once into what both engines' queries are built from. Pure.

The syntax is web-search style (as PostgreSQL's `websearch_to_tsquery`): words must all
match, `"quoted words"` match as a phrase, `-word` excludes, and `or` between two parts
matches either. A word with inner punctuation (`e-mail`, `don't`) is a phrase of its parts.
Parsing it ourselves, rather than handing the text to each engine, keeps the two engines'
results the same and means no input can be a syntax error: FTS5's own query language
would make `"` or `NOT` in a user's words an error, or a way to ask something else.
"""

import re
from dataclasses import dataclass

from candor.matrix.errors import InvalidParam

MAX_TERM_CHARS = 1000
MAX_PARTS = 32

_TOKEN = re.compile(r'-?"[^"]*"?|\S+')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Part:
    """Words that must appear together, in order (one word is a phrase of one)."""

    words: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Alternative:
    """Parts that must all hold: at least one positive, any number excluded."""

    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Any of the alternatives matches. Empty: the term had nothing to search for."""

    alternatives: tuple[Alternative, ...]

    @property
    def words(self) -> list[str]:
        """The positive words, lowercased, each once (the response's `highlights`)."""
        seen: dict[str, None] = {}
        for alt in self.alternatives:
            for part in alt.parts:
                if not part.negated:
                    seen.update((w.lower(), None) for w in part.words)
        return list(seen)

    def fts5(self) -> str:
        """SQLite FTS5 query text: every word quoted, so none is an operator."""

        def phrase(part: Part) -> str:
            return '"' + " ".join(part.words) + '"'  # \w+ words hold no quote

        out = []
        for alt in self.alternatives:
            positive = " AND ".join(phrase(p) for p in alt.parts if not p.negated)
            negative = "".join(" NOT " + phrase(p) for p in alt.parts if p.negated)
            out.append(f"({positive}{negative})")
        return " OR ".join(out)


def parse_search_term(term: str) -> SearchQuery:
    if len(term) > MAX_TERM_CHARS:
        raise InvalidParam(f"search_term is longer than {MAX_TERM_CHARS} characters")
    alternatives: list[Alternative] = []
    current: list[Part] = []
    count = 0

    def close() -> None:
        if any(not p.negated for p in current):
            alternatives.append(Alternative(tuple(current)))
        current.clear()

    for token in _TOKEN.findall(term):
        if token.lower() == "or":
            close()
            continue
        negated = token.startswith("-")
        words = tuple(_WORD.findall(token))
        if not words:
            continue
        count += 1
        if count > MAX_PARTS:
            raise InvalidParam(f"search_term has more than {MAX_PARTS} words or phrases")
        current.append(Part(words, negated))
    close()
    return SearchQuery(tuple(alternatives))
