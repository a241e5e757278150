"""`candor serve` gives password hashing's memory back (issue 17: RSS after a few logins).

Each Argon2id hash allocates `passwords.memory_cost_kib` (19 MiB) and frees it. glibc's
default let the second hash in a thread keep that block in the heap for good, so a server
grew by 19 MiB per worker thread that had hashed twice. `serve` fixes the threshold at
which glibc maps (and unmaps) a block; a fresh interpreter checks the effect.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys, threading
from argon2 import PasswordHasher

if sys.argv[1] == "fixed":
    from candor.cli.serve import _return_large_blocks
    _return_large_blocks()

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

hasher = PasswordHasher(time_cost=1, memory_cost=19 * 1024, parallelism=1)
hasher.hash("warm up")
before = rss_kib()

def hash_twice():
    hasher.hash("one")
    hasher.hash("two")

threads = [threading.Thread(target=hash_twice) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
hash_twice()
print(rss_kib() - before)
"""


def _growth_kib(mode: str) -> int:
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.timeout(120)
def test_password_hashes_do_not_stay_resident() -> None:
    default = _growth_kib("default")
    fixed = _growth_kib("fixed")
    # Three heaps (main thread, two workers) kept 19 MiB each by default; none with serve's.
    assert default > 30 * 1024, f"the probe no longer shows the problem: {default} KiB"
    assert fixed < 8 * 1024, f"hashing kept {fixed} KiB resident"
