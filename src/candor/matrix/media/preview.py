"""URL previews (`preview_url`): off unless the operator turns them on.

Why off: a preview makes the server fetch a link someone typed, so the server learns
the link (in an encrypted room, something it otherwise never sees) and the linked site
learns the server's address; and a server that fetches arbitrary URLs is a way into the
operator's network. When on, every fetch goes through the same guard as webhooks
(`core.urls`, `core.outbound`): the URL is read as a browser reads it, its host is
resolved once, every address must be public, the connection goes to a checked address,
and each redirect (at most three) is checked again. Only the OpenGraph tags of an HTML
page are returned, read from its first `MAX_HTML_BYTES`; images are not fetched (the
spec wants them re-hosted as `mxc://`, which would mean a second fetch and a stored file
per link), so `og:image*` is left out. Nothing about a preview is logged or stored.
"""

import asyncio
import logging
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from candor.core.outbound import (
    AddressRefused,
    Resolver,
    checked_addresses,
    pinned_request,
    system_resolve,
)
from candor.core.urls import (
    IPAddress,
    UrlRefused,
    WebUrl,
    check_public_web_url,
    parse_web_url,
)
from candor.matrix.errors import Forbidden, InvalidParam, NotFound
from candor.matrix.media.errors import PreviewsDisabled
from candor.matrix.ratelimit import RateLimiter
from candor.matrix.requester import Requester

logger = logging.getLogger(__name__)

MAX_HTML_BYTES = 1 << 20
MAX_REDIRECTS = 3
MAX_VALUE_CHARS = 1000
MAX_TAGS = 32
TIMEOUT_S = 10.0
USER_AGENT = "Candor URL preview"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class UrlPreviewService:
    def __init__(
        self,
        ratelimiter: RateLimiter,
        *,
        enabled: bool,
        allow_private_networks: bool,
        resolve: Resolver = system_resolve,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self._ratelimiter = ratelimiter
        self._enabled = enabled
        self._allow_private = allow_private_networks
        self._resolve = resolve
        self._timeout_s = timeout_s

    async def preview(self, requester: Requester, url: str) -> dict[str, object]:
        """The page's OpenGraph tags (may be empty). Refused: previews off (404
        M_UNRECOGNIZED), a malformed URL (400), an address inside the network (403);
        a page that cannot be fetched is 404 M_NOT_FOUND."""
        if not self._enabled:
            raise PreviewsDisabled
        await self._ratelimiter.check(requester.user_id)
        target = self._check(url)
        try:
            async with asyncio.timeout(self._timeout_s * 2):
                html = await self._fetch(target)
        except (TimeoutError, httpx.HTTPError):
            raise NotFound("Could not fetch a preview of this URL") from None
        if html is None:
            return {}
        return await asyncio.to_thread(opengraph, html)

    def _check(self, url: str) -> WebUrl:
        try:
            parse_web_url(url, "the URL")
        except UrlRefused as exc:
            raise InvalidParam(exc.message) from None
        try:
            return check_public_web_url(url, "the URL", allow_private_networks=self._allow_private)
        except UrlRefused as exc:
            raise Forbidden(exc.message) from None

    async def _fetch(self, target: WebUrl) -> str | None:
        """The page's HTML (its first MAX_HTML_BYTES), or None if it is not HTML."""
        async with httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(self._timeout_s),
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    addresses = await checked_addresses(
                        target, self._resolve, allow_private_networks=self._allow_private
                    )
                except AddressRefused:
                    raise Forbidden("The URL's host has no address previews may reach") from None
                response = await self._connect(client, target, addresses)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        target = self._check(urljoin(target.href, location))
                        continue
                    if response.status_code != 200:
                        raise NotFound("Could not fetch a preview of this URL")
                    kind = response.headers.get("content-type", "").split(";")[0].strip()
                    if kind.lower() not in ("text/html", "application/xhtml+xml"):
                        return None
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) >= MAX_HTML_BYTES:
                            break
                    return bytes(body[:MAX_HTML_BYTES]).decode(
                        response.encoding or "utf-8", errors="replace"
                    )
                finally:
                    await response.aclose()
        raise NotFound("Too many redirects")

    async def _connect(
        self, client: httpx.AsyncClient, target: WebUrl, addresses: list[IPAddress]
    ) -> httpx.Response:
        """The response from the first checked address that accepts a connection."""
        for attempt, address in enumerate(addresses, start=1):
            request = pinned_request(
                client,
                target,
                address,
                content=b"",
                headers={"user-agent": USER_AGENT, "accept": "text/html"},
                method="GET",
            )
            try:
                return await client.send(request, stream=True)
            except httpx.ConnectError:
                if attempt == len(addresses):
                    raise
        raise httpx.ConnectError("no address to connect to")


class _OpenGraph(HTMLParser):
    """Collects `<meta property="og:…" content="…">`, the title and the description."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: dict[str, str] = {}
        self.title: list[str] = []
        self.description: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
            return
        if tag != "meta":
            return
        found = dict(attrs)
        key = (found.get("property") or found.get("name") or "").strip()
        content = found.get("content")
        if content is None:
            return
        if key.startswith("og:") and not key.startswith("og:image"):
            if key not in self.tags and len(self.tags) < MAX_TAGS:
                self.tags[key[:100]] = content.strip()[:MAX_VALUE_CHARS]
        elif key.lower() == "description" and self.description is None:
            self.description = content.strip()[:MAX_VALUE_CHARS]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and sum(map(len, self.title)) < MAX_VALUE_CHARS:
            self.title.append(data)


def opengraph(html: str) -> dict[str, object]:
    """The OpenGraph answer for a page: its og: tags (no images), with the `<title>` and
    the meta description standing in for a missing `og:title` / `og:description`."""
    parser = _OpenGraph()
    parser.feed(html)
    parser.close()
    result: dict[str, object] = dict(parser.tags)
    title = " ".join("".join(parser.title).split())[:MAX_VALUE_CHARS]
    if "og:title" not in result and title:
        result["og:title"] = title
    if "og:description" not in result and parser.description:
        result["og:description"] = parser.description
    return result
