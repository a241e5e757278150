"""Encrypted-by-default rooms and the m.room.encryption / m.room.encrypted rules.

docs/encryption.md ("Encrypted by default"): private and direct rooms start encrypted, an
encrypted room stays so (same algorithm, no redaction: 403 M_FORBIDDEN), and ciphertext is
stored and served exactly as the client sent it.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from candor.app import create_app
from candor.config import EncryptionSettings, Settings
from tests.helpers.e2ee import MEGOLM
from tests.helpers.matrix import V3, MatrixTestClient
from tests.helpers.spec import spec_event_hooks

ENCRYPTION = "m.room.encryption"
MEGOLM_CONTENT = {"algorithm": MEGOLM}


@pytest.fixture
async def plain_http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with `encryption.by_default = false`."""
    app = create_app(
        settings.model_copy(update={"encryption": EncryptionSettings(by_default=False)})
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test.local", event_hooks=spec_event_hooks()
        ) as client:
            yield client


def _err(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errcode"]


async def _encryption(user: MatrixTestClient, room: str) -> Any:
    """The room's m.room.encryption content, or None when the room has none."""
    r = await user.request("GET", f"/rooms/{room}/state/{ENCRYPTION}/")
    if r.status_code == 404:
        assert r.json()["errcode"] == "M_NOT_FOUND"
        return None
    assert r.status_code == 200, r.text
    return r.json()


async def _encryption_event_id(user: MatrixTestClient, room: str) -> str:
    state: list[dict[str, Any]] = await user.ok("GET", f"/rooms/{room}/state")
    (event,) = [e for e in state if e["type"] == ENCRYPTION and e["state_key"] == ""]
    event_id: str = event["event_id"]
    return event_id


# --- encrypted by default ------------------------------------------------------------


async def test_private_and_direct_rooms_start_encrypted(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    rooms = [
        await alice.create_room(preset="private_chat"),
        await alice.create_room(preset="trusted_private_chat"),
        await alice.create_room(preset="public_chat", is_direct=True, invite=[bob.user_id]),
        await alice.create_room(is_direct=True, invite=[bob.user_id]),
        await alice.create_room(),  # no preset, private visibility: private_chat
    ]
    for room in rooms:
        assert await _encryption(alice, room) == MEGOLM_CONTENT, room


async def test_encryption_is_in_the_initial_state_of_the_room(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat", invite=[bob.user_id])
    await bob.join(room)
    sync = await bob.sync()
    joined = sync["rooms"]["join"][room]
    events = joined["state"]["events"] + joined["timeline"]["events"]
    found = [e for e in events if e["type"] == ENCRYPTION]
    assert [e["content"] for e in found] == [MEGOLM_CONTENT]
    # It is there before anyone can send into the room: right after the initial state.
    assert found[0]["sender"] == alice.user_id


async def test_public_rooms_stay_unencrypted_unless_asked(alice: MatrixTestClient) -> None:
    public = await alice.create_room(preset="public_chat")
    assert await _encryption(alice, public) is None
    asked = await alice.create_room(
        preset="public_chat",
        initial_state=[{"type": ENCRYPTION, "state_key": "", "content": MEGOLM_CONTENT}],
    )
    assert await _encryption(alice, asked) == MEGOLM_CONTENT
    # Or later, by sending the state event.
    await alice.ok("PUT", f"/rooms/{public}/state/{ENCRYPTION}/", json=MEGOLM_CONTENT)
    assert await _encryption(alice, public) == MEGOLM_CONTENT


async def test_initial_state_encryption_is_kept_not_doubled(alice: MatrixTestClient) -> None:
    content = {"algorithm": MEGOLM, "rotation_period_ms": 3_600_000}
    room = await alice.create_room(
        preset="private_chat",
        initial_state=[{"type": ENCRYPTION, "state_key": "", "content": content}],
    )
    assert await _encryption(alice, room) == content


async def test_with_by_default_off_no_room_is_encrypted(plain_http: httpx.AsyncClient) -> None:
    alice = await MatrixTestClient.register(plain_http, "alice")
    bob = await MatrixTestClient.register(plain_http, "bob")
    rooms = [
        await alice.create_room(preset="private_chat"),
        await alice.create_room(preset="trusted_private_chat"),
        await alice.create_room(is_direct=True, invite=[bob.user_id]),
        await alice.create_room(preset="public_chat"),
    ]
    for room in rooms:
        assert await _encryption(alice, room) is None, room
    # Asking for it explicitly still works.
    asked = await alice.create_room(
        preset="private_chat",
        initial_state=[{"type": ENCRYPTION, "state_key": "", "content": MEGOLM_CONTENT}],
    )
    assert await _encryption(alice, asked) == MEGOLM_CONTENT


# --- once encrypted, always encrypted ------------------------------------------------


async def test_changing_the_algorithm_is_forbidden(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="private_chat")
    for content in (
        {"algorithm": "m.olm.v1.curve25519-aes-sha2"},
        {"algorithm": "org.example.plaintext"},
    ):
        r = await alice.request("PUT", f"/rooms/{room}/state/{ENCRYPTION}/", json=content)
        assert _err(r) == (403, "M_FORBIDDEN"), content
    assert await _encryption(alice, room) == MEGOLM_CONTENT


async def test_changing_rotation_parameters_is_allowed(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="private_chat")
    content = {"algorithm": MEGOLM, "rotation_period_ms": 86_400_000, "rotation_period_msgs": 50}
    await alice.ok("PUT", f"/rooms/{room}/state/{ENCRYPTION}/", json=content)
    assert await _encryption(alice, room) == content


async def test_changing_the_algorithm_of_a_room_encrypted_later_is_forbidden(
    alice: MatrixTestClient,
) -> None:
    room = await alice.create_room(preset="public_chat")
    await alice.ok("PUT", f"/rooms/{room}/state/{ENCRYPTION}/", json=MEGOLM_CONTENT)
    r = await alice.request(
        "PUT", f"/rooms/{room}/state/{ENCRYPTION}/", json={"algorithm": "org.example.none"}
    )
    assert _err(r) == (403, "M_FORBIDDEN")
    assert await _encryption(alice, room) == MEGOLM_CONTENT


async def test_redacting_the_encryption_event_is_forbidden(alice: MatrixTestClient) -> None:
    room = await alice.create_room(preset="private_chat")
    event_id = await _encryption_event_id(alice, room)
    r = await alice.request(
        "PUT", f"/rooms/{room}/redact/{event_id}/r1", json={"reason": "turn it off"}
    )
    assert _err(r) == (403, "M_FORBIDDEN")
    assert await _encryption(alice, room) == MEGOLM_CONTENT
    event = await alice.ok("GET", f"/rooms/{room}/event/{event_id}")
    assert event["content"] == MEGOLM_CONTENT
    assert "redacted_because" not in event.get("unsigned", {})


# --- m.room.encrypted ----------------------------------------------------------------


async def test_encrypted_events_are_served_exactly_as_sent(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat", invite=[bob.user_id])
    await bob.join(room)
    since = (await bob.sync())["next_batch"]
    content: dict[str, object] = {
        "algorithm": MEGOLM,
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg2yyOwAtHaZTwyNg37afzg8f3r9"
        "IsN9r4RNFg7MaZencUJe4qvELiDiopUjy5wYVDAtqdBzer5bWRD9ldxp1FLgbQvBcjkkywYjCsmsq6+hArL"
        "d9oAQZnGKn/qLsK+5uNX3PaWzDRC9wZPQvWYYPCTov3jCwXKTPsLKIiTrcCXDqMvnn8m+T3zF/I2zqxg158"
        "tnUwWWIw51UO",
        "device_id": "RJYKSTBOIE",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
        "org.example.extra": {"z": [0, -1, 9007199254740991, None, True, False], "a": "é\u2028"},
    }
    r = await alice.ok("PUT", f"/rooms/{room}/send/m.room.encrypted/c1", json=content)
    event_id = r["event_id"]

    sync = await bob.sync(since=since)
    timeline = sync["rooms"]["join"][room]["timeline"]["events"]
    (from_sync,) = [e for e in timeline if e["type"] == "m.room.encrypted"]
    assert from_sync["event_id"] == event_id
    assert from_sync["content"] == content

    page = await bob.messages(room, dir="b", limit=5)
    (from_messages,) = [e for e in page["chunk"] if e["type"] == "m.room.encrypted"]
    assert from_messages["content"] == content
    assert (await bob.ok("GET", f"/rooms/{room}/event/{event_id}"))["content"] == content


async def test_encrypted_events_need_membership(
    http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat")
    content = {"algorithm": MEGOLM, "ciphertext": "AwgA", "session_id": "s"}
    r = await bob.request("PUT", f"/rooms/{room}/send/m.room.encrypted/c1", json=content)
    assert _err(r) == (403, "M_FORBIDDEN")
    r = await http.put(f"{V3}/rooms/{room}/send/m.room.encrypted/c1", json=content)
    assert _err(r) == (401, "M_MISSING_TOKEN")
