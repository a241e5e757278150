"""The log's public HTTP API under /_candor/transparency/v1 (no authentication).

Checkpoints and keys are plain text in their C2SP forms; proofs are JSON with standard
padded base64 hashes, ordered leaf-side first; tiles are C2SP tlog-tiles. Anyone can
fetch and check them; `candor audit verify` does so as a witness.
"""

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from candor.core.canonical_json import encode
from candor.transparency.schemas import (
    ERRORS,
    NOT_FOUND,
    TEXT,
    ConsistencyProofResponse,
    InclusionProofResponse,
    LeavesResponse,
)
from candor.transparency.service import MAX_LEAVES_PAGE as MAX_PAGE
from candor.transparency.service import TileService, TransparencyService

router = APIRouter(prefix="/_candor/transparency/v1", tags=["transparency"])

_B64 = "standard base64 with padding"
_MAX = 2**63 - 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def get_service(request: Request) -> TransparencyService:
    service: TransparencyService = request.app.state.transparency
    return service


async def get_tiles(request: Request) -> TileService:
    service: TileService = request.app.state.tiles
    return service


ServiceDep = Annotated[TransparencyService, Depends(get_service)]
TilesDep = Annotated[TileService, Depends(get_tiles)]


def _json(body: object) -> Response:
    return Response(encode(body), media_type="application/json")


@router.get("/checkpoint", response_class=Response, responses=TEXT)
async def checkpoint(service: ServiceDep) -> Response:
    """The latest signed checkpoint: a C2SP signed note, byte for byte.

    Its body is a C2SP tlog-checkpoint (origin line, tree size, base64 root hash), then a
    blank line and one Ed25519 signature line per signer (https://c2sp.org/signed-note).
    A new one is signed at most every second while the log grows.
    """
    return Response(await service.latest_checkpoint(), media_type="text/plain; charset=utf-8")


@router.get("/key", response_class=Response, responses=TEXT)
async def key(service: ServiceDep) -> Response:
    """The log's verifier key in C2SP vkey form, `name+keyid+base64`.

    The name is the checkpoint's origin line; the key is Ed25519 (algorithm byte 0x01).
    """
    return Response(service.verifier_key() + "\n", media_type="text/plain; charset=utf-8")


@router.get(
    "/proof/inclusion",
    responses={200: {"model": InclusionProofResponse}, **ERRORS, **NOT_FOUND},
)
async def inclusion_proof(
    service: ServiceDep,
    size: Annotated[int, Query(ge=1, le=_MAX, description="Tree size, at most the log's")],
    index: Annotated[
        int | None, Query(ge=0, le=_MAX, description="The entry's index (or give leaf_hash)")
    ] = None,
    leaf_hash: Annotated[
        str | None,
        Query(max_length=64, description=f"The entry's leaf hash, {_B64} (or give index)"),
    ] = None,
) -> Response:
    """Proof that an entry is in the tree of `size` entries.

    Give exactly one of `index` and `leaf_hash`. By leaf hash, only access records are
    found (every entry Candor writes is one); the log keeps no other hash index.
    """
    proof = await service.inclusion(index, leaf_hash, size)
    return _json(
        {
            "index": proof.index,
            "size": proof.size,
            "leaf_hash": _b64(proof.leaf_hash),
            "hashes": [_b64(h) for h in proof.hashes],
        }
    )


@router.get("/proof/consistency", responses={200: {"model": ConsistencyProofResponse}, **ERRORS})
async def consistency_proof(
    service: ServiceDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=_MAX, description="The older size")],
    to: Annotated[int, Query(ge=1, le=_MAX, description="The newer size, at most the log's")],
) -> Response:
    """Proof that the tree of `from` entries is a prefix of the tree of `to` entries."""
    hashes = await service.consistency(from_, to)
    return _json({"from": from_, "to": to, "hashes": [_b64(h) for h in hashes]})


@router.get("/leaves", responses={200: {"model": LeavesResponse}, **ERRORS})
async def leaves(
    service: ServiceDep,
    start: Annotated[int, Query(ge=0, le=_MAX, description="First entry, counting from 0")],
    end: Annotated[
        int, Query(ge=1, le=_MAX, description=f"One past the last entry; at most {MAX_PAGE} in all")
    ],
) -> Response:
    """Leaf hashes of a range of entries (a page of at most 1000)."""
    hashes = await service.leaf_hashes(start, end)
    return _json({"leaf_hashes": [_b64(h) for h in hashes]})


@router.get(
    "/tile/{path:path}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string"}}}},
        **ERRORS,
        **NOT_FOUND,
    },
)
async def tile(path: str, tiles: TilesDep) -> Response:
    """C2SP tlog-tiles (https://c2sp.org/tlog-tiles), for standard tile clients.

    `tile/L/N[.p/W]` is a hash tile (up to 256 hashes of tree level 8·L, 32 bytes each);
    `tile/entries/N[.p/W]` an entry bundle (each entry as a big-endian uint16 length and
    its bytes). Full tiles never change.
    """
    return Response(await tiles.read("tile/" + path), media_type="application/octet-stream")
