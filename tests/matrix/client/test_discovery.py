"""`/.well-known/matrix/client` names the configured public URL, whatever Host a request
claims, needs no token, and any origin may read it (Element reads it before login)."""

import httpx
import pytest

pytestmark = pytest.mark.engines("sqlite")


async def test_the_well_known_names_the_public_base_url(http: httpx.AsyncClient) -> None:
    for host in ("test.local", "evil.example"):
        r = await http.get(
            "/.well-known/matrix/client", headers={"Host": host, "Origin": "https://element.io"}
        )
        assert r.status_code == 200
        assert r.json() == {"m.homeserver": {"base_url": "http://test.local"}}
        assert r.headers["access-control-allow-origin"] == "*"
