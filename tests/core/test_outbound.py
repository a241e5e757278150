"""Resolving, checking and pinning a webhook's address (issue 13 item 5). No connection is
made here: the worker's tests in test_deliver.py post to real receivers on loopback."""

import ipaddress

import httpx
import pytest

from candor.core.outbound import (
    AddressRefused,
    LazyClient,
    Resolver,
    checked_addresses,
    pinned_request,
    system_resolve,
)
from candor.core.urls import parse_web_url


def table(answers: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"unknown host {host}")
        return answers[host]

    return resolve


async def test_every_address_is_checked_one_inside_is_enough_to_refuse() -> None:
    url = parse_web_url("https://hooks.partner.example/h", "url")
    resolve = table({"hooks.partner.example": ["93.184.215.14", "10.0.0.7"]})
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.7"):
        await checked_addresses(url, resolve, allow_private_networks=False)


async def test_public_addresses_are_kept_in_order_without_duplicates() -> None:
    url = parse_web_url("https://hooks.partner.example/h", "url")
    answers = ["2606:4700::1111", "93.184.215.14", "2606:4700::1111"]
    found = await checked_addresses(
        url, table({"hooks.partner.example": answers}), allow_private_networks=False
    )
    assert found == [ipaddress.ip_address("2606:4700::1111"), ipaddress.ip_address("93.184.215.14")]


async def test_an_unknown_name_or_no_answer_is_refused() -> None:
    url = parse_web_url("https://nowhere.example/h", "url")
    with pytest.raises(AddressRefused, match="does not resolve"):
        await checked_addresses(url, table({}), allow_private_networks=False)
    with pytest.raises(AddressRefused, match="no address"):
        await checked_addresses(url, table({"nowhere.example": []}), allow_private_networks=False)


async def test_the_real_resolver_sees_through_a_name_to_loopback() -> None:
    """`localhost` by the system's getaddrinfo: refused by address, whatever its spelling."""
    url = parse_web_url("https://localhost:8443/h", "url")
    assert {
        ipaddress.ip_address(a).is_loopback for a in await system_resolve("localhost", 8443)
    } == {True}
    with pytest.raises(AddressRefused):
        await checked_addresses(url, system_resolve, allow_private_networks=False)
    allowed = await checked_addresses(url, system_resolve, allow_private_networks=True)
    assert all(a.is_loopback for a in allowed)


async def test_a_zone_index_is_dropped_and_link_local_refused() -> None:
    url = parse_web_url("https://hooks.partner.example/h", "url")
    resolve = table({"hooks.partner.example": ["fe80::1%eth0"]})
    with pytest.raises(AddressRefused):
        await checked_addresses(url, resolve, allow_private_networks=False)


async def test_a_pinned_https_request_keeps_the_name_for_host_sni_and_certificate() -> None:
    url = parse_web_url("https://Hooks.Partner.example:8443/h?x=1", "url")
    address = ipaddress.ip_address("2606:4700::1111")
    async with httpx.AsyncClient() as client:
        request = pinned_request(client, url, address, content=b"{}", headers={"a": "b"})
    assert str(request.url) == "https://[2606:4700::1111]:8443/h?x=1"
    assert request.headers["host"] == "hooks.partner.example:8443"
    assert request.headers["a"] == "b"
    assert request.extensions["sni_hostname"] == "hooks.partner.example"


async def test_an_address_literal_needs_no_sni_name() -> None:
    url = parse_web_url("https://93.184.215.14/h", "url")
    async with httpx.AsyncClient() as client:
        request = pinned_request(
            client, url, ipaddress.ip_address("93.184.215.14"), content=b"", headers={}
        )
    assert request.headers["host"] == "93.184.215.14"
    assert "sni_hostname" not in request.extensions


async def test_a_lazy_client_is_made_on_first_use_and_closed_after_the_pass() -> None:
    async with LazyClient(5.0) as idle:
        pass  # a pass with nothing due makes no client (and loads no CA store)
    assert idle._client is None
    async with LazyClient(5.0) as busy:
        client = busy.get()
        assert busy.get() is client
        assert client.follow_redirects is False
        assert client.timeout.read == 5.0
    assert client.is_closed
