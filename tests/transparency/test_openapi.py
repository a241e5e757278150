"""The log's API is documented in OpenAPI, and what it serves matches the document."""

import httpx

from candor.app import create_app
from candor.config import Settings
from candor.transparency.log import TransparencyLog
from candor.transparency.schemas import (
    ConsistencyProofResponse,
    ErrorResponse,
    InclusionProofResponse,
    LeavesResponse,
)
from candor.transparency.service import TransparencyService

API = "/_candor/transparency/v1"


async def test_every_route_of_the_log_is_documented_with_its_answers(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            doc = (await http.get("/_candor/openapi.json")).json()

    paths = doc["paths"]
    schemas = doc["components"]["schemas"]
    for route in ("checkpoint", "key"):
        ok = paths[f"{API}/{route}"]["get"]["responses"]["200"]
        assert "text/plain" in ok["content"]
    for route, model in (
        ("proof/inclusion", "InclusionProofResponse"),
        ("proof/consistency", "ConsistencyProofResponse"),
        ("leaves", "LeavesResponse"),
    ):
        responses = paths[f"{API}/{route}"]["get"]["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(model)
        assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "ErrorResponse"
        )
        assert paths[f"{API}/{route}"]["get"]["description"]
    assert (
        "application/octet-stream"
        in (paths[f"{API}/tile/{{path}}"]["get"]["responses"]["200"]["content"])
    )
    assert set(schemas["ConsistencyProofResponse"]["properties"]) == {"from", "to", "hashes"}
    inclusion = paths[f"{API}/proof/inclusion"]["get"]["parameters"]
    assert {p["name"] for p in inclusion} == {"size", "index", "leaf_hash"}
    assert all(p.get("description") for p in inclusion)


async def test_answers_match_their_documented_models(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        tlog: TransparencyLog = app.state.tlog
        service: TransparencyService = app.state.transparency
        await tlog.append_many([f"entry {i}".encode() for i in range(20)])
        await service.make_checkpoint()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test.local") as http:
            inclusion = await http.get(f"{API}/proof/inclusion", params={"index": 3, "size": 20})
            consistency = await http.get(f"{API}/proof/consistency", params={"from": 5, "to": 20})
            leaves = await http.get(f"{API}/leaves", params={"start": 0, "end": 20})
            bad = await http.get(f"{API}/proof/consistency", params={"from": 5, "to": 21})

    assert InclusionProofResponse.model_validate(inclusion.json()).index == 3
    assert ConsistencyProofResponse.model_validate(consistency.json()).to == 20
    assert len(LeavesResponse.model_validate(leaves.json()).leaf_hashes) == 20
    assert bad.status_code == 400
    assert ErrorResponse.model_validate(bad.json()).errcode == "CANDOR_INVALID_PARAM"
