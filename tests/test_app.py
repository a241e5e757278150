"""The composition root's own behaviour (beyond routes, which their domains test)."""

import gc
from collections.abc import Iterator

import pytest

from candor.app import create_app
from candor.config import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # give the test process its heap back
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("unfrozen")
async def test_a_server_freezes_its_startup_heap_and_a_test_app_does_not(
    settings: Settings,
) -> None:
    gc.unfreeze()
    test_app = create_app(settings)
    async with test_app.router.lifespan_context(test_app):
        assert gc.get_freeze_count() == 0

    server_app = create_app(settings, freeze_heap=True)
    async with server_app.router.lifespan_context(server_app):
        # Everything alive at startup (modules, metadata, routes) is out of the collector's way.
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] == 20_000  # young collections, rarer


def test_no_request_telemetry_even_when_the_environment_asks_for_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI would configure OpenTelemetry exporters from the environment and report every
    # request's path (room and event ids) to them.
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    app = create_app(settings)
    config = app._telemetry
    assert config["auto_configure"] is False
    assert (config["tracing"], config["metrics"], config["logs"]) == (False, False, False)
    assert not app._native_telemetry.enabled()
