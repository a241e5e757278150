"""The Jinja2 environment every page renders with: autoescaped, strict about undefined names.

Templates live next to this module (`templates/<area>/<page>.html`, all extending
`base.html`) and ship as package data, so an installed Candor finds them. Autoescape is
on for every template whatever its name, and a misspelt variable is an error rather than
an empty string, so a page cannot silently drop what it should show.
"""

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from candor.core.jinja import strict_environment

# Starlette's wrapper imports Jinja2: loaded with the first page (`core/jinja.py` says why).
if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


@functools.cache
def templates() -> "Jinja2Templates":
    """The pages' templates, built on the first page rendered."""
    from starlette.templating import Jinja2Templates  # noqa: PLC0415 - lazy: see above

    return Jinja2Templates(env=strict_environment(TEMPLATES_DIR))
