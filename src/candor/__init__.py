"""Candor, a Matrix homeserver whose private inboxes stay private.

One process-wide choice lives here because it must happen before any module imports
httpx: httpx's package imports its command-line client (`httpx._main`, for the `httpx`
console script) when it can, and with it Pygments and a dozen Rich modules, ~2.7 MB of
resident memory in every server process that never runs that client (issue 17: idle
RSS). Marking the module absent makes httpx fall back to its stub `main`, which is all
it does when the CLI's extras are not installed.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None blocks an import
