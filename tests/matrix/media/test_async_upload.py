"""POST /_matrix/media/v1/create and PUT /_matrix/media/v3/upload/{serverName}/{mediaId}:
an id first, its content later, by its creator, once; downloads wait for it."""

import asyncio
import time

import httpx
import pytest

from candor.config import Settings
from candor.core.clock import FakeClock
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import (
    MEDIA,
    download,
    media_client,
    mxc_parts,
    png,
    stored_files,
    temporary_files,
    thumbnail,
)

DAY_MS = 86_400_000


async def create(client: MatrixTestClient) -> httpx.Response:
    return await client.http.post(f"{MEDIA}/v1/create", headers=client.headers)


async def put(
    client: MatrixTestClient,
    mxc: str,
    data: bytes,
    content_type: str = "image/png",
    filename: str | None = None,
) -> httpx.Response:
    server, media_id = mxc_parts(mxc)
    params = {"filename": filename} if filename else {}
    return await client.http.put(
        f"{MEDIA}/v3/upload/{server}/{media_id}",
        content=data,
        headers={**client.headers, "Content-Type": content_type},
        params=params,
    )


async def test_create_then_upload_then_download(alice: MatrixTestClient) -> None:
    before = int(time.time() * 1000)
    r = await create(alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"content_uri", "unused_expires_at"}
    mxc = body["content_uri"]
    assert mxc.startswith("mxc://test.local/")
    assert before + DAY_MS <= body["unused_expires_at"] <= int(time.time() * 1000) + DAY_MS

    data = png(120, 80)
    r = await put(alice, mxc, data, filename="later.png")
    assert r.status_code == 200
    assert r.json() == {}

    got = await download(alice, mxc)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"] == 'inline; filename="later.png"'
    assert (await thumbnail(alice, mxc, width=32, height=32, method="crop")).status_code == 200


async def test_an_id_is_filled_once(settings: Settings, alice: MatrixTestClient) -> None:
    mxc = (await create(alice)).json()["content_uri"]
    first = png(10, 10)
    assert (await put(alice, mxc, first)).status_code == 200

    r = await put(alice, mxc, png(20, 20))
    assert r.status_code == 409
    assert r.json()["errcode"] == "M_CANNOT_OVERWRITE_MEDIA"
    assert (await download(alice, mxc)).content == first
    assert len(stored_files(settings)) == 1
    assert temporary_files(settings) == []


async def test_only_the_creator_may_upload(alice: MatrixTestClient, bob: MatrixTestClient) -> None:
    mxc = (await create(alice)).json()["content_uri"]
    r = await put(bob, mxc, png(10, 10))
    assert r.status_code == 403
    assert r.json()["errcode"] == "M_FORBIDDEN"
    assert (await put(alice, mxc, png(10, 10))).status_code == 200


async def test_an_id_from_a_direct_upload_cannot_be_overwritten(alice: MatrixTestClient) -> None:
    r = await alice.http.post(
        f"{MEDIA}/v3/upload", content=b"x", headers={**alice.headers, "Content-Type": "text/plain"}
    )
    mxc = r.json()["content_uri"]
    r = await put(alice, mxc, b"y")
    assert r.status_code == 409
    assert r.json()["errcode"] == "M_CANNOT_OVERWRITE_MEDIA"


@pytest.mark.parametrize(
    ("server", "media_id", "status", "errcode"),
    [
        ("test.local", "neverCreated", 404, "M_NOT_FOUND"),
        ("other.example", "abc", 404, "M_NOT_FOUND"),
        ("test.local", "a.b", 400, "M_INVALID_PARAM"),
        ("bad server", "abc", 400, "M_INVALID_PARAM"),
    ],
)
async def test_uploading_to_an_unknown_or_bad_id(
    alice: MatrixTestClient, server: str, media_id: str, status: int, errcode: str
) -> None:
    r = await put(alice, f"mxc://{server}/{media_id}", b"data")
    assert r.status_code == status
    assert r.json()["errcode"] == errcode


async def test_a_download_before_the_upload_is_not_yet_uploaded(alice: MatrixTestClient) -> None:
    mxc = (await create(alice)).json()["content_uri"]
    r = await download(alice, mxc, timeout_ms=0)
    assert r.status_code == 504
    assert r.json()["errcode"] == "M_NOT_YET_UPLOADED"
    r = await thumbnail(alice, mxc, width=32, height=32, timeout_ms=50)
    assert r.status_code == 504
    assert r.json()["errcode"] == "M_NOT_YET_UPLOADED"


async def test_a_waiting_download_gets_the_content_when_it_arrives(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    mxc = (await create(alice)).json()["content_uri"]
    data = png(33, 33)
    started = time.monotonic()
    waiting = asyncio.create_task(download(bob, mxc, timeout_ms=15_000))
    assert (await put(alice, mxc, data)).status_code == 200
    r = await waiting
    assert r.status_code == 200
    assert r.content == data
    assert time.monotonic() - started < 10


async def test_the_pending_ids_of_an_account_are_limited(settings: Settings) -> None:
    clock = FakeClock()
    async with media_client(settings, clock, max_pending_uploads=2) as http:
        alice = await MatrixTestClient.register(http, "alice")
        bob = await MatrixTestClient.register(http, "bob")
        first = (await create(alice)).json()["content_uri"]
        clock.advance(60)
        assert (await create(alice)).status_code == 200

        r = await create(alice)
        assert r.status_code == 429
        assert r.json()["errcode"] == "M_LIMIT_EXCEEDED"
        # The soonest expiry frees a slot: the first id's, a day after it was made.
        assert r.json()["retry_after_ms"] == DAY_MS - 60_000
        assert (await create(bob)).status_code == 200  # per account

        assert (await put(alice, first, b"done", "text/plain")).status_code == 200
        assert (await create(alice)).status_code == 200


async def test_an_unused_id_expires(settings: Settings) -> None:
    clock = FakeClock()
    async with media_client(settings, clock, max_pending_uploads=1) as http:
        alice = await MatrixTestClient.register(http, "alice")
        body = (await create(alice)).json()
        assert body["unused_expires_at"] == clock.now_ms() + DAY_MS
        mxc = body["content_uri"]

        clock.advance(DAY_MS / 1000)
        r = await put(alice, mxc, b"late", "text/plain")
        assert r.status_code == 404
        assert r.json()["errcode"] == "M_NOT_FOUND"
        r = await download(alice, mxc, timeout_ms=0)
        assert r.status_code == 404
        assert (await create(alice)).status_code == 200  # the expired one no longer counts


async def test_the_quota_applies_to_uploads_into_created_ids(settings: Settings) -> None:
    async with media_client(settings, quota_bytes_per_user=1500) as http:
        alice = await MatrixTestClient.register(http, "alice")
        mxc = (await create(alice)).json()["content_uri"]
        r = await put(alice, mxc, b"z" * 1501, "text/plain")
        assert r.status_code == 403
        assert r.json()["errcode"] == "M_FORBIDDEN"
        # Refused, not spent: the id can still be filled within the quota.
        assert (await put(alice, mxc, b"z" * 1500, "text/plain")).status_code == 200
    assert len(stored_files(settings)) == 1
