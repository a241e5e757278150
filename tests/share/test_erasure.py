"""Erasure and the share platform (both engines): after `account/deactivate` with `erase`,
no share, click or report row names the person, and every count is what it was."""

from sqlalchemy import func, select

from candor.store.models.share import Share, ShareEvent, ShareRecipient
from tests.share.conftest import Scene, last_card

PASSWORD = "correct horse"


async def test_an_erased_person_s_shares_and_clicks_name_nobody_and_count_the_same(
    scene: Scene,
) -> None:
    room = await scene.alice.create_room(preset="public_chat", name="Film club")
    await scene.bob.join(room)
    await scene.carol.join(room)
    r = await scene.send(await scene.browser(scene.bob), [room])  # bob shares
    assert r.status_code == 200, r.text
    link = (await last_card(scene.alice, room))["content"]["io.candor.card"]["link"]
    path = link.removeprefix("http://test.local")
    for clicker in (scene.carol, scene.alice):
        assert (await (await scene.browser(clicker)).get(path)).status_code == 302
    bob_browser = await scene.browser(scene.bob)
    assert (await bob_browser.get(path)).status_code == 302  # the sender: counts nothing

    async def people_per_kind() -> list[tuple[int, int]]:
        async with scene.web.hs.db.read() as conn:
            rows = await conn.execute(
                select(ShareEvent.kind, func.count(func.distinct(ShareEvent.person)))
                .group_by(ShareEvent.kind)
                .order_by(ShareEvent.kind)
            )
            return [(int(k), int(n)) for k, n in rows]

    before = await people_per_kind()
    for who in (scene.bob, scene.carol):
        r = await who.request(
            "POST",
            "/account/deactivate",
            json={
                "auth": {"type": "m.login.password", "user": who.user_id, "password": PASSWORD},
                "erase": True,
            },
        )
        assert r.status_code == 200, r.text

    erased = (scene.bob.user_id, scene.carol.user_id)
    senders = [s.sender for s in await scene.shares()]
    clickers = list(await scene.recipients())
    persons = [e.person for e in await scene.rows(ShareEvent)]
    for names in (senders, clickers, persons):
        assert names
        assert not set(names) & set(erased), names
    assert scene.alice.user_id in clickers  # not erased: still hers
    assert all(s.startswith("erased:") for s in senders)
    # One pseudonym per person: the sender's rows agree, and the counts are unchanged.
    assert len({e.person for e in await scene.rows(ShareEvent) if e.kind == ShareEvent.SEND}) == 1
    assert await people_per_kind() == before
    assert len(await scene.rows(Share)) == 1
    assert len(await scene.rows(ShareRecipient)) == 2
