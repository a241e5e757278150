"""What a partner app may register: names, exact redirect URIs, web domains, scopes and an
agreement. Pure checks; each raises `invalid(...)` with a message a developer can act on.

Redirect URIs must be absolute https URLs without a fragment (RFC 6749 §3.1.2), except on
loopback hosts (http://127.0.0.1, http://[::1], http://localhost) for development, as RFC
8252 §7.3 allows for native apps. They are matched byte for byte, never by prefix, so one
is registered only in the form a browser serialises it (`core.urls`): a URI a browser would
rewrite before loading could never match, or would match something else than it seems.
"""

import re
from dataclasses import dataclass

from candor.core.urls import UrlRefused, check_web_url, is_loopback_host, parse_web_url
from candor.partners.errors import invalid

SCOPES: dict[str, str] = {
    "profile": "See your user ID and display name",
    "share": "Let you share recommendations from the app into your conversations",
    "inbox.read": (
        "Ask to read conversations you choose — only when everyone in the conversation agrees"
    ),
}
CLIENT_TYPES = ("confidential", "public")
PRIVACY_MODES = ("k_anonymity", "differential_privacy")
# Differential privacy: cards and clicks counted per person per period (reports.privacy).
DEFAULT_CONTRIBUTION_BOUND = 10
MAX_CONTRIBUTION_BOUND = 1000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_URIS = 10
MAX_DOMAINS = 20


@dataclass(frozen=True, slots=True)
class AgreementTerms:
    purpose: str
    data_used: str
    retention_days: int = 30
    reporting_days: int = 14
    privacy: str = "k_anonymity"
    k_threshold: int = 10
    epsilon: float | None = None
    contribution_bound: int = DEFAULT_CONTRIBUTION_BOUND


def check_text(field: str, value: str, *, max_len: int, min_len: int = 1) -> str:
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        raise invalid(f"{field} must be {min_len} to {max_len} characters")
    if any(ord(c) < 32 for c in value):
        raise invalid(f"{field} must not contain control characters")
    return value


def check_scopes(scopes: str | list[str]) -> list[str]:
    names = scopes.split() if isinstance(scopes, str) else list(scopes)
    if not names:
        raise invalid("Ask for at least one scope: " + ", ".join(SCOPES))
    unknown = [s for s in names if s not in SCOPES]
    if unknown:
        raise invalid(f"Unknown scope {unknown[0]!r}; known scopes: " + ", ".join(SCOPES))
    return sorted(set(names), key=list(SCOPES).index)


def check_redirect_uri(uri: str) -> str:
    """`uri` if it is an https (or loopback http) URL without a fragment, written exactly as
    a browser serialises it; raises `invalid` otherwise, naming the form to use."""
    try:
        parsed = check_web_url(uri, "A redirect URI")
    except UrlRefused as exc:
        raise invalid(exc.message) from None
    if parsed.has_fragment:
        raise invalid("A redirect URI must not have a fragment")
    if parsed.href != uri:
        raise invalid(f"Write the redirect URI as browsers do: {parsed.href}")
    return uri


def check_homepage(url: str) -> str:
    """An https (or loopback http) URL, in the form a browser serialises it."""
    try:
        return check_web_url(url, "The homepage").href
    except UrlRefused as exc:
        raise invalid(exc.message) from None


def check_domain(domain: str) -> str:
    """A domain name (or a loopback host, for development) as browsers write hosts: lower
    case, internationalised names in their xn-- form, without the final dot."""
    domain = domain.strip().lower().rstrip(".")
    if is_loopback_host(domain):
        return domain
    try:
        parsed = parse_web_url(f"https://{domain}/", "A domain")
    except UrlRefused:
        parsed = None
    # Only a host: "a.example/x" or "a.example:8080" is more than a domain.
    plain = parsed is not None and parsed.href == f"https://{parsed.hostname}/"
    host = parsed.hostname if parsed is not None and plain else ""
    labels = host.split(".")
    well_formed = len(host) <= 253 and len(labels) >= 2
    if not (well_formed and all(_LABEL.match(label) for label in labels)):
        raise invalid(f"{domain!r} is not a domain name (like example.com)")
    return host


def host_is_on(host: str, domains: list[str]) -> bool:
    """A host is on a registered domain if it is the domain or a subdomain of it."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def check_agreement(terms: AgreementTerms) -> AgreementTerms:
    check_text("purpose", terms.purpose, max_len=2000)
    check_text("data used", terms.data_used, max_len=2000)
    if not 1 <= terms.retention_days <= 3650:
        raise invalid("retention must be 1 to 3650 days")
    if not 1 <= terms.reporting_days <= 366:
        raise invalid("the reporting period must be 1 to 366 days")
    if terms.privacy not in PRIVACY_MODES:
        raise invalid("privacy must be one of " + ", ".join(PRIVACY_MODES))
    if not 2 <= terms.k_threshold <= 1000:
        raise invalid("k must be 2 to 1000")
    if terms.privacy == "differential_privacy" and not (
        terms.epsilon is not None and 0.01 <= terms.epsilon <= 10
    ):
        raise invalid("differential privacy needs an epsilon between 0.01 and 10")
    if not 1 <= terms.contribution_bound <= MAX_CONTRIBUTION_BOUND:
        raise invalid(
            f"the contribution bound (cards and clicks counted per person per period) must "
            f"be 1 to {MAX_CONTRIBUTION_BOUND}"
        )
    return AgreementTerms(
        terms.purpose.strip(),
        terms.data_used.strip(),
        terms.retention_days,
        terms.reporting_days,
        terms.privacy,
        terms.k_threshold,
        terms.epsilon if terms.privacy == "differential_privacy" else None,
        terms.contribution_bound,
    )
