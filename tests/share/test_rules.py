"""The pure share checks: labels, links on the app's domains, and the card's content."""

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.partners.errors import PartnerError
from candor.share.rules import ShareDraft, card_content, check_draft, check_label, url_on_domains

DOMAINS = ("flix.example",)
LABEL_CHARS = string.ascii_lowercase + string.digits + "_-"


@given(st.text(alphabet=LABEL_CHARS, min_size=1, max_size=32))
def test_short_labels_of_the_allowed_charset_pass(label: str) -> None:
    assert check_label("variant", label) == label


@given(st.text(max_size=64))
def test_a_label_passes_only_with_1_to_32_allowed_characters(label: str) -> None:
    ok = re.fullmatch(r"[a-z0-9_-]{1,32}", label) is not None
    if ok:
        assert check_label("surface", label) == label
    else:
        with pytest.raises(PartnerError) as info:
            check_label("surface", label)
        assert info.value.status == 400


@given(st.text(alphabet=string.ascii_lowercase + ".-", min_size=1, max_size=30))
def test_a_link_is_accepted_only_on_a_registered_domain(host: str) -> None:
    h = host.rstrip(".")
    on = h == "flix.example" or h.endswith(".flix.example")
    assert url_on_domains(f"https://{host}/x", DOMAINS) is on


@pytest.mark.parametrize(
    "url",
    [
        "http://flix.example/x",  # http off loopback
        "javascript:alert(1)",
        "//flix.example/x",
        "/relative",
        "https://flix.example.evil.test/x",
        "https://evilflix.example/x",
        "https://user@flix.example/x",
        "https://flix.example/\nx",
        "https://[::1/x",
        "ftp://flix.example/x",
        "https://flix.example/" + "a" * 2000,
    ],
)
def test_bad_links_are_refused(url: str) -> None:
    assert not url_on_domains(url, DOMAINS)


@pytest.mark.parametrize(
    "url",
    [
        "https://flix.example\\@evil.test/x",  # a browser reads \\ as /, urlsplit as path
        "https:\\\\flix.example\\x",
        "https://evil.test\\.flix.example/x",  # urlsplit: host on flix.example; browser: evil.test
        "https://flix.example%2eevil.test/x",  # a browser goes to flix.example.evil.test
        "https://flix.example\u3002evil.test/x",  # ideographic full stop: a dot to IDNA
        "https://flix.example:pw@evil.test/x",
        "https://flix.example/\x7f",
        "http://0x7f.1/x",  # 127.0.0.1, not on the app's domains
    ],
)
def test_links_a_browser_would_take_elsewhere_are_refused(url: str) -> None:
    assert not url_on_domains(url, DOMAINS)
    with pytest.raises(PartnerError):
        check_draft(
            "app_x",
            DOMAINS,
            url=url,
            title="T",
            description="",
            image=url,
            interface="web",
            surface="s",
            variant="a",
        )


def test_the_link_and_image_kept_are_what_a_browser_loads() -> None:
    draft = check_draft(
        "app_x",
        DOMAINS,
        url="HTTPS://Sub.FLIX.example:443/a/../t?q=1",
        title="T",
        description="",
        image="https://flix.example/affiche-é.png",
        interface="web",
        surface="s",
        variant="a",
    )
    assert draft.url == "https://sub.flix.example/t?q=1"
    assert draft.image == "https://flix.example/affiche-%C3%A9.png"


def test_loopback_http_is_allowed_for_development() -> None:
    assert url_on_domains("http://127.0.0.1:8000/t", ("127.0.0.1",))
    assert url_on_domains("https://sub.flix.example/t?q=1", DOMAINS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "x" * 201),
        ("description", "x" * 1001),
        ("image", "https://e.test/i"),
    ],
)
def test_draft_fields_are_bounded(field: str, value: str) -> None:
    fields = {
        "url": "https://flix.example/t",
        "title": "T",
        "description": "",
        "image": None,
        "interface": "web",
        "surface": "s",
        "variant": "a",
        field: value,
    }
    with pytest.raises(PartnerError):
        check_draft("app_x", DOMAINS, **fields)  # type: ignore[arg-type]


def _draft() -> ShareDraft:
    return ShareDraft("app_x", "https://flix.example/t", "Title", "Desc", None, "web", "s", "a")


def test_the_card_links_to_candor_and_names_the_app() -> None:
    content = card_content(_draft(), "Flix", "https://candor.test/c/tok", "", encrypted_room=False)
    assert content["msgtype"] == "m.text"
    body = str(content["body"])
    assert "Title" in body
    assert "https://candor.test/c/tok" in body
    assert "shared via Flix" in body
    assert "https://flix.example/t" not in body
    assert content["io.candor.card"] == {
        "app": {"id": "app_x", "name": "Flix"},
        "title": "Title",
        "description": "Desc",
        "image": None,
        "link": "https://candor.test/c/tok",
    }
    assert "io.candor.card.unencrypted" not in content


def test_in_an_encrypted_room_the_card_says_it_is_not_encrypted() -> None:
    content = card_content(_draft(), "Flix", "https://c.test/c/t", "hi", encrypted_room=True)
    assert str(content["body"]).startswith("Shared via Flix — not encrypted:")
    assert content["io.candor.card.unencrypted"] is True
