"""Purging an account's media (`candor user purge-media`): its ids, their thumbnails and
every file no other account's upload still names go; nobody else's media changes."""

import asyncio

import httpx
from typer.testing import CliRunner, Result

from candor.cli.main import app
from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import (
    MEDIA,
    download,
    png,
    stored_files,
    thumbnail,
    upload,
)


async def candor(*args: str) -> Result:
    # The CLI runs its own event loop: give it a thread, beside the app under test.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


def purge_args(settings: Settings, user_id: str) -> list[str]:
    return [
        "user",
        "purge-media",
        user_id,
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        str(settings.database_url),
        "--server-name",
        settings.server_name,
    ]


async def test_purge_removes_an_accounts_media_and_only_its_own_files(
    settings: Settings, http: httpx.AsyncClient, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    own = png(300, 200)
    shared = png(50, 50, (1, 2, 3))
    alice_own = await upload(alice, own, "image/png")
    alice_shared = await upload(alice, shared, "image/png")
    bob_shared = await upload(bob, shared, "image/png")
    bob_own = await upload(bob, b"bob's notes", "text/plain")
    assert (
        await thumbnail(alice, alice_own, width=32, height=32, method="crop")
    ).status_code == 200
    pending = await alice.http.post(f"{MEDIA}/v1/create", headers=alice.headers)
    assert pending.status_code == 200
    assert len(stored_files(settings)) == 4  # own, shared, bob's notes, the thumbnail

    result = await candor(*purge_args(settings, alice.user_id))

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"purged 3 media ids ({len(own) + len(shared)} bytes) of {alice.user_id}; 2 files deleted"
    )
    for mxc in (alice_own, alice_shared, pending.json()["content_uri"]):
        r = await download(bob, mxc, timeout_ms=0)
        assert r.status_code == 404
        assert r.json()["errcode"] == "M_NOT_FOUND"
    assert (await download(bob, bob_shared)).content == shared
    assert (await download(bob, bob_own)).content == b"bob's notes"
    assert len(stored_files(settings)) == 2

    # Purging again finds nothing; the account can upload again.
    again = await candor(*purge_args(settings, alice.user_id))
    assert again.exit_code == 0
    assert again.stdout.startswith("purged 0 media ids (0 bytes)")
    assert (await download(alice, await upload(alice, own, "image/png"))).content == own


async def test_a_bad_user_id_is_a_one_line_error(settings: Settings) -> None:
    result = await candor(*purge_args(settings, "alice"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error:")
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.output
