"""The Jinja2 environment every page renders with: autoescaped, strict about undefined names.

Templates live next to this module (`templates/<area>/<page>.html`, all extending
`base.html`) and ship as package data, so an installed Candor finds them. Autoescape is
on for every template whatever its name, and a misspelt variable is an error rather than
an empty string, so a page cannot silently drop what it should show.
"""

from pathlib import Path

import jinja2
from starlette.templating import Jinja2Templates

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


templates = Jinja2Templates(env=_environment())
