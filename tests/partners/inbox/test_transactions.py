"""One Inbox read is two short read transactions: the bearer token with its consent and
app, then the grant with its room's facts and the events (one snapshot). The writes that
follow are the transparency-log record and the consent's last-used time.

Counted with SQLAlchemy's own engine events, so the real code paths run on both engines.
"""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Connection

from candor.store.db import Database
from tests.partners.inbox.conftest import Scene


@contextmanager
def transactions(db: Database) -> Iterator[Counter[str]]:
    """How many transactions end in a commit (writes) or a rollback (reads) meanwhile."""
    counts: Counter[str] = Counter()
    engine = db.engine.sync_engine

    def on_commit(conn: Connection) -> None:
        counts["commit"] += 1

    def on_rollback(conn: Connection) -> None:
        counts["rollback"] += 1

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    try:
        yield counts
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "rollback", on_rollback)


async def test_reading_messages_is_two_read_transactions(scene: Scene) -> None:
    await scene.grant()
    await scene.bob.send(scene.room, "hello")

    with transactions(scene.env.web.hs.db) as counts:
        read = await scene.get(f"/rooms/{scene.room}/messages")

    assert read.status_code == 200, read.text
    assert read.json()["log_index"] is not None
    assert counts["rollback"] <= 2  # token + consent + app; grant + facts + events
    assert counts["commit"] <= 2  # the log record; when the app last read


async def test_listing_rooms_is_two_read_transactions(scene: Scene) -> None:
    await scene.grant()

    with transactions(scene.env.web.hs.db) as counts:
        listed = await scene.get("/rooms")

    assert listed.status_code == 200, listed.text
    assert counts["rollback"] <= 2
    assert counts["commit"] <= 2
