"""One rule for every URL someone gives Candor: share links and images, redirect URIs,
homepages and webhooks (issue 13 items 5 and 8).

A URL is parsed by the WHATWG URL Standard, the one browsers use (the `ada` parser), and
re-serialised; every later check (scheme, host, domain match, address class) looks at that
re-serialised form, so what Candor checks is what a browser would load. Python's `urlsplit`
disagrees with browsers on backslashes, tabs, percent-encoded hosts and numeric IPv4
spellings (`http://0x7f.1/` is 127.0.0.1 to a browser), which is why it is not used.
Backslashes, control characters and user info are refused outright rather than repaired:
each is a sign that the URL means something other than it seems.

Address classes come from `ipaddress`, after unwrapping the IPv4 address carried inside an
IPv6 one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
`2002::/16`), since a connection to any of those reaches the IPv4 address.
"""

import ipaddress
import unicodedata
from dataclasses import dataclass

from ada_url import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2000
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")


class UrlRefused(Exception):
    """Why a URL is refused, as a sentence a developer can act on (no final period)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class WebUrl:
    """An http(s) URL in the WHATWG serialisation."""

    href: str  # the whole URL as a browser serialises it
    scheme: str  # "http" or "https"
    hostname: str  # lower-case ASCII domain, dotted IPv4, or IPv6 without brackets
    address: IPAddress | None  # the host as an address, when it is one
    port: int  # the port connected to (the scheme's default when none is written)
    has_fragment: bool

    @property
    def is_https(self) -> bool:
        return self.scheme == "https"


def parse_web_url(url: str, what: str) -> WebUrl:
    """`url` parsed and re-serialised as a browser would; raises `UrlRefused` naming `what`.

    Only absolute http and https URLs with a host pass, without user info (`user:pw@`,
    which browsers hide and phishing uses), backslashes (which browsers read as `/`),
    white space or control characters.
    """
    if len(url) > MAX_URL or any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        raise UrlRefused(f"{what} must be one line of at most {MAX_URL} characters")
    if "\\" in url:
        raise UrlRefused(f"{what} must not contain a backslash")
    try:
        parsed = URL(url)
    except ValueError:
        raise UrlRefused(f"{what} must be a well-formed absolute URL") from None
    scheme = parsed.protocol.removesuffix(":")
    if scheme not in ("http", "https"):
        raise UrlRefused(f"{what} must be an https URL")
    if parsed.username or parsed.password:
        raise UrlRefused(f"{what} must not carry a user name or password")
    hostname = parsed.hostname.removeprefix("[").removesuffix("]")
    if not hostname:  # pragma: no cover - the WHATWG parser already refuses an empty host
        raise UrlRefused(f"{what} must have a host")
    try:
        address: IPAddress | None = ipaddress.ip_address(hostname)
    except ValueError:
        address = None
    default_port = 443 if scheme == "https" else 80
    return WebUrl(
        href=parsed.href,
        scheme=scheme,
        hostname=hostname,
        address=address,
        port=int(parsed.port) if parsed.port else default_port,
        has_fragment="#" in url,
    )


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address a connection to `address` really reaches, or `address` itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is on the public internet: not loopback, private (RFC 1918),
    shared (100.64/10), link-local (169.254/16, fe80::/10), unique-local (fc00::/7),
    site-local, unspecified, multicast, documentation or reserved — also when written as an
    IPv4 address inside an IPv6 one."""
    inner = embedded_ipv4(address)
    site_local = isinstance(inner, ipaddress.IPv6Address) and inner.is_site_local
    return inner.is_global and not (
        inner.is_multicast or inner.is_reserved or inner.is_link_local or site_local
    )


def is_loopback_host(hostname: str) -> bool:
    """`localhost`, a name under `.localhost` (RFC 6761 §6.3), or a loopback address."""
    name = hostname.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return embedded_ipv4(ipaddress.ip_address(name)).is_loopback
    except ValueError:
        return False


def check_web_url(url: str, what: str) -> WebUrl:
    """An https URL, or plain http on a loopback host (local development, RFC 8252 §7.3)."""
    parsed = parse_web_url(url, what)
    if parsed.is_https or is_loopback_host(parsed.hostname):
        return parsed
    raise UrlRefused(f"{what} must be an https URL (plain http only on loopback hosts)")


def check_webhook_url(
    url: str, *, allow_private_networks: bool, what: str = "the webhook URL"
) -> WebUrl:
    """A URL Candor may post to (a partner's webhook, a push gateway): https to a host that
    is not, as far as its spelling shows, inside the operator's network. The address a name
    resolves to is checked again when connecting (see `core.outbound`).

    `allow_private_networks` (an operator setting, off by default) lets tests and local
    development use receivers on loopback or private addresses, and plain http on loopback.
    """
    parsed = parse_web_url(url, what)
    if allow_private_networks:
        if parsed.is_https or is_loopback_host(parsed.hostname):
            return parsed
        raise UrlRefused(f"{what} must be https (plain http only on loopback hosts)")
    if not parsed.is_https:
        raise UrlRefused(f"{what} must be https")
    if is_loopback_host(parsed.hostname) or (
        parsed.address is not None and not is_public_address(parsed.address)
    ):
        raise UrlRefused(f"{what} must point to a public address, not a loopback or private one")
    return parsed


def check_public_web_url(url: str, what: str, *, allow_private_networks: bool) -> WebUrl:
    """An http or https URL Candor may fetch on someone's behalf (a URL preview): its host
    is not, as far as its spelling shows, inside the operator's network. As for webhooks,
    the addresses a name resolves to are checked again when connecting (`core.outbound`);
    `allow_private_networks` (an operator setting, off by default) is for tests."""
    parsed = parse_web_url(url, what)
    if allow_private_networks:
        return parsed
    if is_loopback_host(parsed.hostname) or (
        parsed.address is not None and not is_public_address(parsed.address)
    ):
        raise UrlRefused(f"{what} must point to a public address, not a loopback or private one")
    return parsed
