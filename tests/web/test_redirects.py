"""`next` after login (pure): local paths pass, anything a browser could read as another
site becomes "/"."""

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.web.redirects import login_url, safe_next


@pytest.mark.parametrize(
    "target", ["/", "/privacy/accesses", "/privacy/accesses?limit=5&x=%2F", "/a/b#frag"]
)
def test_local_paths_pass(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "https://evil.example/",
        "HTTPS://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "data:text/html,x",
        "evil.example/path",
        "/\t/evil.example",
        "/\r\n/evil.example",
        " /path",
        "/caf\u00e9",
        "/" + "a" * 2000,
    ],
)
def test_anything_else_goes_home(target: str | None) -> None:
    assert safe_next(target) == "/"


@given(st.text(max_size=60))
def test_whatever_comes_in_the_result_is_a_path_on_this_site(raw: str) -> None:
    result = safe_next(raw)
    parts = urlsplit(result)
    assert result.startswith("/")
    assert not result.startswith("//")
    assert "\\" not in result
    assert not parts.scheme
    assert not parts.netloc
    assert result.isascii()
    assert result.isprintable()


def test_the_login_url_carries_only_a_safe_next() -> None:
    assert login_url("/privacy/accesses?limit=5") == "/login?next=/privacy/accesses%3Flimit%3D5"
    assert login_url("/") == "/login"
    assert login_url("//evil.example") == "/login"
    assert login_url(None) == "/login"
