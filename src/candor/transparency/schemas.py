"""Wire models of the log's public API, for its OpenAPI document.

Endpoints answer with canonical JSON built from these shapes; the models exist so that
`/_candor/openapi.json` states every field, its encoding and every error a client meets.
"""

from pydantic import BaseModel, Field

B64 = "SHA-256 hash, standard base64 with padding (RFC 4648 §4)"


class InclusionProofResponse(BaseModel):
    index: int = Field(description="The entry's index, counting from 0")
    size: int = Field(description="The tree size the proof is for")
    leaf_hash: str = Field(description=f"The entry's leaf hash, SHA-256(0x00 || entry); {B64}")
    hashes: list[str] = Field(
        description=f"RFC 9162 §2.1.3 inclusion proof, leaf side first; each a {B64}"
    )


class ConsistencyProofResponse(BaseModel):
    from_: int = Field(alias="from", description="The older tree size")
    to: int = Field(description="The newer tree size")
    hashes: list[str] = Field(
        description=f"RFC 9162 §2.1.4 consistency proof, leaf side first; each a {B64}"
    )


class LeavesResponse(BaseModel):
    leaf_hashes: list[str] = Field(description=f"Leaf hashes of entries start … end-1; {B64}")


class ErrorResponse(BaseModel):
    errcode: str = Field(
        description="CANDOR_INVALID_PARAM, CANDOR_MISSING_PARAM or CANDOR_NOT_FOUND",
        examples=["CANDOR_INVALID_PARAM"],
    )
    error: str = Field(description="What was wrong, in words")


ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "Malformed parameters, or a size never reached"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "No such entry or tile at this size"},
}
TEXT: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
}
