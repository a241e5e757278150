"""/versions: the spec versions and the unstable features Candor implements, no more.

Element offers to set up cross-signing and secret storage only when the server names
`org.matrix.e2e_cross_signing`; every feature named here makes clients call endpoints that
must exist, so the list is exact.
"""

import httpx
import pytest

pytestmark = pytest.mark.engines("sqlite")


async def test_versions_name_the_spec_versions_and_cross_signing(http: httpx.AsyncClient) -> None:
    r = await http.get("/_matrix/client/versions")
    assert r.status_code == 200
    body = r.json()
    assert {"v1.1", "v1.11"} <= set(body["versions"])
    assert body["unstable_features"] == {"org.matrix.e2e_cross_signing": True}
