"""`/admin/reports`: administrators see the queue without the reported message, read the
message only through a recorded POST, and resolve or dismiss; others are refused."""

from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient, csrf_token_in
from tests.web.conftest import WebEnv


async def reported(alice: MatrixTestClient, bob: MatrixTestClient) -> str:
    room = await alice.create_room(preset="public_chat")
    await bob.join(room)
    event = await alice.send(room, "buy my pills")
    r = await bob.request("POST", f"/rooms/{room}/report/{event}", json={"reason": "spam"})
    assert r.status_code == 200, r.text
    r = await bob.request("POST", f"/users/{alice.user_id}/report", json={"reason": ""})
    assert r.status_code == 200, r.text
    return event


async def admin_browser(web: WebEnv) -> WebTestClient:
    await web.admin("root")
    browser = web.browser()
    assert (await browser.login("root")).status_code == 303
    return browser


async def test_the_queue_reads_recorded_and_closes(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await reported(alice, bob)
    browser = await admin_browser(web)

    page = await browser.get("/admin/reports")
    assert page.status_code == 200
    assert "Report #1: A message" in page.text
    assert "Report #2: A person" in page.text
    assert "“spam”" in page.text
    assert "none given" in page.text
    assert "buy my pills" not in page.text
    token = csrf_token_in(page.text)
    size = await web.hs.tlog.size()

    assert (await browser.post_form("/admin/reports/1/read", {})).status_code == 403
    assert await web.hs.tlog.size() == size
    read = await browser.post_form("/admin/reports/1/read", {"csrf_token": token})
    assert read.status_code == 200
    assert "buy my pills" in read.text
    assert await web.hs.tlog.size() == size + 1
    mine = await web.api.get("/_candor/v1/me/accesses", headers=alice.headers)
    (record,) = [a["record"] for a in mine.json()["accesses"]]
    assert record["action"] == "admin.read_reported_event"

    done = await browser.post_form(
        "/admin/reports/1/resolve", {"csrf_token": token, "note": "warned"}
    )
    assert done.status_code == 303
    gone = await browser.post_form("/admin/reports/2/dismiss", {"csrf_token": token})
    assert gone.status_code == 303
    page = await browser.get("/admin/reports")
    assert "No open report." in page.text
    page = await browser.get("/admin/reports?show=all")
    assert "resolved by" in page.text
    assert "“warned”" in page.text
    assert "dismissed" in page.text


async def test_the_queue_is_refused_to_others(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    await reported(alice, bob)
    browser = web.browser()
    assert (await browser.login(bob.user_id)).status_code == 303
    page = await browser.get("/admin/reports")
    assert page.status_code == 403
    assert "spam" not in page.text
    token = await browser.csrf_token("/")
    r = await browser.post_form("/admin/reports/1/read", {"csrf_token": token})
    assert r.status_code == 403
    assert "buy my pills" not in r.text
