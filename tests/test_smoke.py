"""The shortest scenario through the stack, on both engines."""

from tests.helpers.matrix import MatrixTestClient


async def test_invited_user_sees_message_after_joining(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    room = await alice.create_room(preset="private_chat", invite=[bob.user_id])
    await bob.join(room)
    await alice.send(room, "hello bob")
    sync = await bob.sync(filter='{"room":{"timeline":{"limit":20}}}')
    timeline = sync["rooms"]["join"][room]["timeline"]["events"]
    assert [e["content"].get("body") for e in timeline if e["type"] == "m.room.message"] == [
        "hello bob"
    ]
