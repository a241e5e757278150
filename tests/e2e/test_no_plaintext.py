"""The server never holds the plaintext of an encrypted room (docs/encryption.md).

alice and bob exchange messages carrying random canary strings in an encrypted DM with
matrix-nio, and each decrypts the other's (so the messages really went through). Then
every row of every table is searched for the canaries, on SQLite and on PostgreSQL, and
on SQLite also the raw bytes of every file in the data dir: the database, its `-wal` and
`-shm` files (searched while the server runs, before a checkpoint can fold the WAL away)
and the server log. The search runs again after a graceful stop. None may be found.

As a positive control, alice also sends one unencrypted message with a different canary
in a `public_chat` room; the same search must find it, or it proves nothing.
"""

import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path

import asyncpg
import pytest
from nio import RoomPreset, RoomSendResponse

from tests.e2e.conftest import ServerProcess
from tests.helpers.nio import create_room, device_pool, encryption_state

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

Hits = dict[str, list[str]]  # canary -> where it was found


def canary(kind: str) -> str:
    return f"{kind}-CANARY-{uuid.uuid4().hex}"


def needles(marker: str) -> list[bytes]:
    """The byte forms a stored copy could take: UTF-8, and UTF-16 for good measure."""
    return [marker.encode("utf-8"), marker.encode("utf-16-le"), marker.encode("utf-16-be")]


def contains(value: object, marker: str) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return any(n in raw for n in needles(marker))
    return marker in (value if isinstance(value, str) else str(value))


def scan_values(
    hits: Hits, markers: Iterable[str], where: str, columns: list[str], row: Iterable[object]
) -> None:
    for column, value in zip(columns, row, strict=True):
        for marker in markers:
            if contains(value, marker):
                hits.setdefault(marker, []).append(f"{where}.{column}")


def scan_files(data_dir: Path, markers: Iterable[str]) -> tuple[Hits, list[str]]:
    """Every file under `data_dir`, byte for byte. Returns the hits and the files read."""
    hits: Hits = {}
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    for path in files:
        data = path.read_bytes()
        for marker in markers:
            if any(n in data for n in needles(marker)):
                hits.setdefault(marker, []).append(f"file {path.relative_to(data_dir)}")
    return hits, [p.name for p in files]


def scan_sqlite(db_path: Path, markers: Iterable[str]) -> tuple[Hits, int]:
    """Every column of every row of every table, through a read-only connection (which
    reads the WAL too and never checkpoints it). Returns the hits and the rows read."""
    hits: Hits = {}
    rows = 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        assert tables, "no tables in the SQLite database"
        for table in tables:
            # The name comes from sqlite_master, not from input.
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                rows += 1
                scan_values(hits, markers, table, columns, row)
    finally:
        conn.close()
    return hits, rows


async def scan_postgres(database_url: str, markers: Iterable[str]) -> tuple[Hits, int]:
    """Every column of every row of every base table (as asyncpg decodes it: bytea as
    bytes, json as text), and every row cast to text. Returns the hits and the rows read."""
    hits: Hits = {}
    rows = 0
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""), timeout=10)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        assert tables, "no tables in the PostgreSQL database"
        for schema, table in tables:
            # The names come from information_schema, not from input.
            name = f'"{schema}"."{table}"'
            for record in await conn.fetch(f"SELECT * FROM {name}"):  # noqa: S608
                rows += 1
                scan_values(hits, markers, table, list(record.keys()), record.values())
            for record in await conn.fetch(f"SELECT t::text FROM {name} AS t"):  # noqa: S608
                scan_values(hits, markers, table, ["(row as text)"], record.values())
    finally:
        await conn.close(timeout=10)
    return hits, rows


async def scan_database(server: ServerProcess, markers: Iterable[str]) -> tuple[Hits, int]:
    if server.engine == "sqlite":
        return scan_sqlite(Path(server.database_url.removeprefix("sqlite:///")), markers)
    return await scan_postgres(server.database_url, markers)


async def scan_everything(server: ServerProcess, secrets: list[str], control: str) -> None:
    """No secret anywhere; the control in the database (and, on SQLite, in its files)."""
    markers = [*secrets, control]
    db_hits, rows = await scan_database(server, markers)
    file_hits, files = scan_files(server.data_dir, markers)
    assert rows > 0
    assert "server.log" in files
    if server.engine == "sqlite":
        assert "candor.db" in files
    found = {m: db_hits.get(m, []) + file_hits.get(m, []) for m in secrets}
    assert {m: where for m, where in found.items() if where} == {}, "plaintext stored"
    # Positive control: the same search does find an unencrypted message.
    assert db_hits.get(control), f"the control canary was not found in {rows} rows"
    if server.engine == "sqlite":
        assert file_hits.get(control), f"the control canary was not found in {files}"


async def test_no_plaintext_of_encrypted_messages_is_stored(
    server: ServerProcess, tmp_path: Path
) -> None:
    async with device_pool(server, tmp_path) as pool:
        alice = await pool.register("alice")
        bob = await pool.register("bob")

        room_id = await create_room(
            alice, [bob], is_direct=True, preset=RoomPreset.trusted_private_chat
        )
        await bob.join(room_id)
        await alice.wait_for_join(room_id, bob.user_id)

        secrets: list[str] = []
        sent: dict[str, list[tuple[str, str]]] = {alice.user_id: [], bob.user_id: []}
        for _ in range(3):
            for device in (alice, bob):
                marker = canary("PLAINTEXT")
                secrets.append(marker)
                body = f"secret {marker}"
                sent[device.user_id].append((await device.send_text(room_id, body), body))
        # The other side decrypted every one: they went through the server for real.
        for reader, writer in ((alice, bob), (bob, alice)):
            mine = sent[writer.user_id]
            await reader.wait_for_texts(room_id, [event_id for event_id, _ in mine])
            ids = {event_id for event_id, _ in mine}
            got = [(e.event_id, e.body) for e in reader.texts(room_id) if e.event_id in ids]
            assert got == mine, reader.user_id

        # Positive control: one unencrypted message in a public room.
        control = canary("CONTROL")
        public = await create_room(alice, [], preset=RoomPreset.public_chat)
        status, _ = await encryption_state(server, alice.token, public)
        assert status == 404, "a public_chat room was encrypted by default"
        assert not alice.client.rooms[public].encrypted
        resp = await alice.client.room_send(
            public, "m.room.message", {"msgtype": "m.text", "body": f"public {control}"}
        )
        assert isinstance(resp, RoomSendResponse), resp

    # While the server runs (SQLite: WAL not yet checkpointed), then after a graceful stop.
    await scan_everything(server, secrets, control)
    server.stop()
    await scan_everything(server, secrets, control)
