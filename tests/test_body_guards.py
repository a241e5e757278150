"""Guards in the body middleware: NUL characters, and the size limit on chunked bodies.

NUL characters: PostgreSQL text cannot hold them, so they are refused at the edge.

Found by fuzzing key backup on PostgreSQL (a NUL in a session id was a 500). The guard is
in one place, the body middleware, so no route can forget it; each case runs on both
engines and must leave nothing behind.
"""

from collections.abc import AsyncIterator

from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient


async def test_nul_in_a_path_parameter_is_invalid_param(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat")

    r = await alice.request("PUT", f"/rooms/{room}/send/m.room.message/txn%00x", json={"body": "x"})

    assert r.status_code == 400
    assert r.json()["errcode"] == "M_INVALID_PARAM"
    timeline = (await alice.sync())["rooms"]["join"][room]["timeline"]["events"]
    assert all(e["type"] != "m.room.message" for e in timeline)


async def test_nul_in_a_query_parameter_is_invalid_param(alice: MatrixTestClient) -> None:
    r = await alice.request("GET", "/keys/changes", params={"from": "s0_0\x00", "to": "s1_0"})

    assert r.status_code == 400
    assert r.json()["errcode"] == "M_INVALID_PARAM"


async def test_nul_escape_in_a_body_is_bad_json(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat")

    r = await alice.request(
        "PUT",
        f"/rooms/{room}/state/m.room.topic/key",
        content=b'{"topic": "a\\u0000b"}',
    )
    r2 = await alice.request(
        "PUT",
        "/sendToDevice/m.test/t1",
        content=b'{"messages": {"@alice:localhost": {"DEV\\U0000": {"a": 1}}}}',
    )

    assert r.status_code == 400
    assert r.json()["errcode"] == "M_BAD_JSON"
    assert r2.status_code == 400
    assert r2.json()["errcode"] == "M_BAD_JSON"
    state = await alice.ok("GET", f"/rooms/{room}/state")
    assert all(e["type"] != "m.room.topic" for e in state)


async def test_other_escapes_still_pass(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="public_chat")

    await alice.ok(
        "PUT", f"/rooms/{room}/state/m.room.topic/", content=b'{"topic": "caf\\u00e9 \\u0001"}'
    )

    topic = await alice.ok("GET", f"/rooms/{room}/state/m.room.topic/")
    assert topic == {"topic": "caf\u00e9 \u0001"}


async def test_an_oversized_chunked_body_is_too_large(
    alice: MatrixTestClient, settings: Settings
) -> None:
    """Without a Content-Length the limit is enforced while reading, with the same error."""
    limit = settings.http.max_request_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"messages": {"@alice:localhost": {"*": {"pad": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}}}'

    r = await alice.request("PUT", "/sendToDevice/m.test/big", content=chunks())

    assert r.status_code == 413
    assert r.json()["errcode"] == "M_TOO_LARGE"
