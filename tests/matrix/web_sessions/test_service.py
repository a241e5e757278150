"""WebSessionsService on both engines: only hashes are stored, login rotates, logout and
expiry end a session, a deactivated account's sessions stop working, and a failed login
writes nothing."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from candor.config import Settings
from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.matrix.web_sessions.service import (
    LAST_SEEN_GRANULARITY_MS,
    SESSION_LIFETIME_MS,
    LoginFailed,
    WebSessionsService,
)
from candor.store.models.accounts import User
from candor.store.models.web_sessions import WebSession
from candor.wiring import build_homeserver, build_services

ALICE = "@alice:test.local"


@pytest.fixture
async def hs(settings: Settings, clock: FakeClock) -> AsyncIterator[Homeserver]:
    hs = build_homeserver(settings, clock)
    accounts = build_services(hs).accounts
    await accounts.create_user("alice", "pw-alice", admin=False)
    await accounts.create_user("bob", "pw-bob", admin=True)
    yield hs
    await hs.db.dispose()


@pytest.fixture
def sessions(hs: Homeserver) -> WebSessionsService:
    return build_services(hs).web_sessions


async def _rows(hs: Homeserver) -> list[tuple[str, str, int, int, int | None]]:
    async with hs.db.read() as conn:
        result = await conn.execute(
            select(
                WebSession.token_hash,
                WebSession.user_id,
                WebSession.created_ts,
                WebSession.expires_ts,
                WebSession.last_seen_ts,
            ).order_by(WebSession.created_ts)
        )
        return [tuple(r) for r in result]  # type: ignore[misc]


async def test_a_login_stores_only_a_hash_of_the_token(
    hs: Homeserver, sessions: WebSessionsService, clock: FakeClock
) -> None:
    new = await sessions.login("alice", "pw-alice")

    assert new.token.startswith("cdr_ws_")
    assert new.user_id == ALICE
    assert new.expires_ms == clock.now_ms() + SESSION_LIFETIME_MS
    ((token_hash, user_id, created, expires, _),) = await _rows(hs)
    assert len(token_hash) == 64
    assert new.token not in token_hash
    assert (user_id, created, expires) == (ALICE, clock.now_ms(), new.expires_ms)
    info = await sessions.get(new.token)
    assert info is not None
    assert (info.user_id, info.is_admin) == (ALICE, False)


async def test_an_admin_session_says_so(sessions: WebSessionsService) -> None:
    info = await sessions.get((await sessions.login("@bob:test.local", "pw-bob")).token)

    assert info is not None
    assert info.is_admin


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "nope"), ("nobody", "pw-alice"), ("@", "pw-alice"), ("alice", "x" * 600)],
)
async def test_a_failed_login_writes_nothing(
    hs: Homeserver, sessions: WebSessionsService, username: str, password: str
) -> None:
    with pytest.raises(LoginFailed):
        await sessions.login(username, password)

    assert await _rows(hs) == []


async def test_replacing_ends_the_previous_session(
    hs: Homeserver, sessions: WebSessionsService
) -> None:
    first = await sessions.login("alice", "pw-alice")

    second = await sessions.login("alice", "pw-alice", replacing=first.token)

    assert await sessions.get(first.token) is None
    assert await sessions.get(second.token) is not None
    assert len(await _rows(hs)) == 1


async def test_logout_ends_the_session_and_is_idempotent(sessions: WebSessionsService) -> None:
    new = await sessions.login("alice", "pw-alice")

    assert await sessions.logout(new.token) is True
    assert await sessions.logout(new.token) is False
    assert await sessions.get(new.token) is None
    assert await sessions.count_sessions(ALICE) == 0


@pytest.mark.parametrize("token", ["", "garbage", "cdr_at_abc_def", "cdr_ws_abc_wrong"])
async def test_malformed_tokens_are_nobody(sessions: WebSessionsService, token: str) -> None:
    assert await sessions.get(token) is None
    assert await sessions.logout(token) is False


async def test_an_expired_session_is_gone_and_swept_at_the_next_login(
    hs: Homeserver, sessions: WebSessionsService, clock: FakeClock
) -> None:
    old = await sessions.login("alice", "pw-alice")
    clock.advance(SESSION_LIFETIME_MS / 1000)

    assert await sessions.get(old.token) is None
    assert await sessions.count_sessions(ALICE) == 1
    await sessions.login("bob", "pw-bob")
    assert await sessions.count_sessions(ALICE) == 0


async def test_a_deactivated_accounts_sessions_stop_working(
    hs: Homeserver, sessions: WebSessionsService
) -> None:
    new = await sessions.login("alice", "pw-alice")
    async with hs.db.write() as conn:
        await conn.execute(update(User).where(User.user_id == ALICE).values(deactivated=True))

    assert await sessions.get(new.token) is None
    with pytest.raises(LoginFailed):
        await sessions.login("alice", "pw-alice")


async def test_last_seen_is_refreshed_now_and_then(
    hs: Homeserver, sessions: WebSessionsService, clock: FakeClock
) -> None:
    new = await sessions.login("alice", "pw-alice")
    start = clock.now_ms()
    clock.advance(60)
    await sessions.get(new.token)
    ((*_, seen_soon),) = await _rows(hs)

    clock.advance(LAST_SEEN_GRANULARITY_MS / 1000)
    await sessions.get(new.token)
    ((*_, seen_later),) = await _rows(hs)

    assert seen_soon == start
    assert seen_later == clock.now_ms()
