"""Public report endpoints: the published JSON Schema of the report document.

Reports themselves reach the app by webhook and through the partner portal; the schema is
public so that anyone holding a report (the partner, a person it concerns, an auditor)
can check its shape.
"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from candor.reports.document import schema

router = APIRouter(prefix="/_candor/v1/reports", tags=["reports"])


@router.get("/schema.json")
async def report_schema() -> JSONResponse:
    """The JSON Schema (draft 2020-12) of `candor.engagement-report/v1` documents."""
    return JSONResponse(schema(), media_type="application/schema+json")
