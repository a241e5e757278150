"""The one URL rule (issue 13 items 5 and 8): what Candor checks is what a browser loads,
and a webhook URL cannot name an address inside the operator's network."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.urls import (
    UrlRefused,
    check_public_web_url,
    check_web_url,
    check_webhook_url,
    embedded_ipv4,
    is_loopback_host,
    is_public_address,
    parse_web_url,
)

# Spellings a browser reads as an address inside the operator's network.
NOT_PUBLIC_HOSTS = [
    "127.0.0.1",
    "127.1",  # short form
    "0x7f.1",  # hex
    "0x7f000001",
    "2130706433",  # one decimal number
    "0177.0.0.1",  # octal
    "%31%32%37.0.0.1",  # percent-encoded
    "localhost",
    "LOCALHOST.",
    "api.localhost",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # noqa: S104 - a host to refuse, nothing binds to it
    "224.0.0.1",
    "255.255.255.255",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",  # IPv4-mapped 169.254.169.254
    "[::127.0.0.1]",  # IPv4-compatible
    "[64:ff9b::10.0.0.1]",  # NAT64
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
]


@pytest.mark.parametrize("host", NOT_PUBLIC_HOSTS)
def test_a_webhook_to_a_non_public_host_is_refused_by_default(host: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        check_webhook_url(f"https://{host}:8443/hook", allow_private_networks=False)
    assert "public address" in caught.value.message


@pytest.mark.parametrize("host", NOT_PUBLIC_HOSTS)
def test_the_operator_setting_lets_webhooks_reach_private_hosts(host: str) -> None:
    parsed = check_webhook_url(f"https://{host}:8443/hook", allow_private_networks=True)
    assert parsed.port == 8443


@pytest.mark.parametrize("host", NOT_PUBLIC_HOSTS)
def test_a_fetch_for_someone_never_names_a_non_public_host(host: str) -> None:
    for scheme in ("http", "https"):
        url = f"{scheme}://{host}/page"
        with pytest.raises(UrlRefused, match="public address"):
            check_public_web_url(url, "the URL", allow_private_networks=False)
        assert check_public_web_url(url, "the URL", allow_private_networks=True).scheme == scheme


def test_a_fetch_for_someone_may_be_plain_http_to_a_public_host() -> None:
    assert (
        check_public_web_url("http://example.org/a?b", "the URL", allow_private_networks=False).href
        == "http://example.org/a?b"
    )
    with pytest.raises(UrlRefused):
        check_public_web_url("ftp://example.org/", "the URL", allow_private_networks=True)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/a", "https://93.184.215.14/h", "https://[2606:4700::1111]/"]
)
def test_a_public_https_webhook_is_accepted(url: str) -> None:
    assert check_webhook_url(url, allow_private_networks=False).href == url


def test_plain_http_webhooks_only_on_loopback_and_only_when_allowed() -> None:
    with pytest.raises(UrlRefused):
        check_webhook_url("http://hooks.example.com/a", allow_private_networks=False)
    with pytest.raises(UrlRefused):
        check_webhook_url("http://127.0.0.1:9000/a", allow_private_networks=False)
    with pytest.raises(UrlRefused):
        check_webhook_url("http://hooks.example.com/a", allow_private_networks=True)
    allowed = check_webhook_url("http://127.0.0.1:9000/a", allow_private_networks=True)
    assert (allowed.hostname, allowed.port, allowed.scheme) == ("127.0.0.1", 9000, "http")


@pytest.mark.parametrize(
    ("url", "href", "hostname"),
    [
        ("HTTPS://Flix.Example:443/a/../b", "https://flix.example/b", "flix.example"),
        ("https://flix.example%2eevil.test/", "https://flix.example.evil.test/", None),
        ("https://bücher.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
        ("https://flix.example\u3002evil.test/", "https://flix.example.evil.test/", None),
        ("https://0x7f.1/", "https://127.0.0.1/", "127.0.0.1"),
        ("https://[0:0:0:0:0:ffff:7f00:1]/", "https://[::ffff:7f00:1]/", "::ffff:7f00:1"),
        ("https:flix.example/x", "https://flix.example/x", "flix.example"),
    ],
)
def test_urls_are_read_as_browsers_read_them(url: str, href: str, hostname: str | None) -> None:
    parsed = parse_web_url(url, "url")
    assert parsed.href == href
    assert parsed.hostname == (hostname or href.split("/")[2])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://flix.example\\@evil.test/", "backslash"),
        ("https:\\\\evil.test\\", "backslash"),
        ("https://user@flix.example/", "user name or password"),
        ("https://flix.example:pw@evil.test/", "user name or password"),
        ("https://flix.example/\x00", "one line"),
        ("https://flix.example/\x7f", "one line"),
        ("https://flix.example/\u0085", "one line"),
        ("https://fl\tix.example/", "one line"),
        (" https://flix.example/", "one line"),
        ("https://flix.example/" + "a" * 2000, "one line"),
        ("javascript:alert(1)", "https URL"),
        ("ftp://flix.example/", "https URL"),
        ("/relative", "well-formed"),
        ("https://[::1/", "well-formed"),
        ("https://flix.example:99999/", "well-formed"),
        ("https://1.2.3.4.5/", "well-formed"),
    ],
)
def test_ambiguous_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        parse_web_url(url, "url")
    assert reason in caught.value.message


@given(st.text(max_size=60))
def test_any_text_is_refused_or_parsed_to_its_own_serialisation(text: str) -> None:
    """Never a crash; what passes parses again to the same URL (a fixed point)."""
    try:
        parsed = parse_web_url(text, "url")
    except UrlRefused:
        return
    again = parse_web_url(parsed.href, "url")
    assert again == parsed.__class__(
        parsed.href, parsed.scheme, parsed.hostname, parsed.address, parsed.port, False
    )


def test_http_only_on_loopback_hosts_for_pages_and_redirects() -> None:
    assert check_web_url("http://localhost:8000/cb", "A redirect URI").port == 8000
    assert check_web_url("http://[::1]/cb", "A redirect URI").hostname == "::1"
    with pytest.raises(UrlRefused):
        check_web_url("http://flix.example/cb", "A redirect URI")


def test_address_classes_unwrap_ipv4_inside_ipv6() -> None:
    v4 = ipaddress.IPv4Address("10.1.2.3")
    assert embedded_ipv4(ipaddress.IPv6Address("::ffff:10.1.2.3")) == v4
    assert embedded_ipv4(ipaddress.IPv6Address("::10.1.2.3")) == v4
    assert embedded_ipv4(ipaddress.IPv6Address("64:ff9b::10.1.2.3")) == v4
    assert embedded_ipv4(ipaddress.IPv6Address("2002:a01:203::")) == v4
    assert embedded_ipv4(ipaddress.IPv6Address("::1")) == ipaddress.IPv6Address("::1")
    assert is_public_address(ipaddress.ip_address("93.184.215.14"))
    assert is_public_address(ipaddress.ip_address("::ffff:93.184.215.14"))
    assert not is_public_address(ipaddress.ip_address("::ffff:192.168.0.1"))


def test_loopback_hosts() -> None:
    assert is_loopback_host("localhost")
    assert is_loopback_host("a.localhost.")
    assert is_loopback_host("127.3.4.5")
    assert is_loopback_host("::1")
    assert is_loopback_host("::ffff:7f00:1")
    assert not is_loopback_host("localhost.example")
    assert not is_loopback_host("10.0.0.1")
    assert not is_loopback_host("")
