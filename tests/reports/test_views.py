"""ReportViews on both engines: only the owner reads an app's reports, files and deliveries;
the files are the stored report in five forms; a webhook URL is checked, its secret stored
only sealed; a person's view matches report rows to their own cells only."""

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from candor.config import Settings, WebhookSettings
from candor.core.canonical_json import decode_dict
from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.partners.apps.service import App
from candor.partners.errors import PartnerError
from candor.reports import delivery_repository as deliveries
from candor.reports.errors import ReportError
from candor.reports.service import StoredReport
from candor.reports.sign import verify
from candor.reports.views import matching_rows
from candor.reports.views_repository import ShareCounts
from candor.reports.webhook_secrets import unseal
from candor.store.models.partners import PartnerApp
from candor.store.models.share import ShareEvent
from candor.wiring import build_homeserver, build_services
from tests.reports.conftest import Event, load_events, make_app

OWNER = "@owner:test.local"
OTHER = "@other:test.local"


async def owned_app(hs: Homeserver, owner: str = OWNER, name: str = "StreamFlix") -> App:
    """An approved k=2 app owned by `owner`, registered before the test's period."""
    return await make_app(hs, name, k=2, owner=owner)


async def produced(hs: Homeserver, app: App) -> StoredReport:
    await load_events(
        hs,
        app.client_id,
        [
            Event("2026-11-10", "web", "player", "a", ShareEvent.SEND, "@a:t", 3),
            Event("2026-11-10", "web", "player", "a", ShareEvent.SEND, "@b:t", 2),
            Event("2026-11-10", "web", "player", "a", ShareEvent.FIRST_CLICK, "@c:t"),
            Event("2026-11-11", "ios", "detail", "b", ShareEvent.SEND, "@a:t", 1),
        ],
    )
    return await build_services(hs).reports.produce(app.client_id)


async def webhook_row(hs: Homeserver, client_id: str) -> tuple[str | None, str | None]:
    async with hs.db.read() as conn:
        row = (
            await conn.execute(
                select(PartnerApp.webhook_url, PartnerApp.webhook_secret_sealed).where(
                    PartnerApp.client_id == client_id
                )
            )
        ).one()
    return row.webhook_url, row.webhook_secret_sealed


async def test_the_owner_lists_the_apps_reports_others_cannot(hs: Homeserver) -> None:
    app = await owned_app(hs)
    stored = await produced(hs, app)
    views = build_services(hs).report_views
    [summary] = await views.portal_reports(OWNER, app.client_id)
    assert summary.report_id == stored.report_id
    assert (summary.period_start, summary.period_end) == ("2026-11-09", "2026-11-22")
    assert summary.method == "k_threshold"
    assert (summary.rows, summary.suppressed) == (2, 1)
    with pytest.raises(PartnerError) as forbidden:
        await views.portal_reports(OTHER, app.client_id)
    assert forbidden.value.status == 403
    with pytest.raises(PartnerError) as missing:
        await views.portal_reports(OWNER, "app_nonexistent")
    assert missing.value.status == 404


async def test_each_file_is_the_stored_report(hs: Homeserver) -> None:
    app = await owned_app(hs)
    stored = await produced(hs, app)
    views = build_services(hs).report_views

    body, media, name = await views.report_file(OWNER, stored.report_id, "json")
    assert (body, media, name) == (stored.body, "application/json", f"{stored.report_id}.json")
    sig, _, sig_name = await views.report_file(OWNER, stored.report_id, "sig")
    assert sig_name == f"{stored.report_id}.json.sig"
    signer = hs.transparency.signer
    verify(decode_dict(body), decode_dict(sig), signer.verifier())

    text, media, _ = await views.report_file(OWNER, stored.report_id, "csv")
    assert media.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.decode())))
    assert [(r["day"], r["interface"], r["sends"]) for r in rows] == [
        ("2026-11-10", "web", "2"),
        ("2026-11-11", "ios", ""),
    ]
    html, media, _ = await views.report_file(OWNER, stored.report_id, "html")
    assert media.startswith("text/html")
    assert b"StreamFlix" in html
    pdf, media, _ = await views.report_file(OWNER, stored.report_id, "pdf")
    assert (pdf[:5], media) == (b"%PDF-", "application/pdf")


@pytest.mark.parametrize(
    ("who", "report_id", "fmt"),
    [
        (OTHER, None, "json"),  # someone else's report looks missing
        (OWNER, None, "exe"),
        (OWNER, "rpt_doesnotexist", "json"),
        (OWNER, "not-a-report", "pdf"),
    ],
)
async def test_a_file_nobody_may_have_is_not_found(
    hs: Homeserver, who: str, report_id: str | None, fmt: str
) -> None:
    app = await owned_app(hs)
    stored = await produced(hs, app)
    with pytest.raises(ReportError) as exc:
        await build_services(hs).report_views.report_file(who, report_id or stored.report_id, fmt)
    assert exc.value.status == 404


async def test_a_webhook_gets_a_secret_stored_only_sealed_and_can_be_cleared(
    hs: Homeserver,
) -> None:
    app = await owned_app(hs)
    views = build_services(hs).report_views
    secret = await views.set_webhook(OWNER, app.client_id, " https://hooks.example/candor ")
    assert secret is not None
    assert secret.startswith("whsec_")
    url, sealed = await webhook_row(hs, app.client_id)
    assert url == "https://hooks.example/candor"
    assert sealed is not None
    assert secret not in sealed
    assert unseal(sealed, hs.token_key) == secret

    again = await views.set_webhook(OWNER, app.client_id, "HTTPS://Hooks.example:443/b")
    assert again is not None
    assert again != secret
    assert (await webhook_row(hs, app.client_id))[0] == "https://hooks.example/b"

    assert await views.set_webhook(OWNER, app.client_id, "") is None
    assert await webhook_row(hs, app.client_id) == (None, None)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example/x",
        "http://example.com/hook",
        "https://user:pw@hooks.example/",
        "https://hooks.example/a b",
        "https://",
        "javascript:alert(1)",
        "https://" + "a" * 2000 + ".example/",
    ],
)
async def test_a_bad_webhook_url_is_refused_and_changes_nothing(hs: Homeserver, url: str) -> None:
    app = await owned_app(hs)
    views = build_services(hs).report_views
    await views.set_webhook(OWNER, app.client_id, "https://hooks.example/candor")
    before = await webhook_row(hs, app.client_id)
    with pytest.raises(ReportError) as exc:
        await views.set_webhook(OWNER, app.client_id, url)
    assert exc.value.status == 400
    assert await webhook_row(hs, app.client_id) == before


INSIDE = [
    "https://127.0.0.1/hook",
    "https://0x7f.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "https://localhost/hook",
    "https://10.0.0.5/hook",
    "https://192.168.1.1/hook",
    "https://172.16.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:10.0.0.5]/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "http://127.0.0.1:9000/hook",
]


@pytest.mark.parametrize("url", INSIDE)
async def test_a_webhook_inside_the_operators_network_is_refused_by_default(
    hs: Homeserver, url: str
) -> None:
    assert hs.settings.webhooks.allow_private_networks is False
    app = await owned_app(hs)
    with pytest.raises(ReportError) as exc:
        await build_services(hs).report_views.set_webhook(OWNER, app.client_id, url)
    assert exc.value.status == 400
    assert "public address" in exc.value.message or "must be https" in exc.value.message
    assert await webhook_row(hs, app.client_id) == (None, None)


async def test_the_operator_setting_allows_loopback_receivers(
    settings: Settings, report_clock: FakeClock
) -> None:
    allowed = settings.model_copy(update={"webhooks": WebhookSettings(allow_private_networks=True)})
    hs = build_homeserver(allowed, report_clock)
    try:
        app = await owned_app(hs)
        views = build_services(hs).report_views
        for url in INSIDE:
            assert await views.set_webhook(OWNER, app.client_id, url) is not None
        assert (await webhook_row(hs, app.client_id))[0] == "http://127.0.0.1:9000/hook"
    finally:
        await hs.db.dispose()


async def test_only_the_owner_sets_the_webhook(hs: Homeserver) -> None:
    app = await owned_app(hs)
    with pytest.raises(PartnerError) as exc:
        await build_services(hs).report_views.set_webhook(
            OTHER, app.client_id, "https://evil.example/"
        )
    assert exc.value.status == 403
    assert await webhook_row(hs, app.client_id) == (None, None)


async def test_deliveries_come_with_every_attempt_in_order(hs: Homeserver) -> None:
    app = await owned_app(hs)
    stored = await produced(hs, app)
    other_app = await owned_app(hs, OTHER, "Elsewhere")
    other_report = await produced(hs, other_app)
    async with hs.db.write() as conn:
        for delivery_id, report, client in (
            ("msg_mine", stored, app),
            ("msg_theirs", other_report, other_app),
        ):
            await deliveries.enqueue(
                conn,
                delivery_id=delivery_id,
                report_id=report.report_id,
                client_id=client.client_id,
                url="https://hooks.example/candor",
                now_ms=1_000,
            )
        for attempt, code, error, status in (
            (1, None, "connection refused", deliveries.PENDING),
            (2, 500, None, deliveries.PENDING),
            (3, 204, None, deliveries.DELIVERED),
        ):
            assert await deliveries.record_attempt(
                conn,
                delivery_id="msg_mine",
                attempt=attempt,
                ts=1_000 * attempt,
                url="https://hooks.example/candor",
                status_code=code,
                error=error,
                duration_ms=10 * attempt,
                status=status,
                next_attempt_ts=5_000,
            )
    [found] = await build_services(hs).report_views.deliveries(OWNER, app.client_id)
    assert found.delivery.delivery_id == "msg_mine"
    assert found.delivery.status == deliveries.DELIVERED
    assert [(a.attempt, a.status_code, a.error, a.duration_ms) for a in found.attempts] == [
        (1, None, "connection refused", 10),
        (2, 500, None, 20),
        (3, 204, None, 30),
    ]
    with pytest.raises(PartnerError):
        await build_services(hs).report_views.deliveries(OWNER, other_app.client_id)


def share(client_id: str, day: str, variant: str) -> ShareCounts:
    return ShareCounts(
        "shr_1",
        client_id,
        "App",
        "T",
        "https://x.example",
        day,
        "web",
        "player",
        variant,
        0,
        1,
        2,
        1,
    )


def test_only_rows_of_the_persons_own_cells_match() -> None:
    rows: list[dict[str, Any]] = [
        {"day": "2026-11-10", "interface": "web", "surface": "player", "variant": "a"},
        {"day": "2026-11-10", "interface": "web", "surface": "player", "variant": "b"},
        {"day": "2026-11-11", "interface": "web", "surface": "player", "variant": "a"},
    ]
    doc: dict[str, Any] = {"app": {"client_id": "app_1"}, "rows": rows}
    mine = [share("app_1", "2026-11-10", "a"), share("app_2", "2026-11-11", "a")]
    assert matching_rows(doc, mine) == [rows[0]]
    assert matching_rows(doc, []) == []
