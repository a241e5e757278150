"""`/c/{token}`: one first click per recipient and card, repeats apart, no IP or user agent
stored, and the redirect only to a URL still on the app's registered domains."""

from sqlalchemy import update

from candor.store.models.partners import PartnerDomain
from candor.store.models.registry import metadata
from tests.share.conftest import CARD, Scene, last_card


async def _shared(scene: Scene) -> tuple[str, str]:
    room = await scene.alice.create_room(preset="public_chat", name="Film club")
    await scene.bob.join(room)
    await scene.carol.join(room)
    r = await scene.send(await scene.browser(scene.alice), [room])
    assert r.status_code == 200, r.text
    link = (await last_card(scene.bob, room))["content"]["io.candor.card"]["link"]
    return room, link.removeprefix("http://test.local")


async def test_first_and_repeat_clicks_are_counted_per_recipient(scene: Scene) -> None:
    _, path = await _shared(scene)
    bob = await scene.browser(scene.bob)
    for _ in range(3):
        r = await bob.get(path)
        assert r.status_code == 302
        assert r.headers["location"] == CARD["url"]
    carol = await scene.browser(scene.carol)
    assert (await carol.get(path)).status_code == 302
    counts = await scene.recipients()
    assert counts[scene.bob.user_id].first_click_ts == scene.web.clock.now_ms()
    assert counts[scene.bob.user_id].repeat_clicks == 2
    assert counts[scene.carol.user_id].first_click_ts is not None
    assert counts[scene.carol.user_id].repeat_clicks == 0
    # The sender is no recipient: the link works and counts nothing.
    assert (await (await scene.browser(scene.alice)).get(path)).status_code == 302
    assert scene.alice.user_id not in await scene.recipients()


async def test_a_click_needs_a_login_to_know_the_recipient(scene: Scene) -> None:
    _, path = await _shared(scene)
    r = await scene.web.browser().get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    assert "cdr_ct_" in r.headers["location"]
    assert all(r.first_click_ts is None for r in (await scene.recipients()).values())


async def test_no_ip_address_or_user_agent_is_stored() -> None:
    for table in ("shares", "share_cards", "share_recipients", "share_requests"):
        names = {c.name for c in metadata.tables[table].columns}
        assert names
        assert not any(("ip" in n.split("_")) or "agent" in n or "addr" in n for n in names)


async def test_an_unknown_token_is_a_404_page(scene: Scene) -> None:
    bob = await scene.browser(scene.bob)
    for token in ("cdr_ct_nope", "x", "cdr_ct_" + "a" * 300):
        r = await bob.get(f"/c/{token}")
        assert r.status_code == 404
        assert "text/html" in r.headers["content-type"]


async def test_a_domain_removed_since_the_share_is_refused_at_click_time(scene: Scene) -> None:
    _, path = await _shared(scene)
    async with scene.web.hs.db.write() as conn:
        await conn.execute(
            update(PartnerDomain)
            .where(PartnerDomain.client_id == scene.app.client_id)
            .values(domain="other.example")
        )
    bob = await scene.browser(scene.bob)
    r = await bob.get(path)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "text/html" in r.headers["content-type"]
    assert (await scene.recipients())[scene.bob.user_id].first_click_ts is None
