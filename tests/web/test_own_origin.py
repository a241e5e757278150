"""`relative_location`: a Location on the request's own claimed origin becomes relative."""

import pytest

from candor.web.own_origin import relative_location


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (b"http://evil.example/privacy/grants", b"/privacy/grants"),
        (b"http://EVIL.example/login?next=/x", b"/login?next=/x"),
        (b"http://evil.example", b"/"),
        (b"http://evil.example//other.example/x", b"/other.example/x"),
        # Another origin (an app's redirect URI) or scheme is left alone.
        (b"https://evil.example/cb", b"https://evil.example/cb"),
        (b"http://flix.example/cb?code=1", b"http://flix.example/cb?code=1"),
        (b"http://evil.example:8080/x", b"http://evil.example:8080/x"),
        (b"/already/relative", b"/already/relative"),
        (b"http://[::1/x", b"http://[::1/x"),
    ],
)
def test_own_origin_locations_become_relative(location: bytes, expected: bytes) -> None:
    assert relative_location(location, "http", b"evil.example") == expected
