"""Where the suite's test vectors live: `tests/data/` inside the repository.

They are public test data (RFC 6962, transparency-dev, Go sumdb, C2SP, Standard Webhooks,
RFC 7636) copied in with their sources named in `tests/data/README.md`, so `make test`
passes in a clone that has nothing beside it.
"""

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def data_path(*parts: str) -> Path:
    """The path of a file or folder under `tests/data/`; a missing one is a broken checkout."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"test data not found at {path}: is the checkout complete?")
    return path
