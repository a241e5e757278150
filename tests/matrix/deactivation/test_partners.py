"""A deactivated person's conversations are no longer served to partner apps (both
engines): their grants end, their app's tokens stop working, and after an erasure even a
new grant with history serves nothing of their words."""

from typing import Any

from candor.transparency.records import AccessAction
from tests.partners.inbox.conftest import Scene, scene  # noqa: F401 - fixtures
from tests.partners.inbox.test_inbox import bodies
from tests.partners.oauth.conftest import env  # noqa: F401 - fixtures
from tests.web.conftest import settings, web  # noqa: F401 - fixtures

PASSWORD = "correct horse"


def password_auth(user_id: str) -> dict[str, Any]:
    return {"type": "m.login.password", "user": user_id, "password": PASSWORD}


async def test_an_erased_member_ends_the_grant_and_no_new_grant_serves_her_words(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    grant_id = await scene.grant(history=True)
    await scene.carol.send(scene.room, "carol's secret plan")
    await scene.bob.send(scene.room, "bob's plain news")
    first = await scene.get(f"/rooms/{scene.room}/messages")
    assert first.status_code == 200, first.text
    assert "carol's secret plan" in bodies(first.json())

    r = await scene.carol.request(
        "POST",
        "/account/deactivate",
        json={"auth": password_auth(scene.carol.user_id), "erase": True},
    )

    assert r.status_code == 200, r.text
    after = await scene.get(f"/rooms/{scene.room}/messages")
    assert after.status_code == 404
    grants = await scene.api.get("/_candor/v1/grants", headers=scene.bob.headers)
    assert grants.status_code == 200, grants.text
    (ended,) = [g for g in grants.json()["grants"] if g["grant_id"] == grant_id]
    assert ended["status"] in ("revoked", "voided")
    # The remaining members share the room again, history included: her words are gone.
    asked = await scene.api.post(
        f"/_candor/v1/rooms/{scene.room}/grants",
        json={"client_id": scene.app.client_id, "include_history": True},
        headers=scene.alice.headers,
    )
    assert asked.status_code == 200, asked.text
    accepted = await scene.api.post(
        f"/_candor/v1/grants/{asked.json()['grant_id']}/accept",
        json={"include_history": True},
        headers=scene.bob.headers,
    )
    assert accepted.status_code == 200, accepted.text
    again = await scene.get(f"/rooms/{scene.room}/messages")
    assert again.status_code == 200, again.text
    assert "bob's plain news" in bodies(again.json())
    assert "carol's secret plan" not in again.text
    # Her records: the erasure, and the new read, which names her (her leave is in it).
    actions = [r.record["action"] for r in await scene.records(scene.carol)]
    assert actions[:2] == [AccessAction.PARTNER_READ_MESSAGES.value, "account.erased"]


async def test_a_deactivated_person_s_app_tokens_stop_working(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    assert (await scene.get("/rooms")).status_code == 200

    r = await scene.alice.request(
        "POST", "/account/deactivate", json={"auth": password_auth(scene.alice.user_id)}
    )

    assert r.status_code == 200, r.text
    refused = await scene.get("/rooms")
    assert refused.status_code == 401
