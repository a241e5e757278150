"""The request adapter between Starlette and authlib: requests in, answers out.

Why apart from authlib's models (`authlib_models.py`): reading an HTTP request strictly
(urlencoded ASCII, no NULs, a bounded number of fields, a Basic header authlib can decode)
is about the wire, and is the same for every grant and endpoint. A request authlib could
not read is refused here as `invalid_request`, before any callback runs.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from starlette.requests import Request
from starlette.responses import Response

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 50
Params = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    """What authlib answered: a status, a JSON body (or none) and headers."""

    status: int
    body: Mapping[str, object] | None
    headers: tuple[tuple[str, str], ...]

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    def to_response(self) -> Response:
        content = b"" if self.body is None else json.dumps(dict(self.body)).encode()
        response = Response(content, self.status, media_type="application/json")
        for name, value in self.headers:
            response.headers[name] = value
        return response


def _parse(text: str) -> Params:
    """Parse urlencoded parameters strictly; OAuth2Error (invalid_request) if unreadable."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("The parameters could not be read.") from None
    out: Params = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise InvalidRequestError("NUL characters are not allowed.")
        out.setdefault(name, []).append(value)
    return out


def _safe_authorization(value: str | None) -> str | None:
    """Drop a Basic header authlib could not decode (it would raise, not refuse)."""
    if value is None or not value[:6].lower().startswith("basic "):
        return value
    try:
        base64.b64decode(value[6:].strip().encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        return None
    return value


class _Payload(OAuth2Payload):  # type: ignore[misc]  # authlib is untyped
    def __init__(self, params: Params) -> None:
        self._datalist = params
        self._data = {k: v[0] for k, v in params.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> Params:
        return self._datalist


class CandorRequest(OAuth2Request):  # type: ignore[misc]  # authlib is untyped
    """An HTTP request as authlib reads it; `granted_scope` is what the person allowed."""

    def __init__(self, method: str, headers: dict[str, str], args: Params, form: Params) -> None:
        # TLS ends at the reverse proxy in front of Candor (docs/web.md), so authlib's
        # own https check, which sees only the inner hop, is given the public scheme.
        super().__init__(method, "https://candor.invalid/", headers=headers)
        self._form = {k: v[0] for k, v in form.items()}
        merged: Params = {k: list(v) for k, v in args.items()}
        for k, v in form.items():
            merged.setdefault(k, []).extend(v)
        self.payload = _Payload(merged)
        self.granted_scope = ""

    @property
    def form(self) -> dict[str, str]:
        return self._form


async def read_request(request: Request, *, with_body: bool) -> CandorRequest:
    """Starlette → CandorRequest. Raises OAuth2Error (invalid_request) if unreadable."""
    args = _parse(request.url.query)
    form: Params = {}
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if with_body and content_type == FORM_CONTENT_TYPE:
        body = await request.body()
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidRequestError("The body must be urlencoded ASCII.") from None
        form = _parse(text)
    headers: dict[str, str] = {}
    auth = _safe_authorization(request.headers.get("authorization"))
    if auth is not None:
        headers["Authorization"] = auth
    return CandorRequest(request.method, headers, args, form)


def error_response(error: OAuth2Error) -> OAuthResponse:
    status, body, headers = error()
    return OAuthResponse(status, body if isinstance(body, dict) else None, tuple(headers))
