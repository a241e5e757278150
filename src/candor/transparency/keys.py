"""The log's Ed25519 signing key: generated on first start, kept in the data dir.

Witnesses pin the public key, so it must survive restarts, and every worker must sign
with the same one: it lives next to the database's other secrets (`DATA_DIR/
transparency.key`, mode 0600, in the C2SP signer-key form) and is never logged.
"""

import contextlib
import os
from pathlib import Path

from candor.transparency.note import Signer, generate_key

KEY_FILE = "transparency.key"


def load_or_create_signer(data_dir: Path, origin: str) -> Signer:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        skey, _ = generate_key(origin)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(skey + "\n")
            f.flush()
            os.fsync(f.fileno())
        # Another worker may have won the race: keep whichever key landed first.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink(missing_ok=True)
    signer = Signer.parse(path.read_text().strip())
    if signer.name != origin:
        raise ValueError(
            f"{path} holds the key of log {signer.name!r}, not {origin!r}; "
            "move it away to start a new log"
        )
    return signer
