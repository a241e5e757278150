"""Shared steps of the OAuth e2e tests: a real app made with `candor partner`, a person
registered over the Matrix API, and the checks a real OAuth client (authlib's
AsyncOAuth2Client) makes once it holds a code: token, /partner/v1/me, rotation, reuse,
revocation (RFC 7009) and introspection (RFC 7662)."""

import json
import os
import socket
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx
from authlib.common.security import generate_token
from authlib.deprecate import AuthlibDeprecationWarning

from tests.e2e.conftest import ServerProcess

with warnings.catch_warnings():
    # authlib 1.9 prefers the `httpx2` fork and warns (once, at import) when it falls
    # back to httpx, which Candor pins; the client API is the same.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

CANDOR = Path(sys.executable).parent / "candor"
PASSWORD = "correct horse"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class RegisteredApp:
    client_id: str
    client_secret: str
    redirect_uri: str


def candor(server: ServerProcess, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    env |= {
        "CANDOR_DATA_DIR": str(server.data_dir),
        "CANDOR_DATABASE_URL": server.database_url,
        "CANDOR_SERVER_NAME": "localhost",
    }
    env |= server.env  # the server's own settings (a webhook check in the CLI reads them)
    done = subprocess.run(
        [str(CANDOR), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=server.data_dir,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def register_app(server: ServerProcess, *, approve: bool = True) -> RegisteredApp:
    """`candor partner create --json` (+ `approve`), with a loopback redirect URI."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
    out = candor(
        server,
        "partner",
        "create",
        "--name",
        "Flix",
        "--redirect-uri",
        redirect_uri,
        "--domain",
        "flix.example",
        "--scope",
        "profile share",
        "--purpose",
        "Recommend films to friends",
        "--retention-days",
        "45",
        "--json",
    )
    made = json.loads(out)
    if approve:
        candor(server, "partner", "approve", made["client_id"])
    return RegisteredApp(made["client_id"], made["client_secret"], redirect_uri)


async def register_person(server: ServerProcess, name: str = "alice") -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
        r = await http.post(
            "/_matrix/client/v3/register",
            json={"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
        )
        assert r.status_code == 200, r.text


def oauth_client(server: ServerProcess, app: RegisteredApp) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=app.client_id,
        client_secret=app.client_secret,
        scope="profile share",
        redirect_uri=app.redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        timeout=20,
    )


def authorization_url(server: ServerProcess, client: AsyncOAuth2Client) -> tuple[str, str, str]:
    """(url, state, code_verifier) of a new authorization request with PKCE S256."""
    verifier = generate_token(64)
    url, state = client.create_authorization_url(
        f"{server.base_url}/oauth/authorize", code_verifier=verifier
    )
    return url, state, verifier


async def exchange(
    server: ServerProcess, client: AsyncOAuth2Client, callback: str, state: str, verifier: str
) -> dict[str, str]:
    token = await client.fetch_token(
        f"{server.base_url}/oauth/token",
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    return dict(token)


async def use_rotate_and_reuse(
    server: ServerProcess, client: AsyncOAuth2Client, first: dict[str, str]
) -> None:
    """/partner/v1/me with the token; refresh (rotation); reuse the old refresh token:
    refused, and the whole family ends (the new access token too)."""
    base = server.base_url
    meta = (await client.get(f"{base}/.well-known/oauth-authorization-server")).json()
    assert meta["code_challenge_methods_supported"] == ["S256"]
    me = await client.get(f"{base}/partner/v1/me")
    assert me.status_code == 200, me.text
    assert me.json() == {"user_id": "@alice:localhost", "displayname": "alice"}

    second = await client.refresh_token(
        meta["token_endpoint"], refresh_token=first["refresh_token"]
    )
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await client.get(f"{base}/partner/v1/me")).status_code == 200

    async with httpx.AsyncClient(base_url=base, timeout=20) as raw:
        reuse = await raw.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            auth=(str(client.client_id), str(client.client_secret)),
        )
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    gone = await client.get(f"{base}/partner/v1/me")
    assert gone.status_code == 401
    assert gone.json()["errcode"] == "CANDOR_UNKNOWN_TOKEN"
    dead = await client.introspect_token(
        meta["introspection_endpoint"], token=second["access_token"]
    )
    assert dead.json() == {"active": False}


async def revoke_and_introspect(
    server: ServerProcess, client: AsyncOAuth2Client, token: dict[str, str]
) -> None:
    base = server.base_url
    live = await client.introspect_token(f"{base}/oauth/introspect", token=token["access_token"])
    body = live.json()
    assert body["active"] is True
    assert body["client_id"] == client.client_id
    assert body["sub"] == "@alice:localhost"
    assert body["scope"] == "profile share"
    r = await client.revoke_token(
        f"{base}/oauth/revoke", token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert r.status_code == 200
    async with httpx.AsyncClient(base_url=base, timeout=20) as raw:
        me = await raw.get(
            "/partner/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert me.status_code == 401
    dead = await client.introspect_token(f"{base}/oauth/introspect", token=token["access_token"])
    assert dead.json() == {"active": False}
