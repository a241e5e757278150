"""The log's public HTTP API under /_candor/transparency/v1 (no authentication).

Checkpoints and keys are plain text in their C2SP forms; proofs are JSON with standard
padded base64 hashes, ordered leaf-side first; tiles are C2SP tlog-tiles. Anyone can
fetch and check them; `candor audit verify` does so as a witness.
"""

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from candor.core.canonical_json import encode
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


@router.get("/checkpoint", response_class=Response)
async def checkpoint(service: ServiceDep) -> Response:
    """The latest signed checkpoint: a C2SP signed note, byte for byte."""
    return Response(await service.latest_checkpoint(), media_type="text/plain; charset=utf-8")


@router.get("/key", response_class=Response)
async def key(service: ServiceDep) -> Response:
    """The log's verifier key, `name+keyid+base64`; the name is the checkpoint origin."""
    return Response(service.verifier_key() + "\n", media_type="text/plain; charset=utf-8")


@router.get("/proof/inclusion")
async def inclusion_proof(
    service: ServiceDep,
    size: Annotated[int, Query(ge=1, le=_MAX)],
    index: Annotated[int | None, Query(ge=0, le=_MAX)] = None,
    leaf_hash: Annotated[str | None, Query(max_length=64, description=_B64)] = None,
) -> Response:
    proof = await service.inclusion(index, leaf_hash, size)
    return _json(
        {
            "index": proof.index,
            "size": proof.size,
            "leaf_hash": _b64(proof.leaf_hash),
            "hashes": [_b64(h) for h in proof.hashes],
        }
    )


@router.get("/proof/consistency")
async def consistency_proof(
    service: ServiceDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=_MAX)],
    to: Annotated[int, Query(ge=1, le=_MAX)],
) -> Response:
    hashes = await service.consistency(from_, to)
    return _json({"from": from_, "to": to, "hashes": [_b64(h) for h in hashes]})


@router.get("/leaves")
async def leaves(
    service: ServiceDep,
    start: Annotated[int, Query(ge=0, le=_MAX)],
    end: Annotated[int, Query(ge=1, le=_MAX)],
) -> Response:
    hashes = await service.leaf_hashes(start, end)
    return _json({"leaf_hashes": [_b64(h) for h in hashes]})


@router.get("/tile/{path:path}", response_class=Response)
async def tile(path: str, tiles: TilesDep) -> Response:
    """C2SP tlog-tiles: hash tiles `tile/L/N[.p/W]` and entry bundles `tile/entries/N`."""
    return Response(await tiles.read("tile/" + path), media_type="application/octet-stream")
