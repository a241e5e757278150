"""The "Who accessed my data" page, fed by real administrator reads: each
member of the room sees the record in plain language and proved against the signed
checkpoint (or pending until the next one); a non-member sees nothing of it.

On SQLite: pages hold no SQL (an import-linter contract); the services under them run on
both engines in their own tests."""

import re
from dataclasses import dataclass

import pytest

from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient
from tests.web.conftest import WebEnv

pytestmark = pytest.mark.engines("sqlite")

PAGE = "/privacy/accesses"
JUSTIFICATION = "abuse report #12"
PENDING = "Pending — proved with the next checkpoint"
VERIFIED = "✓ Verified"


@dataclass
class Scene:
    web: WebEnv
    admin: MatrixTestClient
    alice: MatrixTestClient
    bob: MatrixTestClient
    carol: MatrixTestClient
    room: str

    async def admin_read(self, justification: str = JUSTIFICATION) -> int:
        r = await self.web.api.get(
            f"/_candor/admin/v1/rooms/{self.room}/messages",
            params={"justification": justification, "limit": 100},
            headers=self.admin.headers,
        )
        assert r.status_code == 200, r.text
        index: int = r.json()["log_index"]
        return index

    async def page_of(self, name: str) -> str:
        browser = self.web.browser()
        r = await browser.login(name)
        assert r.status_code == 303, r.text
        page = await browser.get(PAGE)
        assert page.status_code == 200, page.text
        return page.text


@pytest.fixture
async def scene(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient, carol: MatrixTestClient
) -> Scene:
    admin = await web.admin()
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    for i in range(3):
        await alice.send(room, f"hello {i}")
    return Scene(web, admin, alice, bob, carol, room)


def _text(html: str) -> str:
    """The page's words, tags dropped and whitespace collapsed, as a reader sees them."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_an_anonymous_visitor_is_sent_to_log_in_first(web: WebEnv) -> None:
    browser = web.browser()

    r = await browser.get(PAGE)

    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/privacy/accesses"


async def test_with_no_accesses_the_page_says_so(scene: Scene) -> None:
    text = _text(await scene.page_of("carol"))

    assert "No one has accessed your data" in text
    assert "candor audit verify \\ --server http://test.local \\ --state" in text
    assert "Log test.local/candor-log" in text


async def test_an_admin_read_is_listed_for_each_member_and_verified(scene: Scene) -> None:
    index = await scene.admin_read()
    await scene.web.hs.transparency.make_checkpoint()
    size, _, _ = await scene.web.hs.transparency.latest_tree_head()

    for name in ("alice", "bob"):
        html = await scene.page_of(name)
        text = _text(html)
        assert "An administrator read messages in a conversation without a name" in text
        assert f"Who An administrator, signed in as root ({scene.admin.user_id})" in text
        assert f"The reason they gave {JUSTIFICATION}" in text
        assert re.search(
            r"What they saw \d+ messages and other events in a conversation without a name, "
            r"sent on \d+ \w+ \d{4} (at|between) ",
            text,
        )
        assert scene.room not in text
        assert "People concerned You and 1 other person" in text
        assert f"entry #{index} of the log" in text
        assert VERIFIED in text
        assert PENDING not in text
        entries = "entry" if size == 1 else "entries"
        assert f"included in the signed checkpoint of {size} {entries}" in text
        assert f"Latest signed checkpoint {size} " in text
        assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)
        assert " UTC" in text
        assert "No one has accessed your data" not in text


async def test_a_non_member_does_not_see_the_record(scene: Scene) -> None:
    await scene.admin_read()
    await scene.web.hs.transparency.make_checkpoint()

    text = _text(await scene.page_of("carol"))

    assert JUSTIFICATION not in text
    assert scene.room not in text
    assert "No one has accessed your data" in text


async def test_a_record_newer_than_the_checkpoint_is_pending_until_the_next(
    scene: Scene,
) -> None:
    await scene.admin_read()
    browser = scene.web.browser()
    await browser.login("alice")

    before = _text((await browser.get(PAGE)).text)
    await scene.web.hs.transparency.make_checkpoint()
    after = _text((await browser.get(PAGE)).text)

    assert PENDING in before
    assert VERIFIED not in before
    assert "1 will be proved with the next checkpoint" in before
    assert VERIFIED in after
    assert PENDING not in after


async def test_records_are_newest_first_and_text_is_escaped(scene: Scene) -> None:
    await scene.admin_read("first reason")
    await scene.admin_read('<script>alert("x")</script>')
    await scene.web.hs.transparency.make_checkpoint()

    html = await scene.page_of("bob")

    assert "<script>alert" not in html
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    assert escaped in html
    assert html.index(escaped) < html.index("first reason")
    assert "2 accesses" in _text(html)
    assert html.count(VERIFIED) == 2


async def test_the_page_shows_only_the_logged_in_persons_records(scene: Scene) -> None:
    """The page takes no user parameter: a query string cannot show someone else's records."""
    await scene.admin_read()
    await scene.web.hs.transparency.make_checkpoint()
    browser: WebTestClient = scene.web.browser()
    await browser.login("carol")

    r = await browser.get(f"{PAGE}?user_id={scene.alice.user_id}")

    assert r.status_code == 200
    assert JUSTIFICATION not in r.text
