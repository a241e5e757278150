"""Argon2id password hashing, run off the event loop (it is deliberately slow).

The cost comes from `passwords.*` settings (built once in the composition root), whose
defaults follow OWASP's Argon2id recommendation (19 MiB, t=2, p=1) rather than
argon2-cffi's 64 MiB default: a burst of logins would otherwise cost 64 MiB of RSS per
concurrent hash. A limiter caps concurrent hashes for the same reason. A stored hash
carries its own parameters, so changing the settings never locks anyone out.
"""

import functools

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from candor.config import PasswordSettings


class Passwords:
    """Hashes and checks passwords with one configured Argon2id cost."""

    def __init__(self, settings: PasswordSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.time_cost, memory_cost=settings.memory_cost_kib, parallelism=1
        )
        self._limiter = anyio.CapacityLimiter(2)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str, password: str) -> bool:
        def _verify() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await anyio.to_thread.run_sync(_verify, limiter=self._limiter)

    @functools.cached_property
    def _dummy_hash(self) -> str:
        return self._hasher.hash("candor: no such account")

    async def verify_nothing(self, password: str) -> None:
        """Spend a real verification's time on a login for an account that does not exist.

        Without it a login for a missing user answers before argon2 would have run, and the
        time tells whether the account exists. The dummy hash has the configured cost, so
        it costs what a real account's (new) hash costs.
        """
        dummy = await anyio.to_thread.run_sync(lambda: self._dummy_hash, limiter=self._limiter)
        await self.verify(dummy, password)
