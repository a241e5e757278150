"""`read_under_grant`: the partner Inbox's one read transaction (partners/consent/observer.py).

What was read counts only if the same grant was live before and after the read. A member
who leaves while the read runs ends the grant: on PostgreSQL (each statement sees the latest
commits) the read is then refused; on SQLite the read transaction is one snapshot, so the
grant held at the instant of the read and what was read counts.
"""

from sqlalchemy.ext.asyncio import AsyncConnection

from candor.partners.consent.observer import LiveGrant
from tests.helpers.matrix import MatrixTestClient
from tests.partners.consent.conftest import Env
from tests.partners.consent.test_endpoints import _live


async def test_no_live_grant_reads_nothing(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, flix: str
) -> None:
    room = await env.room(alice, bob)
    calls: list[str] = []

    async def read(conn: AsyncConnection, grant: LiveGrant) -> str:
        calls.append(grant.grant_id)
        return "read"

    assert await env.consent.read_under_grant(flix, room, alice.user_id, read) is None
    assert calls == []


async def test_a_grant_that_ends_during_the_read(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient, flix: str
) -> None:
    room, grant_id = await _live(env, (alice, bob, carol), flix)

    async def read(conn: AsyncConnection, grant: LiveGrant) -> str:
        # bob leaves through the real API while the read transaction is open
        await bob.ok("POST", f"/rooms/{room}/leave", json={})
        return "the events"

    found = await env.consent.read_under_grant(flix, room, alice.user_id, read)
    if not env.hs.db.is_sqlite:
        assert found is None
    else:
        assert found is not None
        grant, value = found
        assert (grant.grant_id, value) == (grant_id, "the events")
    # Either way the grant is over for the next read.
    assert await env.consent.live_grant(flix, room, alice.user_id) is None
