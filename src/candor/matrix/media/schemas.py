"""The media endpoints' parameters and JSON answers (the bodies themselves are files).

https://spec.matrix.org/v1.11/client-server-api/#content-repository
"""

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

FilenameQuery = Annotated[
    str | None, Query(description="The file's name, repeated in Content-Disposition.")
]
WidthQuery = Annotated[int, Query(description="The desired width; the answer may be larger.")]
HeightQuery = Annotated[int, Query(description="The desired height; the answer may be larger.")]
MethodQuery = Annotated[
    Literal["crop", "scale"], Query(description="`crop` fills the box, `scale` fits in it.")
]
AnimatedQuery = Annotated[
    bool | None,
    Query(description="Candor makes static thumbnails only (the first frame), as allowed."),
]
TimeoutQuery = Annotated[
    int | None,
    Query(description="How long to wait for a created id's upload (default and cap 20 s)."),
]
AllowRemoteQuery = Annotated[
    bool | None, Query(description="Ignored: Candor serves only its own media.")
]
AllowRedirectQuery = Annotated[
    bool | None, Query(description="Ignored: Candor never redirects downloads.")
]
UrlQuery = Annotated[str, Query(description="The URL to preview.")]
TsQuery = Annotated[int | None, Query(description="Ignored: previews are fetched fresh.")]

# The body of a file upload, for the OpenAPI document (FastAPI cannot infer a raw body).
RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class UploadResponse(BaseModel):
    content_uri: str = Field(description="The mxc:// URI of the uploaded content.")


class CreateResponse(BaseModel):
    content_uri: str = Field(description="The mxc:// URI the content will be available at.")
    unused_expires_at: int = Field(description="When the id expires if nothing is uploaded (ms).")


class ConfigResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    upload_size: int = Field(alias="m.upload.size", description="The largest upload, in bytes.")
