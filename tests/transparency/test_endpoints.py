"""The log's public API on both engines: what it serves verifies with what it publishes,
and bad requests get a 400 (or 404) in the `CANDOR_…` shape."""

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from candor.app import create_app
from candor.config import Settings
from candor.transparency.access import AccessLog
from candor.transparency.checkpoint import open_checkpoint
from candor.transparency.log import TransparencyLog
from candor.transparency.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from candor.transparency.note import Verifier
from candor.transparency.records import AccessAction, ActorKind
from candor.transparency.service import TransparencyService

API = "/_candor/transparency/v1"
N = 300


@dataclass
class Log:
    http: httpx.AsyncClient
    service: TransparencyService
    tlog: TransparencyLog
    access: AccessLog
    tree: MemoryTree
    leaves: list[bytes]

    async def verifier(self) -> Verifier:
        return Verifier.parse((await self.http.get(f"{API}/key")).text.strip())


@pytest.fixture
async def log(settings: Settings) -> AsyncIterator[Log]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            service: TransparencyService = app.state.transparency
            tlog: TransparencyLog = app.state.tlog
            yield Log(http, service, tlog, app.state.homeserver.access, MemoryTree(), [])


async def grow(log: Log, n: int) -> None:
    batch = [f"record {len(log.leaves) + i}".encode() for i in range(n)]
    first = await log.tlog.append_many(batch)
    assert first == len(log.leaves)
    log.leaves.extend(batch)
    for leaf in batch:
        log.tree.append(leaf)
    await log.service.make_checkpoint()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def test_an_access_records_entry_is_found_by_its_leaf_hash(log: Log) -> None:
    await grow(log, 10)
    index = await log.access.record_access(
        actor_kind=ActorKind.ADMIN,
        actor_id="@root:test.local",
        basis="abuse report 7",
        subjects=["@alice:test.local"],
        resource={"room_id": "!r:test.local", "from": 1, "to": 2},
        action=AccessAction.ADMIN_READ_MESSAGES,
    )
    (entry,) = await log.tlog.entries(index, index + 1)
    await log.service.make_checkpoint()

    by_hash = await log.http.get(
        f"{API}/proof/inclusion", params={"leaf_hash": b64(leaf_hash(entry)), "size": index + 1}
    )
    by_index = await log.http.get(
        f"{API}/proof/inclusion", params={"index": index, "size": index + 1}
    )
    # Only access records are indexed by hash: a bare entry (as this test appends) is not.
    bare = await log.http.get(
        f"{API}/proof/inclusion",
        params={"leaf_hash": b64(leaf_hash(log.leaves[3])), "size": index + 1},
    )

    assert by_hash.status_code == 200
    assert by_hash.json() == by_index.json()
    assert by_hash.json()["index"] == index == 10
    assert bare.status_code == 404
    assert bare.json()["errcode"] == "CANDOR_NOT_FOUND"


async def test_the_first_checkpoint_is_the_signed_empty_tree(log: Log) -> None:
    r = await log.http.get(f"{API}/checkpoint")

    assert r.headers["content-type"].startswith("text/plain")
    verifier = await log.verifier()
    checkpoint = open_checkpoint(r.text, verifier)
    assert checkpoint.origin == verifier.name == "test.local/candor-log"
    assert (checkpoint.size, checkpoint.root_hash) == (0, MemoryTree().root())


async def test_proofs_verify_against_the_published_checkpoints(log: Log) -> None:
    await grow(log, 100)
    old = open_checkpoint((await log.http.get(f"{API}/checkpoint")).text, await log.verifier())
    await grow(log, N - 100)
    new = open_checkpoint((await log.http.get(f"{API}/checkpoint")).text, await log.verifier())

    assert (new.size, new.root_hash) == (N, log.tree.root())
    by_index = (await log.http.get(f"{API}/proof/inclusion", params={"index": 7, "size": N})).json()
    assert by_index["leaf_hash"] == b64(leaf_hash(log.leaves[7]))
    proof = [base64.b64decode(h) for h in by_index["hashes"]]
    assert verify_inclusion(7, N, leaf_hash(log.leaves[7]), proof, new.root_hash)
    consistency = (
        await log.http.get(f"{API}/proof/consistency", params={"from": old.size, "to": N})
    ).json()
    assert consistency["from"] == old.size
    assert consistency["to"] == N
    hashes = [base64.b64decode(h) for h in consistency["hashes"]]
    assert verify_consistency(old.size, N, old.root_hash, new.root_hash, hashes)


async def test_leaves_and_tiles_serve_the_stored_tree(log: Log) -> None:
    await grow(log, N)

    page = (await log.http.get(f"{API}/leaves", params={"start": 10, "end": 20})).json()
    full = await log.http.get(f"{API}/tile/0/000")
    partial = await log.http.get(f"{API}/tile/0/001.p/44")
    upper = await log.http.get(f"{API}/tile/1/000.p/1")
    entries = await log.http.get(f"{API}/tile/entries/001.p/2")

    assert page["leaf_hashes"] == [b64(h) for h in log.tree.levels[0][10:20]]
    assert full.content == b"".join(log.tree.levels[0][:256])
    assert partial.content == b"".join(log.tree.levels[0][256:300])
    assert upper.content == log.tree.levels[8][0]
    leaf_a, leaf_b = log.leaves[256], log.leaves[257]
    assert entries.content == (
        len(leaf_a).to_bytes(2, "big") + leaf_a + len(leaf_b).to_bytes(2, "big") + leaf_b
    )


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/proof/inclusion", {"index": 0, "size": 11}, 400),
        ("/proof/inclusion", {"index": 10, "size": 10}, 400),
        ("/proof/inclusion", {"size": 5}, 400),
        ("/proof/inclusion", {"index": 1, "leaf_hash": b64(b"x" * 32), "size": 5}, 400),
        ("/proof/inclusion", {"leaf_hash": "not base64!", "size": 5}, 400),
        ("/proof/inclusion", {"leaf_hash": b64(b"short"), "size": 5}, 400),
        ("/proof/inclusion", {"leaf_hash": b64(b"x" * 32), "size": 5}, 404),
        ("/proof/inclusion", {"index": -1, "size": 5}, 400),
        ("/proof/inclusion", {"index": "one", "size": 5}, 400),
        ("/proof/consistency", {"from": 6, "to": 5}, 400),
        ("/proof/consistency", {"from": 0, "to": 5}, 400),
        ("/proof/consistency", {"from": 5, "to": 11}, 400),
        ("/leaves", {"start": 5, "end": 5}, 400),
        ("/leaves", {"start": 0, "end": 11}, 400),
        ("/leaves", {"start": 0, "end": 5000}, 400),
        ("/tile/0/0001", {}, 400),
        ("/tile/0/000.p/0", {}, 400),
        ("/tile/0/000", {}, 404),
        ("/tile/0/000.p/11", {}, 404),
        ("/tile/1/000.p/1", {}, 404),
        ("/tile/entries/000.p/11", {}, 404),
    ],
)
async def test_bad_requests_are_refused_in_the_candor_shape(
    log: Log, path: str, params: dict[str, str | int], status: int
) -> None:
    await grow(log, 10)

    r = await log.http.get(API + path, params=params)

    assert r.status_code == status, r.text
    body = r.json()
    assert body["errcode"].startswith("CANDOR_")
    assert body["error"]
