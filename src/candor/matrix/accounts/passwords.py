"""Argon2id password hashing, run off the event loop (it is deliberately slow).

Parameters follow OWASP's Argon2id recommendation (19 MiB, t=2, p=1) rather than
argon2-cffi's 64 MiB default: a burst of logins would otherwise cost 64 MiB of RSS per
concurrent hash. A limiter caps concurrent hashes for the same reason.
"""

import functools

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_LIMITER = anyio.CapacityLimiter(2)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_HASHER.hash, password, limiter=_LIMITER)


async def verify_password(password_hash: str, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify, limiter=_LIMITER)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("candor: no such account")


async def verify_nothing(password: str) -> None:
    """Spend a real verification's time on a login for an account that does not exist.

    Without it a login for a missing user answers before argon2 would have run, and the
    time tells whether the account exists.
    """
    dummy = await anyio.to_thread.run_sync(_dummy_hash, limiter=_LIMITER)
    await verify_password(dummy, password)
