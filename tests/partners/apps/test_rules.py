"""What a partner app may register: exact https (or loopback http) redirect URIs without
fragments, real domain names, known scopes and an agreement within bounds."""

import string
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.core.urls import parse_web_url
from candor.partners.apps.rules import (
    SCOPES,
    AgreementTerms,
    check_agreement,
    check_domain,
    check_redirect_uri,
    check_scopes,
    check_text,
    host_is_on,
)
from candor.partners.errors import PartnerError

LABEL = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20)
# The last label has a letter: a name ending in a number is an IPv4 address to a browser.
TLD = st.text(string.ascii_lowercase, min_size=2, max_size=6)
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=3), TLD
)
PATH = st.text(string.ascii_letters + string.digits + "/-._~%!$&'()*+,;=:@", max_size=40)
QUERY = st.text(string.ascii_letters + string.digits + "=&-_", max_size=20)
LOOPBACK = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.3.4.5"])
PORT = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))


def refused(fn: object, *args: object) -> str:
    assert callable(fn)
    with pytest.raises(PartnerError) as caught:
        fn(*args)
    assert caught.value.status == 400
    assert caught.value.errcode == "CANDOR_INVALID_PARAM"
    return caught.value.message


# --- redirect URIs --------------------------------------------------------------------------


def kept_if_in_browser_form(uri: str) -> None:
    """Kept byte for byte if a browser writes it the same; else refused, naming that form."""
    href = parse_web_url(uri, "uri").href
    if href == uri:
        assert check_redirect_uri(uri) == uri
    else:
        assert refused(check_redirect_uri, uri) == f"Write the redirect URI as browsers do: {href}"


@given(host=DOMAIN, port=PORT, path=PATH, query=QUERY)
def test_an_https_uri_is_kept_byte_for_byte(host: str, port: str, path: str, query: str) -> None:
    kept_if_in_browser_form(f"https://{host}{port}/{path}" + (f"?{query}" if query else ""))


@given(host=LOOPBACK, port=PORT, path=PATH)
def test_http_is_allowed_on_loopback_hosts_only(host: str, port: str, path: str) -> None:
    kept_if_in_browser_form(f"http://{host}{port}/{path}")


@pytest.mark.parametrize(
    ("uri", "browser_form"),
    [
        ("https://flix.example", "https://flix.example/"),
        ("https://Flix.example/cb", "https://flix.example/cb"),
        ("https://flix.example:443/cb", "https://flix.example/cb"),
        ("https://flix.example/a/../cb", "https://flix.example/cb"),
        ("http://127.1:8080/cb", "http://127.0.0.1:8080/cb"),
    ],
)
def test_a_redirect_uri_a_browser_would_rewrite_is_refused_with_its_browser_form(
    uri: str, browser_form: str
) -> None:
    assert browser_form in refused(check_redirect_uri, uri)
    assert check_redirect_uri(browser_form) == browser_form


@given(host=DOMAIN.filter(lambda d: d != "localhost"), path=PATH)
def test_plain_http_elsewhere_is_refused(host: str, path: str) -> None:
    refused(check_redirect_uri, f"http://{host}/{path}")


@given(host=st.one_of(DOMAIN, LOOPBACK), path=PATH, fragment=st.text(max_size=10))
def test_a_fragment_is_never_allowed(host: str, path: str, fragment: str) -> None:
    scheme = "http" if host in {"127.0.0.1", "localhost", "[::1]", "127.3.4.5"} else "https"
    message = refused(check_redirect_uri, f"{scheme}://{host}/{path}#{fragment}")
    # A fragment holding a control character or a backslash meets that refusal first.
    assert any(reason in message for reason in ("fragment", "one line", "backslash"))


@given(st.text(max_size=80))
def test_any_text_is_accepted_only_as_https_or_loopback_http(text: str) -> None:
    """Never a crash, whatever the input: either refused (400) or returned unchanged."""
    try:
        out = check_redirect_uri(text)
    except PartnerError as exc:
        status = exc.status
    else:
        status = 200
        assert out == text
        assert "#" not in text
        assert text.startswith(("https://", "http://"))
    assert status in (200, 400)


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "/callback",
        "example.com/callback",
        "ftp://example.com/cb",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "http://example.com/cb",
        "http://localhost.evil.example/cb",
        "http://127.0.0.1@evil.example/cb",
        "https://example.com/cb#",
        "https://example.com/c b",
        "https://example.com/cb\n",
        "http://[::1",
        "http://[zz]/cb",
        "https://example.com/" + "a" * 2000,
        "https://example.com\\@evil.example/cb",
        "https:\\\\evil.example\\cb",
        "https://user:pw@example.com/cb",
        "https://example.com/c\x7fb",
        "http://0x7f.1.evil.example/cb",
    ],
)
def test_malformed_or_unsafe_redirect_uris_are_refused(uri: str) -> None:
    refused(check_redirect_uri, uri)


# --- domains --------------------------------------------------------------------------------


@given(DOMAIN)
def test_domain_names_are_accepted(domain: str) -> None:
    if any(label.startswith("-") or label.endswith("-") for label in domain.split(".")):
        return
    assert check_domain(domain) == domain


@given(DOMAIN)
def test_domains_are_normalised_to_lower_case_without_the_final_dot(domain: str) -> None:
    assert check_domain(" " + domain.upper() + ". ") == domain


@given(
    left=DOMAIN,
    bad=st.sampled_from(list("/:@_ #?!*\\")),
)
def test_a_domain_with_any_other_character_is_refused(left: str, bad: str) -> None:
    refused(check_domain, left + bad + "x")


@pytest.mark.parametrize(
    "domain",
    ["", "com", "-a.example", "a-.example", "a..example", "a" * 64 + ".example", "https://a.b"],
)
def test_malformed_domains_are_refused(domain: str) -> None:
    refused(check_domain, domain)


def test_a_domain_is_kept_as_browsers_write_hosts() -> None:
    assert check_domain("Bücher.Example") == "xn--bcher-kva.example"
    assert check_domain("flix%2Eexample") == "flix.example"
    assert check_domain("localhost") == "localhost"


def test_host_is_on_a_domain_or_its_subdomains_only() -> None:
    assert host_is_on("example.com", ["example.com"])
    assert host_is_on("WWW.Example.com.", ["example.com"])
    assert not host_is_on("evilexample.com", ["example.com"])
    assert not host_is_on("example.com.evil.net", ["example.com"])
    assert not host_is_on("example.com", [])


# --- scopes, text, agreement ----------------------------------------------------------------


def test_scopes_are_deduplicated_in_canonical_order() -> None:
    assert check_scopes("inbox.read profile profile") == ["profile", "inbox.read"]
    assert check_scopes(["share", "profile"]) == ["profile", "share"]
    assert check_scopes(" ".join(SCOPES)) == list(SCOPES)


@pytest.mark.parametrize("scopes", ["", "   ", [], "profile admin", ["inbox.write"]])
def test_unknown_or_no_scopes_are_refused(scopes: str | list[str]) -> None:
    refused(check_scopes, scopes)


def test_text_is_trimmed_and_bounded() -> None:
    assert check_text("name", "  Flix  ", max_len=10) == "Flix"
    with pytest.raises(PartnerError):
        check_text("name", "   ", max_len=10)
    with pytest.raises(PartnerError, match="control"):
        check_text("name", "a\x07b", max_len=10)


def test_text_length_bounds() -> None:
    with pytest.raises(PartnerError):
        check_text("name", "x" * 11, max_len=10)


def test_an_agreement_within_bounds_is_kept() -> None:
    terms = check_agreement(AgreementTerms(" Recommend films ", " Shares and clicks "))
    assert terms == AgreementTerms("Recommend films", "Shares and clicks")


def test_the_contribution_bound_defaults_to_ten_and_is_kept() -> None:
    assert check_agreement(AgreementTerms("p", "d")).contribution_bound == 10
    dp = AgreementTerms("p", "d", privacy="differential_privacy", epsilon=1.0)
    for bound in (1, 25, 1000):
        assert check_agreement(replace(dp, contribution_bound=bound)).contribution_bound == bound


def test_epsilon_is_kept_only_with_differential_privacy() -> None:
    dp = check_agreement(AgreementTerms("p", "d", privacy="differential_privacy", epsilon=1.0))
    k = check_agreement(AgreementTerms("p", "d", epsilon=1.0))
    assert dp.epsilon == 1.0
    assert k.epsilon is None


@pytest.mark.parametrize(
    "terms",
    [
        AgreementTerms("", "d"),
        AgreementTerms("p", ""),
        AgreementTerms("p", "d", retention_days=0),
        AgreementTerms("p", "d", retention_days=3651),
        AgreementTerms("p", "d", reporting_days=0),
        AgreementTerms("p", "d", reporting_days=367),
        AgreementTerms("p", "d", privacy="none"),
        AgreementTerms("p", "d", k_threshold=1),
        AgreementTerms("p", "d", privacy="differential_privacy"),
        AgreementTerms("p", "d", privacy="differential_privacy", epsilon=50.0),
        AgreementTerms("p", "d", privacy="differential_privacy", epsilon=1.0, contribution_bound=0),
        AgreementTerms(
            "p", "d", privacy="differential_privacy", epsilon=1.0, contribution_bound=1001
        ),
    ],
)
def test_agreements_out_of_bounds_are_refused(terms: AgreementTerms) -> None:
    refused(check_agreement, terms)
