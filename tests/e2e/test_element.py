"""Element Web, unmodified, in Chromium against a real `candor serve`: what a new user does.

Alice registers through Element's form (Element sets up cross-signing for her on its own);
Bob, whose account exists, signs in through Element's form (Element sets up his
cross-signing too). Alice starts a DM with Bob, who accepts and sets up Secure Backup
when Element offers it; each reads the other's encrypted messages, with no shield on any
of them, because every device is verified by its owner. Bob then signs in on a second
session and skips verification: his message from there carries the red "not verified by
its owner" shield in Alice's Element. He verifies the new session from his first one by
comparing emoji (SAS over to-device messages); then that shield is gone (once the room is
drawn again), the new session has read the DM's history from the key backup, and new
messages both ways carry no red shield. Settings → Sessions shows both sessions verified,
and Bob signs the new one out from there with his password.

Every API answer ≥ 400 that Element received is recorded; the test fails on any that is
not in the explained allow-lists below.

Steps are the helpers of `tests/helpers/element_ui.py`, so a scenario for another part of
Element (media, settings, the room directory…) adds steps here without new plumbing.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ServerProcess
from tests.helpers import element_ui as ui
from tests.helpers.browser import CHROMIUM
from tests.helpers.browser import SKIP_REASON as NO_CHROMIUM

# Element is the subject, not the database: SQLite only (see tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(240)]

if not CHROMIUM.exists():
    pytest.skip(NO_CHROMIUM, allow_module_level=True)

PASSWORD = "correct horse battery staple"
BOB_ID = "@bob:localhost"
BOB_NAME = "Bob Marley"

PUBLIC_ROOM = "Tea Party"


@dataclass(frozen=True, slots=True)
class Allowed:
    """An API answer ≥ 400 the scenario may meet, and why that is right."""

    request: str  # "METHOD path", the path a regular expression under /_matrix
    status: int
    errcode: str | None
    reason: str
    who: str | None = None  # only on this person's page

    def matches(self, failure: ui.ApiFailure) -> bool:
        method, path = self.request.split(" ", 1)
        return (
            method in (failure.method, "*")
            and re.fullmatch(f"/_matrix{path}", failure.path) is not None
            and failure.status == self.status
            # A body the page could not read (it had moved on) may have had this errcode.
            and failure.errcode in (self.errcode, ui.UNREAD)
            and self.who in (None, failure.who)
        )


# Answers ≥ 400 the spec prescribes in these flows: Element asks, expects them, carries on.
EXPECTED = (
    Allowed(
        "POST /client/v3/register",
        401,
        None,
        "user-interactive auth: a registration's first request gets the flows",
    ),
    Allowed(
        "POST /client/v3/delete_devices",
        401,
        None,
        "user-interactive auth: signing a session out first gets the flows (password)",
    ),
    Allowed(
        "POST /client/unstable/keys/device_signing/upload",
        401,
        None,
        "user-interactive auth: Element uploads nothing to learn the flows before it sets up "
        "secret storage for an account whose cross-signing keys already exist",
    ),
    Allowed(
        "GET /client/v3/room_keys/version",
        404,
        "M_NOT_FOUND",
        "the spec's answer while the user has no key backup; Element looks before making one",
    ),
    Allowed(
        "GET /client/unstable/org.matrix.msc2965/auth_issuer",
        404,
        "M_UNRECOGNIZED",
        "Element asks whether accounts live at an OpenID provider (MSC2965); they do not",
    ),
    Allowed(
        "GET /client/unstable/org.matrix.msc3814.v1/dehydrated_device",
        404,
        "M_UNRECOGNIZED",
        "dehydrated devices (MSC3814) are not supported, which is how a server says so",
    ),
    Allowed(
        "* /client/v3/.*",
        401,
        "M_UNKNOWN_TOKEN",
        "the session Bob signs out learns it from its next requests (/sync, then Element's "
        "own /logout of the dead token)",
        who="bob-new-session",
    ),
    Allowed(
        "GET /client/v3/voip/turnServer",
        404,
        "M_NOT_FOUND",
        "the test server has no TURN server; Element then calls without a relay",
    ),
    Allowed(
        "GET /client/v3/thirdparty/user/im\\.vector\\.protocol\\.sip_virtual",
        404,
        "M_NOT_FOUND",
        "Element looks up a VoIP bridge's users for every DM it opens; no protocols exist",
    ),
)


C = "/_matrix/client"


def unexpected(failures: list[ui.ApiFailure]) -> list[ui.ApiFailure]:
    return [f for f in failures if not any(a.matches(f) for a in EXPECTED)]


async def register_by_api(server: ServerProcess, username: str, display_name: str) -> None:
    """An account that exists before its owner first opens Element (a device-less login)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as client:
        body = {"username": username, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        registered = await client.post(f"{C}/v3/register", json=body)
        assert registered.status_code == 200, registered.text
        token = registered.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        user_id = registered.json()["user_id"]
        named = await client.put(
            f"{C}/v3/profile/{user_id}/displayname",
            json={"displayname": display_name},
            headers=auth,
        )
        assert named.status_code == 200, named.text
        assert (await client.post(f"{C}/v3/logout", headers=auth)).status_code == 200


async def public_room_with_a_picture(server: ServerProcess, picture: bytes) -> None:
    """Carol's public, published room, with a picture in it (unencrypted, so Element shows
    it from the server's thumbnail)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as client:
        body = {"username": "carol", "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        registered = await client.post(f"{C}/v3/register", json=body)
        assert registered.status_code == 200, registered.text
        auth = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        created = await client.post(
            f"{C}/v3/createRoom",
            json={"preset": "public_chat", "visibility": "public", "name": PUBLIC_ROOM},
            headers=auth,
        )
        assert created.status_code == 200, created.text
        room = created.json()["room_id"]
        uploaded = await client.post(
            "/_matrix/media/v3/upload?filename=teapot.png",
            content=picture,
            headers={**auth, "Content-Type": "image/png"},
        )
        assert uploaded.status_code == 200, uploaded.text
        message = {
            "msgtype": "m.image",
            "body": "teapot.png",
            "url": uploaded.json()["content_uri"],
            "info": {"mimetype": "image/png", "w": 640, "h": 480, "size": len(picture)},
        }
        sent = await client.put(
            f"{C}/v3/rooms/{room}/send/m.room.message/t1", json=message, headers=auth
        )
        assert sent.status_code == 200, sent.text


def picture(path: Path, color: str) -> Path:
    Image.new("RGB", (640, 480), color).save(path)
    return path


async def test_element_users_chat_encrypted_and_verify_a_new_session(
    server: ServerProcess, element: str, browser: Browser, tmp_path: Path
) -> None:
    async with ui.people(browser, tmp_path) as cast:
        # Alice registers in Element; Element sets up her cross-signing keys.
        alice = await cast.page("alice")
        await ui.register(alice, element, "alice", PASSWORD)

        # Bob's account exists; he signs in (Element sets up his cross-signing keys), finds
        # Carol's public room under Explore rooms, joins it and sees her picture.
        await register_by_api(server, "bob", BOB_NAME)
        teapot = picture(tmp_path / "teapot.png", "teal")
        await public_room_with_a_picture(server, teapot.read_bytes())
        bob = await cast.page("bob")
        await ui.sign_in(bob, element, "bob", PASSWORD)
        await ui.expect_home(bob)
        await ui.explore_and_join(bob, PUBLIC_ROOM)
        await ui.expect_image_shown(bob, "teapot.png")

        # Alice finds Bob by his name (they now both sit in public rooms or none: people
        # search finds members of public rooms) and starts an encrypted DM, both ways;
        # every device is verified by its owner: no shields.
        await ui.start_dm(alice, BOB_NAME, BOB_ID)
        await ui.send_message(alice, "Hello Bob, this is secret", encrypted=False)
        await ui.accept_dm_invite(bob)
        # Element offers Secure Backup once there is an encrypted room; Bob takes it.
        security_key = await ui.set_up_secure_backup(bob)
        assert len(security_key.split()) == 12, security_key
        await ui.send_message(bob, "Hi Alice, read you")
        for page, text in (
            (bob, "Hello Bob, this is secret"),
            (alice, "Hi Alice, read you"),
            (alice, "Hello Bob, this is secret"),
            (bob, "Hi Alice, read you"),
        ):
            tile = ui.event_tile(page, text)
            await expect(tile).to_be_visible(timeout=ui.STEP_TIMEOUT_MS)
            assert await ui.shield_kind(tile) is None, text
        await cast.snapshot("1-dm")

        # Bob signs in on a second session and writes before verifying it: Alice's Element
        # marks that message "not verified by its owner".
        bob2 = await cast.page("bob-new-session")
        await ui.sign_in(bob2, element, "bob", PASSWORD)
        await ui.skip_device_verification(bob2)
        await ui.open_room(bob2, "alice")
        await ui.send_message(bob2, "Bob on his new laptop")
        unverified = ui.event_tile(alice, "Bob on his new laptop")
        await expect(unverified).to_be_visible(timeout=ui.STEP_TIMEOUT_MS)
        await expect(ui.shield(unverified)).to_have_class(re.compile("_warning"))
        await cast.snapshot("2-unverified")

        # He verifies it from his first session by comparing emoji.
        await ui.verify_session(bob2, bob)
        await cast.snapshot("3-verified")

        # The shield is gone, for Alice and for Bob's first session, once they look again.
        for page in (alice, bob):
            await ui.expect_shield_gone_after_redraw(page, "Bob on his new laptop")

        # The new session got the backup key from the first one and read the history from
        # the server's key backup. Element greys those messages (a backed-up key cannot
        # prove who sent it), but nothing is red and nothing failed to decrypt.
        for text in ("Hello Bob, this is secret", "Hi Alice, read you"):
            tile = ui.event_tile(bob2, text)
            await expect(tile).to_be_visible(timeout=ui.STEP_TIMEOUT_MS)
            assert await ui.shield_kind(tile) in (None, "normal"), text

        # From now on, both ways: nothing from Bob's new session carries a shield, and it
        # reads Alice. (Her message may be grey there: it continues the message key the
        # new session first restored from backup, and Element keeps that copy.)
        await ui.send_message(bob2, "Verified now")
        tile = ui.event_tile(alice, "Verified now")
        await expect(tile).to_be_visible(timeout=ui.STEP_TIMEOUT_MS)
        assert await ui.shield_kind(tile) is None
        await ui.send_message(alice, "Welcome, new laptop")
        for page, shields in ((bob, (None,)), (bob2, (None, "normal"))):
            tile = ui.event_tile(page, "Welcome, new laptop")
            await expect(tile).to_be_visible(timeout=ui.STEP_TIMEOUT_MS)
            assert await ui.shield_kind(tile) in shields
        await cast.snapshot("4-after")

        # A picture in the encrypted DM: Element encrypts it before the upload; Bob's
        # Element downloads the ciphertext and decrypts it.
        await ui.send_file(alice, picture(tmp_path / "sunset.png", "orange"))
        await ui.expect_image_shown(bob, "sunset.png")

        # Bob makes the public room a favourite (a room tag); it stays one after a reload.
        await ui.make_favourite(bob, PUBLIC_ROOM)
        await ui.reload(bob)
        await expect(ui.favourites(bob).filter(has_text=PUBLIC_ROOM)).to_have_count(
            1, timeout=ui.STEP_TIMEOUT_MS
        )

        # His notification settings load (push rules, pushers) with no error.
        notifications = await ui.open_settings(bob, "Notifications")
        await expect(
            notifications.get_by_text("Enable notifications for this account")
        ).to_be_visible(timeout=ui.STEP_TIMEOUT_MS)
        await expect(notifications.get_by_text("error", exact=False)).to_have_count(0)
        await cast.snapshot("5-media-favourite-notifications")
        await ui.close_settings(bob)

        # Settings → Sessions lists both of Bob's sessions as verified; from there he signs
        # the new one out (with his password), and that session finds itself signed out.
        new_session = await ui.device_id(bob2)
        settings = await ui.open_settings(bob, "Sessions")
        current = settings.get_by_test_id("current-session-section")
        await expect(current.get_by_test_id("device-metadata-isVerified")).to_have_text(
            "Verified", timeout=ui.STEP_TIMEOUT_MS
        )
        other = ui.session_tile(settings, new_session)
        await expect(other.get_by_test_id("device-metadata-isVerified")).to_have_text("Verified")
        await cast.snapshot("6-sessions")
        await ui.sign_out_other_sessions(bob, settings, PASSWORD)
        await ui.close_settings(bob)
        await ui.expect_signed_out(bob2)
        await cast.snapshot("7-end")

    wrong = unexpected(cast.record.failures)
    assert not wrong, "unexpected API errors:\n" + "\n".join(map(str, wrong))
