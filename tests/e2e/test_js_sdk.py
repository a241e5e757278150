"""A real matrix-js-sdk client chats with a matrix-nio client over a real `candor serve`.

The JS side runs `tests/e2e/js/jsclient.mjs` (see its README) as a subprocess that logs in,
syncs, creates or joins a room, waits for its peer, sends N messages and waits for M from
the peer, reporting each step as a JSON line on stdout. The nio side plays the peer. Both
directions are covered: the JS client creates the room and invites nio, and nio creates the
room (with history already in it) and invites the JS client. Each side must see the other's
messages exactly once and in sending order.
"""

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from tests.e2e.conftest import ServerProcess

# The JS SDK is the subject, not the database: SQLite, with one PostgreSQL smoke below.
pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite"), pytest.mark.timeout(120)]

JS_DIR = Path(__file__).parent / "js"
JS_SCRIPT = JS_DIR / "jsclient.mjs"
NPM_INSTALL_TIMEOUT_S = 300.0
PASSWORD = "correct horse battery staple"
JS_USER = "js_alice"
NIO_USER = "nio_bob"
JS_ID = f"@{JS_USER}:localhost"
NIO_ID = f"@{NIO_USER}:localhost"
# The script's own overall deadline; every wait here is bounded a little above it.
SCRIPT_TIMEOUT_S = 25
STEP_TIMEOUT_S = SCRIPT_TIMEOUT_S + 5.0
SYNC_FILTER = {"room": {"timeline": {"limit": 1000}}}


@pytest.fixture(scope="session")
def js_deps() -> Path:
    """The driver script, with its npm dependencies installed (bounded) if missing."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node is not None, "node is not installed (needed for the matrix-js-sdk e2e test)"
    if not (JS_DIR / "node_modules" / "matrix-js-sdk").is_dir():
        assert npm is not None, "npm is not installed (needed to install matrix-js-sdk)"
        try:
            result = subprocess.run(
                [npm, "install", "--no-package-lock", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                capture_output=True,
                text=True,
                timeout=NPM_INSTALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"npm install timed out after {NPM_INSTALL_TIMEOUT_S}s") from exc
        assert result.returncode == 0, f"npm install failed:\n{result.stderr[-4000:]}"
    return JS_SCRIPT


class JsClient:
    """The running driver script: its JSON stdout lines as a queue, its stderr kept."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.stdout: list[str] = []
        self.stderr = bytearray()
        self._tasks = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode(errors="replace").strip()
            if not text:
                continue
            self.stdout.append(text)
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                obj = {"event": "unparsable", "line": text}
            self.lines.put_nowait(obj if isinstance(obj, dict) else {"event": "bad", "line": text})
        self.lines.put_nowait(None)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr.extend(chunk)

    def stderr_tail(self, chars: int = 3000) -> str:
        return self.stderr.decode(errors="replace")[-chars:]

    def describe(self) -> str:
        stdout = "\n".join(self.stdout[-20:])
        return (
            f"\n--- jsclient stdout ---\n{stdout}\n"
            f"--- jsclient stderr (tail) ---\n{self.stderr_tail()}"
        )

    async def expect(self, event: str) -> dict[str, Any]:
        """The next stdout line, which must be `event` (bounded wait)."""
        try:
            line = await asyncio.wait_for(self.lines.get(), STEP_TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(
                f"jsclient: no {event!r} line within {STEP_TIMEOUT_S}s{self.describe()}"
            ) from None
        if line is None:
            # Let the stderr reader catch up so the tail is complete.
            await self.wait_exit()
            raise AssertionError(
                f"jsclient exited ({self.proc.returncode}) before {event!r}{self.describe()}"
            )
        assert line.get("event") == event, (
            f"jsclient: expected {event!r}, got {line}{self.describe()}"
        )
        return line

    async def wait_exit(self) -> int:
        try:
            code = await asyncio.wait_for(self.proc.wait(), STEP_TIMEOUT_S)
            await asyncio.wait_for(asyncio.gather(*self._tasks), 5.0)
        except TimeoutError:
            raise AssertionError(f"jsclient did not exit{self.describe()}") from None
        return code

    async def close(self) -> None:
        if self.proc.returncode is None:
            with suppress(ProcessLookupError):
                self.proc.kill()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def js_client(
    server: ServerProcess, script: Path, *, room: str, send: int, expect: int
) -> AsyncIterator[JsClient]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        "--homeserver",
        server.base_url,
        "--user",
        JS_USER,
        "--password",
        PASSWORD,
        "--room",
        room,
        "--peer",
        NIO_ID,
        "--send",
        str(send),
        "--expect",
        str(expect),
        "--timeout",
        str(SCRIPT_TIMEOUT_S),
        cwd=JS_DIR,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    client = JsClient(proc)
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def nio_bob(server: ServerProcess) -> AsyncIterator[AsyncClient]:
    config = AsyncClientConfig(
        max_timeouts=5, request_timeout=20, max_timeout_retry_wait_time=1, max_limit_exceeded=0
    )
    client = AsyncClient(server.base_url, "", config=config)
    try:
        resp = await client.register(NIO_USER, PASSWORD, device_name="nio_bob's laptop")
        assert isinstance(resp, RegisterResponse), resp
        assert client.user_id == NIO_ID
        synced = await client.sync(timeout=0, sync_filter=SYNC_FILTER)
        assert isinstance(synced, SyncResponse), synced
        yield client
    finally:
        await client.close()


async def register_js_user(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
        resp = await http.post(
            "/_matrix/client/v3/register",
            json={"username": JS_USER, "password": PASSWORD, "auth": {"type": "m.login.dummy"}},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["user_id"] == JS_ID


async def sync_messages_from(
    client: AsyncClient, room_id: str, sender: str, count: int
) -> list[str]:
    """Sync (bounded) until `count` text messages from `sender` arrived in `room_id`."""
    bodies: list[str] = []
    seen: set[str] = set()
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while len(bodies) < count:
        assert time.monotonic() < deadline, f"{client.user_id} got only {bodies} from {sender}"
        resp = await client.sync(timeout=1000, sync_filter=SYNC_FILTER)
        assert isinstance(resp, SyncResponse), resp
        room = resp.rooms.join.get(room_id)
        if room is None:
            continue
        assert not room.timeline.limited, "a /sync with a 1000-event limit came back limited"
        for event in room.timeline.events:
            if isinstance(event, RoomMessageText) and event.sender == sender:
                assert event.event_id not in seen, f"duplicate event {event.event_id}"
                seen.add(event.event_id)
                bodies.append(event.body)
    return bodies


async def send_messages(client: AsyncClient, room_id: str, bodies: list[str]) -> None:
    for body in bodies:
        resp = await client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body}
        )
        assert isinstance(resp, RoomSendResponse), resp


async def finish_js_side(js: JsClient, *, sent: int) -> list[str]:
    """The driver's last steps: peer joined, `sent` messages out, bodies in, clean exit."""
    await js.expect("peer_joined")
    out = await js.expect("sent")
    assert out["count"] == sent, out
    received = await js.expect("received")
    await js.expect("done")
    code = await js.wait_exit()
    assert code == 0, f"jsclient exited {code}{js.describe()}"
    bodies: list[str] = received["bodies"]
    return bodies


@pytest.mark.engines("sqlite", "postgresql")  # the PostgreSQL smoke
async def test_js_client_creates_room_and_chats_with_nio(
    server: ServerProcess, js_deps: Path
) -> None:
    await register_js_user(server)
    nio_bodies = [f"nio message {i}" for i in range(5)]
    js_bodies = [f"js message {i}" for i in range(5)]
    async with nio_bob(server) as bob, js_client(server, js_deps, room="", send=5, expect=5) as js:
        assert (await js.expect("logged_in"))["user_id"] == JS_ID
        await js.expect("synced")
        room_id = (await js.expect("room"))["room_id"]
        assert isinstance(room_id, str), room_id
        assert room_id.startswith("!"), room_id

        # bob was invited by createRoom before the script printed the room id.
        joined = await bob.join(room_id)
        assert isinstance(joined, JoinResponse), f"{joined}{js.describe()}"

        async def nio_side() -> list[str]:
            await send_messages(bob, room_id, nio_bodies)
            return await sync_messages_from(bob, room_id, JS_ID, 5)

        js_got, nio_got = await asyncio.wait_for(
            asyncio.gather(finish_js_side(js, sent=5), nio_side()), 2 * STEP_TIMEOUT_S
        )
        assert js_got == nio_bodies, f"{js_got}{js.describe()}"
        assert nio_got == js_bodies, f"{nio_got}{js.describe()}"


async def test_nio_creates_room_and_js_client_joins(server: ServerProcess, js_deps: Path) -> None:
    await register_js_user(server)
    nio_before = [f"nio message {i}" for i in range(3)]
    nio_after = [f"nio message {i}" for i in range(3, 6)]
    js_bodies = [f"js message {i}" for i in range(3)]
    async with nio_bob(server) as bob:
        # Unencrypted on purpose: the JS client runs without its crypto module.
        created = await bob.room_create(
            name="candor e2e (nio)", invite=[JS_ID], preset=RoomPreset.public_chat
        )
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        await send_messages(bob, room_id, nio_before)

        async with js_client(server, js_deps, room=room_id, send=3, expect=6) as js:
            assert (await js.expect("logged_in"))["user_id"] == JS_ID
            await js.expect("synced")
            assert (await js.expect("joined"))["room_id"] == room_id

            async def nio_side() -> list[str]:
                await send_messages(bob, room_id, nio_after)
                return await sync_messages_from(bob, room_id, JS_ID, 3)

            js_got, nio_got = await asyncio.wait_for(
                asyncio.gather(finish_js_side(js, sent=3), nio_side()), 2 * STEP_TIMEOUT_S
            )
            assert js_got == nio_before + nio_after, f"{js_got}{js.describe()}"
            assert nio_got == js_bodies, f"{nio_got}{js.describe()}"
