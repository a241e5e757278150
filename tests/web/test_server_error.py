"""An unexpected error on a web page is the HTML error page, with the security headers."""

import httpx

from candor.app import create_app
from candor.config import Settings


async def test_a_500_on_a_web_page_carries_the_security_headers(settings: Settings) -> None:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/privacy/boom", boom)
    async with app.router.lifespan_context(app):
        # Starlette re-raises after answering; the test reads the answer instead.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            r = await http.get("/privacy/boom")

    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "a bug" not in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
