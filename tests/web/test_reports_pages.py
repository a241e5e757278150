"""The report pages: the portal's reports, downloads, webhook form and
deliveries (owner only, CSRF, bad URLs refused with nothing changed), and the privacy
dashboard's "Shares and reports" for shares really sent through the launcher.

On SQLite: pages hold no SQL (an import-linter contract); the services under them run on
both engines in their own tests."""

import csv
import io
import re
from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from candor.core.canonical_json import decode_dict
from candor.partners.apps.service import App
from candor.reports import delivery_repository as deliveries
from candor.reports.service import StoredReport
from candor.reports.sign import verify
from candor.reports.webhook_secrets import unseal
from candor.store.models.partners import PartnerApp
from candor.store.models.share import ShareEvent
from candor.wiring import build_delivery_worker, build_services
from tests.helpers.matrix import MatrixTestClient
from tests.helpers.web import WebTestClient, csrf_token_in
from tests.partners.oauth.conftest import env  # noqa: F401 - fixture
from tests.reports.conftest import Event, load_events
from tests.share.conftest import CARD, Scene, last_card, scene  # noqa: F401 - fixture
from tests.web.conftest import WebEnv
from tests.web.test_portal_agreement import logged_in, owned_app

pytestmark = pytest.mark.engines("sqlite")

DAY = "2023-11-14"  # the web fixture's FakeClock starts on this UTC day
SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def reports_path(app: App) -> str:
    return f"/partners/portal/apps/{app.client_id}/reports"


def webhook_path(app: App) -> str:
    return f"/partners/portal/apps/{app.client_id}/webhook"


async def report_for(web: WebEnv, app: App) -> StoredReport:
    """A report for the 14 days up to yesterday: one released cell, one suppressed."""
    people = [f"@p{i}:test.local" for i in range(10)]
    await load_events(
        web.hs,
        app.client_id,
        [Event("2023-11-10", "web", "player", "a", ShareEvent.SEND, p, 2) for p in people]
        + [Event("2023-11-11", "ios", "detail", "b", ShareEvent.SEND, "@p0:test.local", 1)],
    )
    return await build_services(web.hs).reports.produce(app.client_id, date(2023, 11, 13))


async def webhook_row(web: WebEnv, app: App) -> tuple[str | None, str | None]:
    async with web.hs.db.read() as conn:
        row = (
            await conn.execute(
                select(PartnerApp.webhook_url, PartnerApp.webhook_secret_sealed).where(
                    PartnerApp.client_id == app.client_id
                )
            )
        ).one()
    return row.webhook_url, row.webhook_secret_sealed


async def test_the_owner_sees_the_reports_and_downloads_every_format(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    app = await owned_app(web, alice.user_id)
    stored = await report_for(web, app)
    browser = await logged_in(web, alice)

    portal = await browser.get("/partners/portal")
    assert reports_path(app) in portal.text
    page = await browser.get(reports_path(app))
    assert page.status_code == 200, page.text
    html = unescape(page.text)
    assert "2023-10-31 to 2023-11-13" in html
    assert "k_threshold" in html
    assert "2 (1 suppressed)" in html
    for fmt in ("json", "sig", "csv", "html", "pdf"):
        assert f"/partners/portal/reports/{stored.report_id}.{fmt}" in html

    base = f"/partners/portal/reports/{stored.report_id}"
    r = await browser.get(base + ".json")
    assert r.status_code == 200
    assert r.content == stored.body
    assert r.headers["content-disposition"] == f'attachment; filename="{stored.report_id}.json"'
    sig = await browser.get(base + ".sig")
    assert sig.status_code == 200
    verify(decode_dict(r.content), decode_dict(sig.content), web.hs.transparency.signer.verifier())
    rows = list(csv.DictReader(io.StringIO((await browser.get(base + ".csv")).text)))
    assert [(x["day"], x["sends"], x["recipients"]) for x in rows] == [
        ("2023-11-10", "10", "20"),
        ("2023-11-11", "", ""),
    ]
    page_file = await browser.get(base + ".html")
    assert page_file.headers["content-type"].startswith("text/html")
    assert "script-src" not in page_file.headers["content-security-policy"]
    assert "Flix" in page_file.text
    pdf = await browser.get(base + ".pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert (await browser.get(base + ".exe")).status_code == 404


async def test_nobody_else_sees_an_apps_reports(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    app = await owned_app(web, alice.user_id)
    stored = await report_for(web, app)
    file_path = f"/partners/portal/reports/{stored.report_id}.json"

    anonymous = web.browser()
    for path in (reports_path(app), file_path):
        r = await anonymous.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")

    other = await logged_in(web, bob)
    r = await other.get(reports_path(app))
    assert r.status_code == 403
    assert stored.report_id not in r.text
    assert (await other.get(file_path)).status_code == 404
    assert (await other.get("/partners/portal/apps/app_unknown/reports")).status_code == 404
    assert (await other.get("/partners/portal/reports/rpt_unknown.json")).status_code == 404


async def post_webhook(browser: WebTestClient, app: App, url: str) -> tuple[str, dict[str, str]]:
    token = csrf_token_in((await browser.get(reports_path(app))).text)
    return webhook_path(app), {"csrf_token": token, "webhook_url": url}


async def test_saving_a_webhook_shows_its_secret_once(web: WebEnv, alice: MatrixTestClient) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, alice)
    posted = await browser.post_form(
        *await post_webhook(browser, app, "https://hooks.flix.example/c")
    )
    # Post/redirect/get: the POST's answer carries no secret; the page it leads to does.
    assert posted.status_code == 303, posted.text
    assert "whsec_" not in posted.text
    assert posted.headers["location"] == reports_path(app) + "?saved=1"
    r = await browser.get(posted.headers["location"])
    assert r.status_code == 200, r.text
    secrets = SECRET_RE.findall(r.text)
    assert len(secrets) == 1
    url, sealed = await webhook_row(web, app)
    assert url == "https://hooks.flix.example/c"
    assert sealed is not None
    assert secrets[0] not in sealed
    assert unseal(sealed, web.hs.token_key) == secrets[0]

    # A reload of that page makes no new secret and shows this one no more.
    reloaded = await browser.get(posted.headers["location"])
    assert "whsec_" not in reloaded.text
    assert "shown once" in reloaded.text
    assert await webhook_row(web, app) == (url, sealed)
    again = await browser.get(reports_path(app))
    assert "whsec_" not in again.text
    assert 'value="https://hooks.flix.example/c"' in again.text

    cleared = await browser.post_form(*await post_webhook(browser, app, ""))
    assert cleared.status_code == 303
    cleared_page = await browser.get(cleared.headers["location"])
    assert "Webhook removed" in cleared_page.text
    assert await webhook_row(web, app) == (None, None)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.flix.example/c",
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://[::ffff:192.168.0.1]/hook",
    ],
)
async def test_a_bad_webhook_url_gets_a_400_page_and_changes_nothing(
    web: WebEnv, alice: MatrixTestClient, url: str
) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, alice)
    await browser.post_form(*await post_webhook(browser, app, "https://hooks.flix.example/c"))
    before = await webhook_row(web, app)
    r = await browser.post_form(*await post_webhook(browser, app, url))
    assert r.status_code == 400
    assert "https" in unescape(r.text)
    assert "whsec_" not in r.text
    assert await webhook_row(web, app) == before


async def test_a_webhook_form_without_csrf_or_from_another_user_changes_nothing(
    web: WebEnv, alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, alice)
    r = await browser.post_form(webhook_path(app), {"webhook_url": "https://hooks.flix.example/"})
    assert r.status_code == 403
    other = await logged_in(web, bob)
    token = csrf_token_in((await other.get("/partners/portal")).text)
    r = await other.post_form(
        webhook_path(app), {"csrf_token": token, "webhook_url": "https://evil.example/"}
    )
    assert r.status_code == 403
    assert await webhook_row(web, app) == (None, None)


async def test_deliveries_show_every_attempt(web: WebEnv, alice: MatrixTestClient) -> None:
    app = await owned_app(web, alice.user_id)
    stored = await report_for(web, app)
    async with web.hs.db.write() as conn:
        await deliveries.enqueue(
            conn,
            delivery_id="msg_portal_test",
            report_id=stored.report_id,
            client_id=app.client_id,
            url="https://hooks.flix.example/c",
            now_ms=web.clock.now_ms(),
        )
        for attempt, code, error, status in (
            (1, None, "connection failed", deliveries.PENDING),
            (2, 503, None, deliveries.PENDING),
            (3, 204, None, deliveries.DELIVERED),
        ):
            assert await deliveries.record_attempt(
                conn,
                delivery_id="msg_portal_test",
                attempt=attempt,
                ts=web.clock.now_ms() + attempt * 1000,
                url="https://hooks.flix.example/c",
                status_code=code,
                error=error,
                duration_ms=attempt * 111,
                status=status,
                next_attempt_ts=web.clock.now_ms(),
            )
    browser = await logged_in(web, alice)
    html = unescape((await browser.get(reports_path(app))).text)
    assert "msg_portal_test" in html
    assert f"{stored.report_id}</code>: delivered" in html
    for text in ("connection failed", "HTTP 503", "HTTP 204", "111 ms", "222 ms", "333 ms"):
        assert text in html
    assert html.index("connection failed") < html.index("HTTP 503") < html.index("HTTP 204")


async def test_a_failed_delivery_shows_a_generic_reason_not_the_exception(
    web: WebEnv, alice: MatrixTestClient
) -> None:
    """A partner whose DNS points inside the operator's network learns "connection failed",
    not what the server found there (issue 13 item 5)."""
    app = await owned_app(web, alice.user_id)
    stored = await report_for(web, app)
    browser = await logged_in(web, alice)
    r = await browser.post_form(*await post_webhook(browser, app, "https://hooks.flix.example/c"))
    assert r.status_code == 303
    async with web.hs.db.write() as conn:
        await deliveries.enqueue(
            conn,
            delivery_id="msg_generic",
            report_id=stored.report_id,
            client_id=app.client_id,
            url="https://hooks.flix.example/c",
            now_ms=web.clock.now_ms(),
        )

    async def inside(host: str, port: int) -> list[str]:
        return ["10.20.30.40"]

    assert await build_delivery_worker(web.hs, resolve=inside).run_once() == 1
    html = unescape((await browser.get(reports_path(app))).text)
    assert "connection failed" in html
    for leak in ("10.20.30.40", "non-public", "resolves", "ConnectError", "Errno"):
        assert leak not in html


async def _share(sc: Scene, sender: MatrixTestClient, to: MatrixTestClient, **card: str) -> str:
    room = await sender.create_room(preset="public_chat")
    await to.join(room)
    r = await sc.send(await sc.browser(sender), [room], **card)
    assert r.status_code == 200, r.text
    link: str = (await last_card(to, room))["content"]["io.candor.card"]["link"]
    return link.removeprefix("http://test.local")


async def test_my_shares_shows_my_share_and_what_the_report_said_about_its_cell(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    web = scene.web
    path = await _share(scene, scene.alice, scene.bob)
    assert (await (await scene.browser(scene.bob)).get(path)).status_code == 302
    await _share(
        scene, scene.carol, scene.bob, title="Carols secret pick", variant="carols_variant"
    )
    # Nine more people shared in Alice's cell that day, so it clears the k = 10 threshold.
    await load_events(
        web.hs,
        scene.app.client_id,
        [
            Event(DAY, CARD["interface"], CARD["surface"], CARD["variant"], ShareEvent.SEND, p, 1)
            for p in (f"@p{i}:test.local" for i in range(9))
        ],
    )
    alice = await scene.browser(scene.alice)
    before = unescape((await alice.get("/privacy/shares")).text)
    assert "The Long Night" in before
    assert "No report covers your shares yet" in before

    web.clock.advance(86_400)
    stored = await build_services(web.hs).reports.produce(scene.app.client_id, date(2023, 11, 14))
    r = await alice.get("/privacy/shares")
    assert r.status_code == 200
    html = unescape(r.text)
    assert "Shares and reports" in html
    assert "never learns who shared" in html
    assert CARD["url"] in html
    # 1 conversation, 1 recipient, who clicked: a rate in words and percent.
    assert '<td data-label="Conversations">1</td>' in html
    assert '<td data-label="Recipients">1</td>' in html
    assert '<td data-label="Clicked">1 of 1 (100 %)</td>' in html
    assert f'id="report-{stored.report_id}"' in html
    released = [
        row
        for row in stored.document["rows"]
        if (row["interface"], row["surface"], row["variant"])
        == (CARD["interface"], CARD["surface"], CARD["variant"])
    ]
    assert released[0]["suppressed"] is False
    assert released[0]["sends"] == 10
    assert f'<td data-label="Cards sent">{released[0]["sends"]}</td>' in html
    assert f'<td data-label="Recipients">{released[0]["recipients"]}</td>' in html
    ctr = released[0]["ctr"]
    assert f"{100 * ctr:.1f} %".replace(".0 %", " %") + " of recipients clicked" in html
    assert "Privacy method: k-threshold (k = 10): a row describing fewer than 10 people" in html
    assert "k_threshold" not in html
    assert "Carols secret pick" not in html
    assert "carols_variant" not in html


async def test_a_suppressed_cell_is_shown_as_suppressed(
    scene: Scene,  # noqa: F811 - the imported fixture
) -> None:
    await _share(scene, scene.carol, scene.bob, variant="rare")
    scene.web.clock.advance(86_400)
    stored = await build_services(scene.web.hs).reports.produce(
        scene.app.client_id, date(2023, 11, 14)
    )
    assert [row["suppressed"] for row in stored.document["rows"]] == [True]
    html = unescape((await (await scene.browser(scene.carol)).get("/privacy/shares")).text)
    assert f'id="report-{stored.report_id}"' in html
    assert "suppressed: the app got no numbers for this row" in html
    alice_html = (await (await scene.browser(scene.alice)).get("/privacy/shares")).text
    assert "You have not shared anything" in alice_html
    assert stored.report_id not in alice_html


async def test_my_shares_needs_a_login(web: WebEnv) -> None:
    r = await web.browser().get("/privacy/shares")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/privacy/shares"


@pytest.mark.parametrize(
    "path",
    [
        "/partners/portal/reports/.json",
        "/partners/portal/reports/rpt_x.",
        "/partners/portal/reports/rpt_x.json.sig",
        "/partners/portal/reports/%00.pdf",
        "/partners/portal/reports/" + "r" * 100 + ".json",
        "/partners/portal/apps/" + "a" * 100 + "/reports",
        "/partners/portal/apps/%E2%80%AE/reports",
    ],
)
async def test_odd_report_paths_get_an_error_page_not_a_500(
    web: WebEnv, alice: MatrixTestClient, path: str
) -> None:
    browser = await logged_in(web, alice)
    r = await browser.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code)
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "url", ["https://hooks.flix.example/\x00", "https://" + "h" * 3000 + ".example/", "\u202e"]
)
async def test_garbage_in_the_webhook_form_is_a_400_page(
    web: WebEnv, alice: MatrixTestClient, url: str
) -> None:
    app = await owned_app(web, alice.user_id)
    browser = await logged_in(web, alice)
    r = await browser.post_form(*await post_webhook(browser, app, url))
    assert r.status_code == 400
    assert await webhook_row(web, app) == (None, None)
