"""The "Who accessed my data" page with every kind of access the log records, made through
the real APIs: a partner app lists the shared rooms, reads messages and the profile; an
administrator reads the room and lists accounts and rooms. The page names the app (linking
its published agreement), the room, the consent and its members, and says what was seen,
with no internal code anywhere in its text; long histories are paged.

On SQLite, with one PostgreSQL smoke test (tests/conftest.py): the page holds no SQL; the
lookups under it run on both engines in that smoke test and in their own modules.
"""

import re

import pytest

from candor.transparency.records import AccessAction
from candor.web.routes import privacy
from tests.partners.inbox.conftest import Scene, scene  # noqa: F401 - the fixture
from tests.partners.oauth.conftest import env  # noqa: F401 - the fixture scene needs

pytestmark = pytest.mark.engines("sqlite")

PAGE = "/privacy/accesses"
ADMIN = "/_candor/admin/v1"
WHY = "abuse report #12"
# What a person must never have to read (the list, and ids of any kind).
# Every kind a person can still sign in to see: an erasure's record concerns an account that
# can no longer sign in (tests/matrix/deactivation covers it).
READABLE = {a.value for a in AccessAction} - {AccessAction.ACCOUNT_ERASED.value}
INTERNAL = re.compile(r"partner\.|admin\.|Admin\.|grant_|!\w+:|\['|\[&#39;")


def text_of(html: str) -> str:
    """The page's words, tags dropped and whitespace collapsed, as a reader sees them."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def page_of(at: Scene, name: str, query: str = "") -> str:
    browser = at.env.web.browser()
    assert (await browser.login(name)).status_code == 303
    r = await browser.get(PAGE + query)
    assert r.status_code == 200, r.text
    return r.text


async def every_kind(at: Scene) -> None:
    """One access of each kind the log can hold, each through its real endpoint."""
    await at.grant()
    await at.bob.send(at.room, "after the grant")
    for path in ("/rooms", f"/rooms/{at.room}/messages", "/me"):
        assert (await at.get(path)).status_code == 200
    admin = await at.env.web.admin()
    for path in (f"/rooms/{at.room}/messages", "/users", "/rooms"):
        r = await at.api.get(ADMIN + path, params={"justification": WHY}, headers=admin.headers)
        assert r.status_code == 200, r.text
    # Bob reports a message of Alice's; an administrator reads it from the queue and looks
    # up Alice's sessions.
    reported = await at.alice.send(at.room, "a message someone reports")
    r = await at.api.post(
        f"/_matrix/client/v3/rooms/{at.room}/report/{reported}",
        json={"reason": "spam"},
        headers=at.bob.headers,
    )
    assert r.status_code == 200, r.text
    queue = await at.api.get(ADMIN + "/reports", headers=admin.headers)
    report_id = queue.json()["reports"][0]["report_id"]
    r = await at.api.get(ADMIN + f"/reports/{report_id}/event", headers=admin.headers)
    assert r.status_code == 200, r.text
    r = await at.api.get(
        f"/_matrix/client/v3/admin/whois/{at.alice.user_id}",
        params={"justification": WHY},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    await at.env.web.hs.transparency.make_checkpoint()
    actions = {r.record["action"] for r in await at.records()}
    assert actions == READABLE, "a kind is not exercised here"


@pytest.mark.engines("sqlite", "postgresql")
async def test_every_kind_in_plain_words_with_names_not_ids(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    await every_kind(scene)

    html = await page_of(scene, "alice")
    text = text_of(html)

    app = "StreamFlix"
    assert f'<a href="/partners#app-{scene.app.client_id}">{app}</a>' in html
    assert f"{app} saw which conversations are shared with it" in text
    assert f"{app} read messages in “film club”" in text
    assert f"{app} read your profile" in text
    assert "Your display name and user id" in text
    assert "The consent to share “film club” (you, bob and carol)" in text
    assert re.search(r"1 message in “film club”, sent on \d+ \w+ \d{4} at \d\d:\d\d UTC", text)
    assert "An administrator read messages in “film club”" in text
    assert re.search(r"\d+ messages and other events in “film club”, sent on \d+ \w+ \d{4}", text)
    assert "An administrator looked at the list of accounts" in text
    assert re.search(r"A list of \d+ accounts including yours", text)
    assert "An administrator looked at the list of rooms" in text
    assert f"The reason they gave {WHY}" in text
    assert "An administrator read a reported message in “film club”" in text
    assert "An administrator looked up your sessions" in text
    assert text.count("✓ Verified") == 8
    assert "candor audit verify \\ --server http://test.local \\ --state candor-audit.json" in text
    assert not INTERNAL.search(text), INTERNAL.findall(text)
    assert scene.room not in text
    assert scene.app.client_id not in text
    assert "Older records" not in text
    assert "Newer records" not in text


async def test_a_bystander_in_the_user_list_sees_only_that(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    """dave is in no shared room: only the account list names him."""
    await every_kind(scene)
    await scene.env.web.matrix_user("dave")
    admin = await scene.env.web.admin("root2")
    r = await scene.api.get(ADMIN + "/users", params={"justification": WHY}, headers=admin.headers)
    assert r.status_code == 200

    text = text_of(await page_of(scene, "dave"))

    assert "An administrator looked at the list of accounts" in text
    assert "film club" not in text
    assert "StreamFlix" not in text
    assert not INTERNAL.search(text)


async def test_many_records_are_paged_newest_first(
    scene: Scene,  # noqa: F811 - the imported fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert privacy.PAGE_LIMIT == 50
    monkeypatch.setattr(privacy, "PAGE_LIMIT", 2)
    admin = await scene.env.web.admin()
    for i in range(5):
        r = await scene.api.get(
            ADMIN + "/users", params={"justification": f"reason {i}"}, headers=admin.headers
        )
        assert r.status_code == 200
    browser = scene.env.web.browser()
    await browser.login("alice")

    async def reasons(path: str) -> tuple[list[str], str | None, str | None]:
        html = (await browser.get(path)).text
        newer = re.search(r'href="([^"]+)" rel="prev"', html)
        older = re.search(r'href="([^"]+)" rel="next"', html)
        return (
            re.findall(r"reason \d", text_of(html)),
            newer and newer[1].replace("&amp;", "&"),
            older and older[1].replace("&amp;", "&"),
        )

    first, newer, older = await reasons(PAGE)
    assert (first, newer) == (["reason 4", "reason 3"], None)
    assert older is not None
    second, back, older2 = await reasons(older)
    assert second == ["reason 2", "reason 1"]
    assert back is not None
    assert older2 is not None
    third, back2, last = await reasons(older2)
    assert (third, last) == (["reason 0"], None)
    assert (await reasons(back))[0] == first
    assert back2 is not None
    assert (await reasons(back2))[0] == ["reason 2", "reason 1"]


@pytest.mark.parametrize("query", ["?before=-1", "?before=abc", "?after=99999999999999999999"])
async def test_a_bad_page_parameter_is_a_readable_refusal(
    scene: Scene,  # noqa: F811 - the imported fixture
    query: str,
) -> None:
    browser = scene.env.web.browser()
    await browser.login("alice")

    r = await browser.get(PAGE + query)

    assert r.status_code == 400
    assert "text/html" in r.headers["content-type"]


async def test_the_json_api_still_lists_every_record_with_its_code(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    """The page words records; the API keeps them as stored, for anyone who checks."""
    await every_kind(scene)

    r = await scene.api.get("/_candor/v1/me/accesses", headers=scene.alice.headers)

    assert {a["record"]["action"] for a in r.json()["accesses"]} == READABLE


async def test_before_wins_over_after(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    await every_kind(scene)
    newest = (await scene.records())[0].index

    text = text_of(await page_of(scene, "alice", f"?before={newest}&after=0"))

    # Every record but the newest (`before` is exclusive).
    assert text.count("✓ Verified") == len(await scene.records()) - 1
    assert "Newer records" in text
