"""The launcher page and the cards it sends, on both engines."""

from html import unescape

from candor.store.models.share import ShareRecipient
from tests.helpers.web import csrf_token_in
from tests.share.conftest import CARD, Scene, last_card


async def test_the_launcher_needs_a_login_and_comes_back(scene: Scene) -> None:
    path = scene.launcher()
    r = await scene.web.browser().get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    assert "app_id" in r.headers["location"]


async def test_the_page_shows_the_card_and_the_conversations(scene: Scene) -> None:
    room = await scene.alice.create_room(preset="public_chat", name="Film club")
    await scene.bob.join(room)
    browser = await scene.browser(scene.alice)
    page = await browser.get(scene.launcher())
    assert page.status_code == 200
    html = unescape(page.text)
    assert "The Long Night" in html
    assert "A thriller, 2h" in html
    assert "Film club" in html
    assert room in html
    assert "<script" not in html


async def test_cards_reach_each_chosen_room_with_a_candor_link(scene: Scene) -> None:
    club = await scene.alice.create_room(preset="public_chat", name="Film club")
    await scene.bob.join(club)
    await scene.carol.join(club)
    dm = await scene.alice.create_room(preset="public_chat")
    await scene.carol.join(dm)
    browser = await scene.browser(scene.alice)
    r = await scene.send(browser, [club, dm], note="Watch this!")
    assert r.status_code == 200, r.text
    assert "Sent to 2 conversations" in r.text

    event = await last_card(scene.bob, club)
    content = event["content"]
    assert event["sender"] == scene.alice.user_id
    assert content["msgtype"] == "m.text"
    card = content["io.candor.card"]
    assert card["app"] == {"id": scene.app.client_id, "name": "Flix"}
    assert (card["title"], card["description"]) == (CARD["title"], CARD["description"])
    assert card["link"].startswith("http://test.local/c/cdr_ct_")
    assert CARD["url"] not in content["body"]
    assert "Watch this!" in content["body"]
    assert "shared via Flix" in content["body"]
    assert "io.candor.card.unencrypted" not in content
    dm_card = (await last_card(scene.carol, dm))["content"]["io.candor.card"]
    assert dm_card["link"] != card["link"]

    shares = await scene.shares()
    assert len(shares) == 1
    s = shares[0]
    assert (s.interface, s.surface, s.variant, s.url) == ("web", "title_page", "b", CARD["url"])
    assert s.sender == scene.alice.user_id
    assert len(await scene.cards()) == 2
    recipients = await scene.rows(ShareRecipient)
    assert sorted(r.user_id for r in recipients) == sorted(
        [scene.bob.user_id, scene.carol.user_id, scene.carol.user_id]
    )
    # Only hashes of card tokens are stored.
    assert all(not c.token_hash.startswith("cdr_") for c in await scene.cards())


async def test_an_encrypted_room_gets_a_labelled_unencrypted_card(scene: Scene) -> None:
    room = await scene.alice.create_room(
        preset="private_chat",
        initial_state=[
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ],
    )
    await scene.alice.invite(room, scene.bob.user_id)
    await scene.bob.join(room)
    browser = await scene.browser(scene.alice)
    page = await browser.get(scene.launcher())
    assert "the card is sent unencrypted" in page.text
    r = await scene.send(browser, [room])
    assert r.status_code == 200, r.text
    event = await last_card(scene.bob, room)
    assert event["type"] == "m.room.message"
    assert event["content"]["body"].startswith("Shared via Flix — not encrypted:")
    assert event["content"]["io.candor.card.unencrypted"] is True
    assert (await scene.cards())[0].unencrypted_in_encrypted_room is True


async def test_an_off_domain_url_is_refused_at_share_time(scene: Scene) -> None:
    room = await scene.alice.create_room(preset="public_chat")
    browser = await scene.browser(scene.alice)
    for bad in ("https://evil.test/x", "http://flix.example/x", "javascript:alert(1)"):
        r = await browser.get(scene.launcher(url=bad))
        assert r.status_code == 400
        assert "registered domains" in unescape(r.text)
    page = await browser.get(scene.launcher())
    r = await browser.post_form(
        "/share",
        {
            "csrf_token": csrf_token_in(page.text),
            "app_id": scene.app.client_id,
            **CARD,
            "url": "https://evil.test/x",
            "room_0": room,
        },
    )
    assert r.status_code == 400
    assert await scene.shares() == []
    assert await scene.cards() == []


async def test_bad_labels_an_unknown_app_and_a_pending_app_are_refused(scene: Scene) -> None:
    browser = await scene.browser(scene.alice)
    for overrides in ({"variant": "B"}, {"surface": "x" * 33}, {"interface": ""}):
        assert (await browser.get(scene.launcher(**overrides))).status_code == 400
    assert (await browser.get(scene.launcher(app_id="app_nope"))).status_code == 404
    pending = await scene.env.client(approve=False)
    assert (await browser.get(scene.launcher(app_id=pending.client_id))).status_code == 404


async def test_sending_needs_the_csrf_token_and_a_joined_room(scene: Scene) -> None:
    room = await scene.bob.create_room(preset="public_chat")  # alice is not in it
    mine = await scene.alice.create_room(preset="public_chat")
    browser = await scene.browser(scene.alice)
    r = await browser.post_form("/share", {"app_id": scene.app.client_id, **CARD, "room_0": mine})
    assert r.status_code == 403
    r = await scene.send(browser, [room])
    assert r.status_code == 404
    r = await scene.send(browser, [])
    assert r.status_code == 400
    assert await scene.shares() == []
