"""Where a browser may be sent after logging in: local paths only (no open redirect).

`next` comes from the query string, so anyone can put anything there. Browsers treat
`//evil.example`, `/\\evil.example` and `https:evil.example` as other sites, and strip
tabs and newlines before parsing, so only a plain absolute path on this site passes.
Pure.
"""

from urllib.parse import quote

MAX_NEXT_LENGTH = 2000
DEFAULT_NEXT = "/"


def safe_next(raw: str | None) -> str:
    """`raw` if it is a local path (with optional query), else "/"."""
    if not raw or len(raw) > MAX_NEXT_LENGTH or not raw.isascii() or not raw.isprintable():
        return DEFAULT_NEXT
    # A single leading "/" (not "//", no backslash anywhere) leaves no room for a scheme
    # or an authority: urlsplit of such a string has neither (the property test checks).
    if not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return DEFAULT_NEXT
    return raw


def login_url(next_path: str | None) -> str:
    """The login page, coming back to `next_path` (if it is safe and not the home page)."""
    target = safe_next(next_path)
    if target == DEFAULT_NEXT:
        return "/login"
    return "/login?next=" + quote(target, safe="/")
