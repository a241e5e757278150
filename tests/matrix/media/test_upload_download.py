"""Uploads and authenticated downloads through the real app, on SQLite and PostgreSQL:
round trips, the headers a download is served with, limits, quota and bad input."""

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest

from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import (
    CLIENT_MEDIA,
    MEDIA,
    download,
    jpeg,
    media_client,
    mxc_parts,
    png,
    stored_files,
    temporary_files,
    upload,
    upload_raw,
)


async def test_a_png_round_trips_byte_for_byte(alice: MatrixTestClient) -> None:
    data = png(640, 480)
    mxc = await upload(alice, data, "image/png", "holiday.png")

    server, media_id = mxc_parts(mxc)
    assert server == "test.local"
    assert len(media_id) >= 20

    r = await download(alice, mxc)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["content-disposition"] == 'inline; filename="holiday.png"'


async def test_another_user_downloads_with_their_own_token(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    data = jpeg(300, 200)
    mxc = await upload(alice, data, "image/jpeg")

    r = await download(bob, mxc)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-disposition"] == "inline"  # no file name was given


async def test_downloads_need_an_access_token(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    mxc = await upload(alice, b"secret", "text/plain")
    r = await download(http, mxc)
    assert r.status_code == 401
    assert r.json()["errcode"] == "M_MISSING_TOKEN"


async def test_uploads_need_an_access_token(http: httpx.AsyncClient) -> None:
    r = await http.post(f"{MEDIA}/v3/upload", content=b"x")
    assert r.status_code == 401
    assert r.json()["errcode"] == "M_MISSING_TOKEN"


async def test_every_download_is_sandboxed_and_readable_cross_origin(
    alice: MatrixTestClient,
) -> None:
    mxc = await upload(alice, png(10, 10), "image/png")
    r = await download(alice, mxc)

    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox;")
    assert "default-src 'none'" in csp
    assert "script-src 'none'" in csp
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["cache-control"].startswith("private")
    sha = hashlib.sha256(png(10, 10)).hexdigest()
    assert r.headers["etag"] == f'"{sha}"'


@pytest.mark.parametrize(
    ("uploaded_as", "served_as", "disposition"),
    [
        ("text/html", "text/html", "attachment"),
        ("image/svg+xml", "image/svg+xml", "attachment"),
        ("application/javascript", "application/javascript", "attachment"),
        ("application/pdf", "application/pdf", "attachment"),
        ("text/plain", "text/plain", "inline"),
        ("video/mp4", "video/mp4", "inline"),
        ("audio/ogg", "audio/ogg", "inline"),
        (None, "application/octet-stream", "attachment"),
        ("not a type", "application/octet-stream", "attachment"),
    ],
)
async def test_only_the_specs_safe_types_are_inline(
    alice: MatrixTestClient, uploaded_as: str | None, served_as: str, disposition: str
) -> None:
    body = b"<html><script>alert(1)</script></html>"
    mxc = await upload(alice, body, uploaded_as, "file.bin")
    r = await download(alice, mxc)

    assert r.status_code == 200
    assert r.content == body
    # The type as uploaded (text types may gain a charset, as the spec allows).
    assert r.headers["content-type"].split(";")[0] == served_as
    assert r.headers["content-disposition"] == f'{disposition}; filename="file.bin"'
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_file_names_come_back_as_uploaded(alice: MatrixTestClient) -> None:
    mxc = await upload(alice, b"x", "text/plain", "Résumé final.txt")
    r = await download(alice, mxc)
    assert (
        r.headers["content-disposition"] == "inline; filename*=utf-8''R%C3%A9sum%C3%A9%20final.txt"
    )


async def test_the_file_name_in_the_path_replaces_the_uploaded_one(
    alice: MatrixTestClient,
) -> None:
    mxc = await upload(alice, b"x", "text/plain", "original.txt")
    r = await download(alice, mxc, "other name.txt")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'inline; filename="other name.txt"'


async def test_a_range_is_served_for_media_players(alice: MatrixTestClient) -> None:
    data = bytes(range(256)) * 4
    mxc = await upload(alice, data, "video/mp4")
    server, media_id = mxc_parts(mxc)
    r = await alice.http.get(
        f"{CLIENT_MEDIA}/download/{server}/{media_id}",
        headers={**alice.headers, "Range": "bytes=10-19"},
    )
    assert r.status_code == 206
    assert r.content == data[10:20]


async def test_a_streamed_upload_without_length_round_trips(alice: MatrixTestClient) -> None:
    parts = [bytes([i]) * 70_000 for i in range(20)]  # 1.4 MB, over the JSON body limit

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    r = await alice.http.post(
        f"{MEDIA}/v3/upload",
        content=body(),
        headers={**alice.headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    got = await download(alice, r.json()["content_uri"])
    assert got.content == b"".join(parts)


async def test_identical_uploads_share_one_file(
    settings: Settings, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    data = png(64, 64)
    first = await upload(alice, data, "image/png")
    second = await upload(bob, data, "image/png", "copy.png")

    assert first != second
    assert len(stored_files(settings)) == 1
    assert (await download(alice, second)).content == data


async def test_config_names_the_upload_limit(alice: MatrixTestClient) -> None:
    for path in (f"{CLIENT_MEDIA}/config", f"{MEDIA}/v3/config"):
        r = await alice.http.get(path, headers=alice.headers)
        assert r.status_code == 200
        assert r.json() == {"m.upload.size": 52_428_800}


async def test_preflights_on_media_paths_are_answered(http: httpx.AsyncClient) -> None:
    r = await http.options(
        f"{CLIENT_MEDIA}/download/test.local/abc",
        headers={
            "Origin": "https://element.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in r.headers["access-control-allow-headers"]


# --- limits --------------------------------------------------------------------------------


async def test_an_upload_over_the_limit_is_too_large_and_leaves_nothing(settings: Settings) -> None:
    async with media_client(settings, max_upload_bytes=2048) as http:
        alice = await MatrixTestClient.register(http, "alice")
        r = await upload_raw(alice, b"x" * 2049, "text/plain")
        assert r.status_code == 413
        assert r.json()["errcode"] == "M_TOO_LARGE"

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"y" * 1000

        r = await http.post(f"{MEDIA}/v3/upload", content=chunked(), headers=alice.headers)
        assert r.status_code == 413
        assert r.json()["errcode"] == "M_TOO_LARGE"

        assert (await upload_raw(alice, b"z" * 2048, "text/plain")).status_code == 200
        r = await http.get(f"{CLIENT_MEDIA}/config", headers=alice.headers)
        assert r.json() == {"m.upload.size": 2048}
    assert len(stored_files(settings)) == 1
    assert temporary_files(settings) == []


async def test_the_quota_counts_each_accounts_uploads(settings: Settings) -> None:
    async with media_client(settings, quota_bytes_per_user=3000) as http:
        alice = await MatrixTestClient.register(http, "alice")
        bob = await MatrixTestClient.register(http, "bob")
        assert (await upload_raw(alice, b"a" * 2000)).status_code == 200

        r = await upload_raw(alice, b"b" * 1001)
        assert r.status_code == 403
        assert r.json()["errcode"] == "M_FORBIDDEN"
        assert "quota" in r.json()["error"]

        assert (await upload_raw(alice, b"c" * 1000)).status_code == 200  # exactly the quota
        r = await upload_raw(alice, b"d")
        assert r.status_code == 403
        # Another account has its own.
        assert (await upload_raw(bob, b"e" * 3000)).status_code == 200
    assert len(stored_files(settings)) == 3
    assert temporary_files(settings) == []


async def test_a_streamed_upload_past_the_quota_is_refused(settings: Settings) -> None:
    """Without Content-Length the quota is checked once the file is in: still refused."""
    async with media_client(settings, quota_bytes_per_user=1500) as http:
        alice = await MatrixTestClient.register(http, "alice")

        async def body() -> AsyncIterator[bytes]:
            yield b"q" * 1000
            yield b"q" * 1000

        r = await http.post(f"{MEDIA}/v3/upload", content=body(), headers=alice.headers)
        assert r.status_code == 403
        assert r.json()["errcode"] == "M_FORBIDDEN"
    assert stored_files(settings) == []
    assert temporary_files(settings) == []


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "media_id", "status", "errcode"),
    [
        ("test.local", "unknownid", 404, "M_NOT_FOUND"),
        ("other.example", "abc", 404, "M_NOT_FOUND"),
        ("test.local", "a.b", 400, "M_INVALID_PARAM"),
        ("test.local", "x" * 256, 400, "M_INVALID_PARAM"),
        ("test.local", "%2E%2E", 400, "M_INVALID_PARAM"),
        ("bad_server!", "abc", 400, "M_INVALID_PARAM"),
        ("test.local:99999999", "abc", 400, "M_INVALID_PARAM"),
        ("test.local:8448", "abc", 404, "M_NOT_FOUND"),
    ],
)
async def test_bad_or_unknown_mxc_parts_are_client_errors(
    alice: MatrixTestClient, server: str, media_id: str, status: int, errcode: str
) -> None:
    for kind in ("download", "thumbnail"):
        r = await alice.http.get(
            f"{CLIENT_MEDIA}/{kind}/{server}/{media_id}",
            headers=alice.headers,
            params={"width": 32, "height": 32},
        )
        assert r.status_code == status, (kind, r.text)
        assert r.json()["errcode"] == errcode


async def test_bad_file_names_are_refused_and_nothing_is_stored(
    settings: Settings, alice: MatrixTestClient
) -> None:
    for name in ("x" * 256, "line\nbreak"):
        r = await upload_raw(alice, b"data", "text/plain", name)
        assert r.status_code == 400
        assert r.json()["errcode"] == "M_INVALID_PARAM"
    assert stored_files(settings) == []

    mxc = await upload(alice, b"data", "text/plain")
    r = await download(alice, mxc, "a%0Ab")  # a line break in the name to serve it under
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_INVALID_PARAM"


async def test_a_missing_file_is_not_found_not_a_crash(
    settings: Settings, alice: MatrixTestClient
) -> None:
    mxc = await upload(alice, b"soon gone", "text/plain")
    for path in stored_files(settings):
        path.unlink()
    r = await download(alice, mxc)
    assert r.status_code == 404
    assert r.json()["errcode"] == "M_NOT_FOUND"


async def test_an_empty_file_round_trips(alice: MatrixTestClient) -> None:
    mxc = await upload(alice, b"", "text/plain")
    r = await download(alice, mxc)
    assert r.status_code == 200
    assert r.content == b""


async def test_upload_bodies_are_files_not_json(alice: MatrixTestClient) -> None:
    """The JSON body guard leaves uploads alone: NUL bytes, a NUL escape, invalid JSON
    and a body over the JSON limit (1 MiB) all round-trip unchanged."""
    for data, kind in (
        (b'{"a": "\\u0000"}\x00\xff', "application/json"),
        (b"{not json", "application/json"),
        (bytes(range(256)) * 6000, "application/octet-stream"),  # 1.5 MB
    ):
        mxc = await upload(alice, data, kind)
        r = await download(alice, mxc)
        assert r.content == data
        assert r.headers["content-type"] == kind


async def test_json_bodies_elsewhere_keep_their_limit(alice: MatrixTestClient) -> None:
    r = await alice.http.post(
        f"{MEDIA}/v1/create",
        content=b'{"x": "' + b"a" * 1_100_000 + b'"}',
        headers=alice.headers,
    )
    assert r.status_code == 413
    assert r.json()["errcode"] == "M_TOO_LARGE"
