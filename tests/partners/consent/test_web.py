"""`/privacy/grants` in a browser: the request reaches every member's
dashboard, the forms (CSRF-protected) accept, decline, revoke and ask.

On SQLite: pages hold no SQL (an import-linter contract); the services under them run on
both engines in their own tests."""

from html import unescape

import pytest

from candor.wiring import build_services
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient, csrf_token_in
from tests.partners.consent.conftest import Env

pytestmark = pytest.mark.engines("sqlite")

PAGE = "/privacy/grants"


async def _browser(env: Env, who: MatrixTestClient) -> WebTestClient:
    browser = env.browser()
    r = await browser.login(who.user_id.split(":")[0].lstrip("@"))
    assert r.status_code == 303, r.text
    return browser


async def _post(browser: WebTestClient, path: str, **fields: str) -> tuple[int, str]:
    page = await browser.get(PAGE)
    r = await browser.post_form(path, {"csrf_token": csrf_token_in(page.text), **fields})
    return r.status_code, r.headers.get("location", "") or r.text


async def test_the_page_needs_a_login(env: Env) -> None:
    r = await env.browser().get(PAGE)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


async def test_other_members_see_the_request_and_answer_on_the_page(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient, flix: str
) -> None:
    room = await env.room(alice, bob, carol)
    grant_id = (await env.ask(alice, room, flix, days=10)).json()["grant_id"]
    bob_web = await _browser(env, bob)
    page = await bob_web.get(PAGE)
    assert page.status_code == 200
    html = unescape(page.text)
    assert 'href="/privacy/grants"' in html  # in the navigation
    assert "Flix · Film club" in html
    assert "Waiting for answers" in html
    assert "for 10 days" in html
    assert f"{bob.user_id}, {carol.user_id}" in html
    assert f"/privacy/grants/{grant_id}/accept" in html
    assert f"/privacy/grants/{grant_id}/decline" in html

    status, location = await _post(bob_web, f"{PAGE}/{grant_id}/accept", include_history="on")
    assert (status, location) == (303, f"{PAGE}?done=accepted")
    assert "You accepted." in (await bob_web.get(location)).text
    carol_web = await _browser(env, carol)
    status, _ = await _post(carol_web, f"{PAGE}/{grant_id}/accept")
    assert status == 303
    grant = await env.grant(alice, grant_id)
    assert grant["status"] == "live"
    assert {m["user_id"]: m["include_history"] for m in grant["members"]}[bob.user_id]
    html = unescape((await carol_web.get(PAGE)).text)
    assert "Shared" in html
    assert f"/privacy/grants/{grant_id}/accept" not in html

    status, location = await _post(carol_web, f"{PAGE}/{grant_id}/revoke")
    assert (status, location) == (303, f"{PAGE}?done=revoked")
    assert (await env.grant(alice, grant_id))["status"] == "revoked"
    assert f"revoked by {carol.user_id}" in unescape((await carol_web.get(PAGE)).text)


async def test_decline_on_the_page(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, flix: str
) -> None:
    room = await env.room(alice, bob)
    grant_id = (await env.ask(alice, room, flix)).json()["grant_id"]
    bob_web = await _browser(env, bob)
    status, location = await _post(bob_web, f"{PAGE}/{grant_id}/decline")
    assert (status, location) == (303, f"{PAGE}?done=declined")
    assert (await env.grant(alice, grant_id))["status"] == "declined"
    # The status says who declined: the other members learn who, the decliner reads "you".
    alice_web = await _browser(env, alice)
    assert f"Declined by {bob.user_id}" in unescape((await alice_web.get(PAGE)).text)
    assert "Declined by you" in unescape((await bob_web.get(PAGE)).text)
    status, html = await _post(bob_web, f"{PAGE}/{grant_id}/accept")
    assert status == 409
    assert "only a pending request" in unescape(html)


@pytest.mark.parametrize("action", ["accept", "decline", "revoke"])
async def test_answers_need_the_csrf_token(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, flix: str, action: str
) -> None:
    room = await env.room(alice, bob)
    grant_id = (await env.ask(alice, room, flix)).json()["grant_id"]
    bob_web = await _browser(env, bob)
    for token in (None, "forged"):
        fields = {} if token is None else {"csrf_token": token}
        r = await bob_web.post_form(f"{PAGE}/{grant_id}/{action}", fields)
        assert r.status_code == 403
    grant = await env.grant(alice, grant_id)
    assert grant["status"] == "pending"
    assert grant["waiting_for"] == [bob.user_id]


async def test_asking_needs_the_csrf_token(env: Env, alice: MatrixTestClient, flix: str) -> None:
    room = await env.room(alice)
    web = await _browser(env, alice)
    r = await web.post_form(f"{PAGE}/ask", {"room_id": room, "client_id": flix})
    assert r.status_code == 403
    assert await env.counts() == (0, 0)


async def test_ask_on_the_page(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, flix: str
) -> None:
    room = await env.room(alice, bob)
    secret = await alice.create_room(preset="private_chat", name="Secret")
    await env.app(name="No inbox", scopes="profile")
    web = await _browser(env, alice)
    html = unescape((await web.get(PAGE)).text)
    assert f'<option value="{room}">Film club</option>' in html
    assert secret not in html  # encrypted: never offered
    assert f'<option value="{flix}">Flix</option>' in html
    assert "No inbox" not in html

    status, location = await _post(
        web, f"{PAGE}/ask", room_id=room, client_id=flix, days="5", include_history="on"
    )
    assert (status, location) == (303, f"{PAGE}?done=asked")
    [grant] = await env.grants(bob)
    assert grant["status"] == "pending"
    assert grant["days"] == 5
    assert grant["members"][0]["include_history"] is True

    status, html = await _post(web, f"{PAGE}/ask", room_id=room, client_id=flix)
    assert status == 409
    assert "already has a pending or live grant" in unescape(html)
    status, html = await _post(web, f"{PAGE}/ask", room_id=secret, client_id=flix)
    assert status == 400
    assert "end-to-end encrypted" in unescape(html)
    status, _ = await _post(web, f"{PAGE}/ask", room_id=room, client_id=flix, days="91")
    assert status == 400
    assert await env.counts() == (1, 2)


async def test_unknown_action_and_grant(env: Env, alice: MatrixTestClient, flix: str) -> None:
    web = await _browser(env, alice)
    status, html = await _post(web, f"{PAGE}/grant_x/frobnicate")
    assert status == 404
    status, html = await _post(web, f"{PAGE}/grant_x/accept")
    assert status == 404
    assert "No such room or grant" in unescape(html)


def _text(html: str) -> str:
    return " ".join(unescape(html).split())


async def test_nothing_to_share(env: Env, alice: MatrixTestClient) -> None:
    web = await _browser(env, alice)
    html = _text((await web.get(PAGE)).text)
    assert "No requests" in html
    assert "You are in no room that can be shared" in html
    await env.room(alice)
    html = _text((await web.get(PAGE)).text)
    assert "No approved app asks to read conversations" in html
    options = await build_services(env.hs).consent.share_options(alice.user_id)
    assert len(options.rooms) == 1


async def test_asking_where_one_may_not_send_messages_is_refused_on_the_page(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, flix: str
) -> None:
    room = await alice.create_room(
        preset="public_chat",
        name="Announcements",
        power_level_content_override={"events_default": 50},
    )
    await bob.join(room)
    web = await _browser(env, bob)

    status, html = await _post(web, f"{PAGE}/ask", room_id=room, client_id=flix)

    assert status == 403
    assert "You may not send messages in this room" in unescape(html)
    assert await env.counts() == (0, 0)


async def test_the_page_states_whose_messages_are_read_and_the_agreement_version(
    env: Env, alice: MatrixTestClient, bob: MatrixTestClient, flix: str
) -> None:
    room = await env.room(alice, bob)
    assert (await env.ask(alice, room, flix)).status_code == 200
    html = unescape((await (await _browser(env, bob)).get(PAGE)).text)

    assert "never the messages of people" in html
    assert "who are no longer members" in html
    assert "Version 1 of the app" in html
