"""Producing a report end to end on both engines: idempotent, signed, schema-valid."""

import jsonschema

from candor.matrix.context import Homeserver
from candor.reports.document import schema
from candor.reports.sign import verify
from candor.store.models.share import ShareEvent
from candor.wiring import build_services
from tests.reports.conftest import PERIOD_END, PERIOD_START, Event, load_events, make_app


async def test_produce_once_signed_and_valid(hs: Homeserver) -> None:
    app = await make_app(hs, k=2)
    await load_events(
        hs,
        app.client_id,
        [
            Event("2026-11-10", "web", "player", "a", ShareEvent.SEND, "@a:t", 3),
            Event("2026-11-10", "web", "player", "a", ShareEvent.SEND, "@b:t", 2),
            Event("2026-11-10", "web", "player", "a", ShareEvent.FIRST_CLICK, "@c:t"),
            Event("2026-11-10", "web", "player", "a", ShareEvent.REPEAT_CLICK, "@c:t"),
            Event("2026-11-11", "ios", "detail", "b", ShareEvent.SEND, "@a:t", 1),
            Event("2026-11-23", "web", "player", "a", ShareEvent.SEND, "@a:t", 1),  # after
        ],
    )
    service = build_services(hs).reports
    stored = await service.produce(app.client_id)
    assert (stored.period.start, stored.period.end) == (PERIOD_START, PERIOD_END)
    doc = stored.document
    jsonschema.validate(doc, schema())
    assert doc["rows"] == [
        {
            "day": "2026-11-10",
            "interface": "web",
            "surface": "player",
            "variant": "a",
            "suppressed": False,
            "sends": 2,
            "recipients": 5,
            "first_clicks": 1,
            "repeat_clicks": 1,
            "ctr": 0.2,
        },
        {
            "day": "2026-11-11",
            "interface": "ios",
            "surface": "detail",
            "variant": "b",
            "suppressed": True,
            "sends": None,
            "recipients": None,
            "first_clicks": None,
            "repeat_clicks": None,
            "ctr": None,
        },
    ]
    assert doc["privacy"]["suppressed_cells"] == 1
    verify(doc, stored.signature, hs.transparency.signer.verifier())
    again = await service.produce(app.client_id, PERIOD_END)
    assert again.report_id == stored.report_id
    assert again.body == stored.body
    assert len(await service.list_for_app(app.client_id)) == 1
