"""Where the shared test vectors live: `../shared/testdata` next to the repository.

They are read from there, never copied. `CANDOR_SHARED_TESTDATA` overrides the location
for checkouts kept elsewhere.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_testdata(*parts: str) -> Path:
    base = Path(os.environ.get("CANDOR_SHARED_TESTDATA", REPO_ROOT.parent / "shared" / "testdata"))
    path = base.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"shared test data not found at {path}; check out ../shared next to the "
            "repository or set CANDOR_SHARED_TESTDATA"
        )
    return path
