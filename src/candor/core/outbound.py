"""Requests to a URL someone else chose, without reaching inside the operator's network.

Used for partners' webhooks (issue 13 item 5), URL previews and push gateways (issue 15):
each fetches or posts to a URL a person or an app typed, so all go through this one guard.

The URL's host is resolved once, every address it resolves to is checked (one private
address is enough to refuse: a name that resolves to 127.0.0.1 next to a public address is
an attack, not a mistake), and the request connects to a checked address, not to the name:
the client never resolves the name again, so a DNS answer that changes between the check
and the connection (DNS rebinding) cannot slip a private address in. The request still
carries the original `Host` header, and for https the original name in SNI and in the
certificate check (httpcore's `sni_hostname` extension), so the receiver sees an ordinary
request. Redirects are never followed (the client is built with `follow_redirects=False`).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping

import httpx

from candor.core.urls import IPAddress, WebUrl, is_public_address

# host, port → the addresses the name resolves to (strings as getaddrinfo gives them)
Resolver = Callable[[str, int], Awaitable[list[str]]]


class AddressRefused(Exception):
    """The URL's host has no address Candor may connect to."""


async def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses by the event loop's `getaddrinfo` (it runs off the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def checked_addresses(
    url: WebUrl, resolve: Resolver, *, allow_private_networks: bool
) -> list[IPAddress]:
    """The addresses to connect to, in the resolver's order; raises `AddressRefused` if
    the name does not resolve or any address it resolves to is not public (unless the
    operator allows private networks)."""
    if url.address is not None:
        found = [url.address]
    else:
        try:
            answers = await resolve(url.hostname, url.port)
        except OSError as exc:  # socket.gaierror: no such name, resolver down
            raise AddressRefused(f"{url.hostname} does not resolve: {exc}") from None
        # A zone index (`fe80::1%eth0`) only says which interface; the address is the rest.
        found = list(dict.fromkeys(ipaddress.ip_address(a.split("%")[0]) for a in answers))
    if not found:
        raise AddressRefused(f"{url.hostname} has no address")
    if not allow_private_networks:
        refused = [a for a in found if not is_public_address(a)]
        if refused:
            raise AddressRefused(f"{url.hostname} resolves to a non-public address {refused[0]}")
    return found


def pinned_request(
    client: httpx.AsyncClient,
    url: WebUrl,
    address: IPAddress,
    *,
    content: bytes,
    headers: Mapping[str, str],
    method: str = "POST",
) -> httpx.Request:
    """A `method` request (a POST of `content` by default) to `url` that connects to
    `address` and nowhere else."""
    original = httpx.URL(url.href)
    extensions: dict[str, object] = {}
    if url.is_https and url.address is None:
        # The name the certificate must carry and SNI names; the IP is only where to connect.
        extensions["sni_hostname"] = url.hostname
    return client.build_request(
        method,
        original.copy_with(host=str(address)),
        content=content,
        headers={**headers, "host": original.netloc.decode("ascii")},
        extensions=extensions,
    )


async def post_guarded(
    client: httpx.AsyncClient,
    url: WebUrl,
    body: bytes,
    headers: Mapping[str, str],
    *,
    resolve: Resolver,
    allow_private_networks: bool,
    max_answer_bytes: int = 0,
) -> tuple[int, bytes]:
    """POST `body` to the first checked address of `url` that accepts a connection (IPv6
    first, then IPv4, say); the status and at most `max_answer_bytes` of the answer (none
    by default: a large answer must not cost memory). Raises `AddressRefused`, or the last
    address's connection error."""
    addresses = await checked_addresses(url, resolve, allow_private_networks=allow_private_networks)
    for address in addresses[:-1]:
        try:
            return await _post_to(client, url, address, body, headers, max_answer_bytes)
        except httpx.ConnectError:
            continue  # the next address of the same name
    return await _post_to(client, url, addresses[-1], body, headers, max_answer_bytes)


async def _post_to(
    client: httpx.AsyncClient,
    url: WebUrl,
    address: IPAddress,
    body: bytes,
    headers: Mapping[str, str],
    max_answer_bytes: int,
) -> tuple[int, bytes]:
    request = pinned_request(client, url, address, content=body, headers=headers)
    response = await client.send(request, stream=True)
    answer = b""
    try:
        if max_answer_bytes > 0:
            async for chunk in response.aiter_bytes():
                answer += chunk
                if len(answer) > max_answer_bytes:
                    break
    finally:
        await response.aclose()
    return response.status_code, answer


class LazyClient:
    """An httpx client for one delivery pass, made only when the pass has something to
    send: most passes of the push and webhook workers find nothing due, and a client
    costs an SSL context (the system's CA store loaded, tens of milliseconds).

    No kept-alive connections: one made for another receiver's host name on the same
    address must not carry the next request (its certificate was checked for that name).
    """

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(self._timeout_s),
                trust_env=False,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._client

    async def __aenter__(self) -> "LazyClient":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
