"""The one way Candor builds a Jinja2 environment: autoescaped whatever the template's
name, strict about undefined names (a misspelt variable is an error, not an empty string),
and imported only when something renders (Jinja2 costs ~2 MB of resident memory, and a
server that only answers Matrix clients never renders a template; issue 17: idle RSS)."""

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2


@functools.cache
def strict_environment(templates_dir: Path) -> "jinja2.Environment":
    """The environment of one template directory, built on its first render."""
    import jinja2  # noqa: PLC0415 - lazy: see the module docstring

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
