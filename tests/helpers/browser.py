"""Debian's chromium for Playwright: where it is and how tests start it (never a bundled
browser; headless and without a sandbox, as the workplace's machines need)."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SKIP_REASON = "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"
