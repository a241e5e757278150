"""`POST /partner/v1/shares`: an app with `share` proposes, the person confirms on the
launcher page; the app never posts by itself."""

import httpx

from tests.helpers.web import csrf_token_in
from tests.partners.inbox.conftest import token_for
from tests.share.conftest import CARD, Scene, last_card


async def _propose(scene: Scene, token: str, **overrides: object) -> httpx.Response:
    return await scene.env.api.post(
        "/partner/v1/shares",
        json={**CARD, **overrides},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_request_is_confirmed_by_the_person_on_the_launcher(scene: Scene) -> None:
    room = await scene.alice.create_room(preset="public_chat", name="Film club")
    await scene.bob.join(room)
    token = await token_for(scene.env, scene.app, "alice", "profile share")
    r = await _propose(scene, token)
    assert r.status_code == 201, r.text
    body = r.json()
    request_id = body["share_request_id"]
    assert body["confirm_url"] == f"http://test.local/share?request={request_id}"
    # Nothing is posted yet.
    assert await scene.shares() == []

    browser = await scene.browser(scene.alice)
    page = await browser.get(f"/share?request={request_id}")
    assert page.status_code == 200
    assert "The Long Night" in page.text
    fields = {"csrf_token": csrf_token_in(page.text), "request": request_id, "room_0": room}
    r2 = await browser.post_form("/share", fields)
    assert r2.status_code == 200, r2.text
    assert (await last_card(scene.bob, room))["content"]["io.candor.card"]["title"] == CARD["title"]
    # A request is sent once.
    assert (await browser.post_form("/share", fields)).status_code == 404
    assert len(await scene.shares()) == 1


async def test_another_person_cannot_confirm_the_request(scene: Scene) -> None:
    token = await token_for(scene.env, scene.app, "alice", "profile share")
    request_id = (await _propose(scene, token)).json()["share_request_id"]
    bob = await scene.browser(scene.bob)
    assert (await bob.get(f"/share?request={request_id}")).status_code == 404


async def test_requests_are_validated_and_need_the_share_scope(scene: Scene) -> None:
    token = await token_for(scene.env, scene.app, "alice", "profile share")
    r = await _propose(scene, token, url="https://evil.test/x")
    assert r.status_code == 400
    assert r.json()["errcode"] == "CANDOR_INVALID_PARAM"
    assert (await _propose(scene, token, variant="NOT OK")).status_code == 400
    assert (await _propose(scene, token, extra=1)).status_code == 400
    assert (await _propose(scene, "cdr_at_nope")).status_code == 401
    profile_only = await token_for(scene.env, scene.app, "bob", "profile")
    r = await _propose(scene, profile_only)
    assert r.status_code == 403
    assert r.json()["errcode"] == "CANDOR_INSUFFICIENT_SCOPE"
