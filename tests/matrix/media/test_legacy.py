"""The deprecated /_matrix/media/v3 endpoints: downloads and thumbnails frozen by default
(anyone holding an mxc:// URI could fetch the file without an account), served only when
the operator opens them; config and preview_url need a token as before."""

import httpx
import pytest

from candor.config import Settings
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.media import MEDIA, media_client, mxc_parts, png, upload

LEGACY_GETS = (
    "/v3/download/{server}/{media_id}",
    "/v3/download/{server}/{media_id}/name.png",
    "/v3/thumbnail/{server}/{media_id}?width=32&height=32",
)


@pytest.mark.parametrize("path", LEGACY_GETS)
async def test_unauthenticated_media_is_frozen_by_default(
    http: httpx.AsyncClient, alice: MatrixTestClient, path: str
) -> None:
    server, media_id = mxc_parts(await upload(alice, png(64, 64), "image/png"))
    url = MEDIA + path.format(server=server, media_id=media_id)

    for headers in ({}, alice.headers):  # a token does not unfreeze them
        r = await http.get(url, headers=headers)
        assert r.status_code == 404
        assert r.json()["errcode"] == "M_NOT_FOUND"
        assert "/_matrix/client/v1/media" in r.json()["error"]


@pytest.mark.parametrize("path", LEGACY_GETS)
async def test_an_operator_can_serve_them(settings: Settings, path: str) -> None:
    async with media_client(settings, legacy_unauthenticated_downloads=True) as http:
        alice = await MatrixTestClient.register(http, "alice")
        data = png(64, 64)
        server, media_id = mxc_parts(await upload(alice, data, "image/png"))
        r = await http.get(MEDIA + path.format(server=server, media_id=media_id))
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"].startswith("sandbox;")
        if "download" in path:
            assert r.content == data
        # Unknown ids and bad parts answer as on the authenticated paths.
        r = await http.get(MEDIA + path.format(server=server, media_id="unknown"))
        assert r.status_code == 404
        r = await http.get(MEDIA + path.format(server=server, media_id="a.b"))
        assert r.status_code == 400


async def test_legacy_config_needs_a_token(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    r = await http.get(f"{MEDIA}/v3/config")
    assert r.status_code == 401
    r = await http.get(f"{MEDIA}/v3/config", headers=alice.headers)
    assert r.status_code == 200
    assert r.json() == {"m.upload.size": 52_428_800}


async def test_older_media_paths_are_unrecognized(
    http: httpx.AsyncClient, alice: MatrixTestClient
) -> None:
    for path in ("/r0/upload", "/v1/upload", "/r0/download/test.local/abc"):
        r = await http.request(
            "POST" if "upload" in path else "GET", MEDIA + path, headers=alice.headers
        )
        assert r.status_code in (404, 405)
        assert r.json()["errcode"] == "M_UNRECOGNIZED"
