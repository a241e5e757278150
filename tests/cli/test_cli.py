"""The `candor` command in-process: exit codes, one-line errors, and real effects on the database."""

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from candor.app import create_app
from candor.cli.main import app
from candor.config import Settings
from tests.helpers.databases import empty_pg_database

V3 = "/_matrix/client/v3"


# Flags and the test's own settings alone configure things: no CANDOR_* variable or
# candor.toml from the developer's shell leaks in.
pytestmark = pytest.mark.usefixtures("clean_candor_env")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "d"


def candor(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line_error(result: Result) -> None:
    assert result.stderr.startswith("error:"), result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


async def _users(url: str) -> dict[str, bool]:
    engine = create_async_engine(Settings(database_url=url).sqlalchemy_url())
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT user_id, is_admin FROM users"))
            return {user_id: bool(is_admin) for user_id, is_admin in rows}
    finally:
        await engine.dispose()


def test_db_upgrade_creates_the_sqlite_database_in_the_data_dir(data_dir: Path) -> None:
    result = candor("db", "upgrade", "--data-dir", data_dir)

    assert result.exit_code == 0, result.output
    with sqlite3.connect(data_dir / "candor.db") as conn:
        rows = conn.execute("SELECT name, position FROM stream_positions").fetchall()
    assert rows == [("events", 0)]


def test_user_create_prints_the_user_id(data_dir: Path) -> None:
    result = candor("user", "create", "alice", "--password", "pw", "--data-dir", data_dir)

    assert result.exit_code == 0, result.output
    assert "@alice:localhost" in result.stdout
    assert asyncio.run(_users(f"sqlite:///{data_dir / 'candor.db'}")) == {"@alice:localhost": False}


def test_user_create_twice_fails_with_one_line_error(data_dir: Path) -> None:
    first = candor("user", "create", "alice", "--password", "pw", "--data-dir", data_dir)
    second = candor("user", "create", "alice", "--password", "other", "--data-dir", data_dir)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 1
    assert_one_line_error(second)
    assert "already taken" in second.stderr


def test_user_create_honours_server_name(data_dir: Path) -> None:
    result = candor(
        "user", "create", "alice", "--password", "pw", "--data-dir", data_dir,
        "--server-name", "chat.example",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "@alice:chat.example" in result.stdout


def test_invalid_server_name_is_a_usage_error(data_dir: Path) -> None:
    result = candor(
        "user", "create", "alice", "--password", "pw", "--data-dir", data_dir,
        "--server-name", "bad name!",
    )  # fmt: skip

    assert result.exit_code == 2
    assert_one_line_error(result)
    assert not data_dir.exists()


def test_unsupported_database_url_is_a_usage_error(data_dir: Path) -> None:
    result = candor("db", "upgrade", "--data-dir", data_dir, "--database-url", "mysql://h/db")

    assert result.exit_code == 2
    assert_one_line_error(result)


async def _login(client: httpx.AsyncClient, name: str, password: str) -> str:
    r = await client.post(
        f"{V3}/login",
        json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name},
            "password": password,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


async def _set_displayname(
    client: httpx.AsyncClient, token: str, user_id: str, name: str
) -> httpx.Response:
    return await client.put(
        f"{V3}/profile/{user_id}/displayname",
        json={"displayname": name},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_admin_flag_grants_admin_powers_in_the_server(data_dir: Path) -> None:
    admin = await asyncio.to_thread(
        candor, "user", "create", "root", "--password", "pw1", "--admin", "--data-dir", data_dir
    )
    plain = await asyncio.to_thread(
        candor, "user", "create", "bob", "--password", "pw2", "--data-dir", data_dir
    )
    assert admin.exit_code == 0, admin.output
    assert plain.exit_code == 0, plain.output

    server = create_app(Settings(data_dir=data_dir))
    async with server.router.lifespan_context(server):
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as client:
            root_token = await _login(client, "root", "pw1")
            bob_token = await _login(client, "bob", "pw2")

            by_admin = await _set_displayname(client, root_token, "@bob:localhost", "Robert")
            by_plain = await _set_displayname(client, bob_token, "@root:localhost", "Mallory")
            profile = (await client.get(f"{V3}/profile/@root:localhost")).json()

    assert by_admin.status_code == 200, by_admin.text
    assert by_plain.status_code == 403
    assert by_plain.json()["errcode"] == "M_FORBIDDEN"
    assert profile["displayname"] == "root"


def test_user_create_on_postgresql(data_dir: Path) -> None:
    with empty_pg_database() as url:
        args = ("user", "create", "carol", "--password", "pw", "--data-dir", data_dir)
        created = candor(*args, "--admin", "--database-url", url)
        again = candor(*args, "--database-url", url)
        users = asyncio.run(_users(url))

    assert created.exit_code == 0, created.output
    assert "@carol:localhost" in created.stdout
    assert again.exit_code == 1
    assert_one_line_error(again)
    assert users == {"@carol:localhost": True}
    # The PostgreSQL account lives only there: no SQLite file was made in the data dir.
    assert not (data_dir / "candor.db").exists()


def test_unreachable_database_fails_with_one_line_error(data_dir: Path) -> None:
    result = candor(
        "user", "create", "alice", "--password", "pw", "--data-dir", data_dir,
        "--database-url", "postgresql://postgres@127.0.0.1:1/candor",
    )  # fmt: skip

    assert result.exit_code == 1
    assert_one_line_error(result)
    assert "cannot prepare the database" in result.stderr


def test_serve_refuses_a_bad_public_base_url_before_starting(data_dir: Path) -> None:
    result = candor(
        "serve", "--data-dir", data_dir, "--port", "1", "--public-base-url", "https://u@x.example"
    )

    assert result.exit_code == 2
    assert_one_line_error(result)
    assert "public_base_url" in result.stderr
    assert not data_dir.exists()
