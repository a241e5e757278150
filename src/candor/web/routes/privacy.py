"""`GET /privacy/accesses`: "Who accessed my data", each record checked against the log.

A page holds `PAGE_LIMIT` records, newest first; `?before=N` shows older ones and
`?after=N` newer ones. The names the wording needs (apps, grants, rooms, people, event
times) are looked up once per page, one call per kind, never one per record.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.matrix.privacy.service import PrivacyService
from candor.partners.apps.service import APPROVED, PartnerAppsService
from candor.partners.consent.service import ConsentService
from candor.web.accesses import AppRef, GrantRef, Lookups, accesses_view, agreement_url, wanted
from candor.web.pages import CurrentUserDep, PageDep

router = APIRouter(include_in_schema=False)

PAGE_LIMIT = 50

PrivacyDep = Annotated[PrivacyService, Depends(Provided(PrivacyService))]
AppsDep = Annotated[PartnerAppsService, Depends(Provided(PartnerAppsService))]
ConsentDep = Annotated[ConsentService, Depends(Provided(ConsentService))]
# A log index; anything else (negative, huge, not a number) is a 422 from FastAPI.
Index = Annotated[int | None, Query(ge=0, le=2**62)]


@router.get("/privacy/accesses")
async def accesses(
    page: PageDep,
    user: CurrentUserDep,
    privacy: PrivacyDep,
    apps: AppsDep,
    consent: ConsentDep,
    before: Index = None,
    after: Index = None,
) -> Response:
    found = await privacy.accesses_page(user.user_id, PAGE_LIMIT, before=before, after=after)
    ids = wanted(found.records)
    grants = await consent.grants_named(sorted(ids.grants))
    known = await apps.find_many(sorted(ids.apps))
    for grant in grants.values():
        ids.rooms.add(grant.room_id)
        ids.people.update(grant.members)
    names = await privacy.names(ids.people, ids.rooms, ids.positions)
    lookups = Lookups(
        viewer=user.user_id,
        names=names,
        apps={
            a.client_id: AppRef(
                a.name, agreement_url(a.client_id) if a.status == APPROVED else None
            )
            for a in known.values()
        },
        grants={g.grant_id: GrantRef(g.room_id, g.members) for g in grants.values()},
    )
    return page.render(
        "privacy/accesses.html",
        view=accesses_view(found, lookups),
        server_url=privacy.public_base_url,
    )
