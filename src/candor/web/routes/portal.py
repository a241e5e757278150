"""`GET/POST /partners/portal`: a logged-in person's partner apps, and registering one;
`POST /partners/portal/{client_id}/agreement`: the owner publishes a new agreement version.

A new app starts pending; a confidential app's client secret is shown once (never stored
in the clear, never shown again): the POST redirects (303) to `GET
/partners/portal/apps/{client_id}/created`, handing the secret over in a one-time sealed
cookie (`web/once.py`), so reloading the page that shows it registers nothing and shows
the secret no more.
A refused registration renders the form again with the entered values and the reason
(400), and writes nothing.

A new agreement version is a material change: everyone who consented to an older one is
asked again (see `PartnerAppsService.new_agreement`). Only the app's owner may publish one
(the 403 page for others, 404 for an unknown app); bad terms render the form again (400).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from candor.matrix.http import Provided
from candor.partners.apps.rules import SCOPES
from candor.partners.apps.service import PartnerAppsService
from candor.partners.errors import PartnerError
from candor.web import once
from candor.web.forms import read_form, validate_form
from candor.web.pages import CurrentUserDep, Page, PageDep, WebUser
from candor.web.partner_views import PortalAgreementForm, PortalAppForm, app_view

router = APIRouter(include_in_schema=False)


AppsDep = Annotated[PartnerAppsService, Depends(Provided(PartnerAppsService))]
ClientIdParam = Annotated[str, Path(min_length=1, max_length=64)]
CLIENT_SECRET = "client-secret"  # noqa: S105 - the kind of one-time hand-over, not a secret


async def _portal(
    page: Page,
    user: WebUser,
    apps: PartnerAppsService,
    *,
    form: PortalAppForm,
    error: str | None = None,
    status: int = 200,
) -> Response:
    mine = await apps.list_owned(user.user_id)
    return page.render(
        "portal/index.html",
        status=status,
        apps=[app_view(a) for a in mine],
        agreement_forms={a.client_id: PortalAgreementForm.of(a.agreement) for a in mine},
        form=form,
        scopes=SCOPES,
        error=error,
    )


@router.get("/partners/portal")
async def portal(page: PageDep, user: CurrentUserDep, apps: AppsDep) -> Response:
    return await _portal(page, user, apps, form=PortalAppForm())


@router.post("/partners/portal")
async def create_app(page: PageDep, user: CurrentUserDep, apps: AppsDep) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    form = validate_form(PortalAppForm, fields)
    try:
        new = await apps.create(
            name=form.name,
            homepage=form.homepage,
            contact=form.contact,
            redirect_uris=form.lines(form.redirect_uris),
            domains=form.lines(form.domains),
            scopes=form.scopes,
            public=form.public is not None,
            terms=form.terms(),
            owner=user.user_id,
        )
    except PartnerError as exc:
        if exc.status != 400:
            raise
        return await _portal(page, user, apps, form=form, error=exc.message, status=400)
    path = created_path(new.app.client_id)
    response = page.redirect(path)
    if new.client_secret is not None:
        once.hand_over(
            response,
            page,
            kind=CLIENT_SECRET,
            subject=new.app.client_id,
            path=path,
            secret=new.client_secret,
        )
    return response


def created_path(client_id: str) -> str:
    return f"/partners/portal/apps/{client_id}/created"


@router.get("/partners/portal/apps/{client_id}/created")
async def created(
    client_id: ClientIdParam, page: PageDep, user: CurrentUserDep, apps: AppsDep
) -> Response:
    """The new app and, on the first visit only, its client secret."""
    app = await apps.get_owned(client_id, user.user_id)
    secret = once.take(page, kind=CLIENT_SECRET, subject=client_id)
    response = page.render(
        "portal/created.html",
        view=app_view(app),
        client_secret=secret,
        confidential=not app.is_public_client,
    )
    once.forget(response, page, created_path(client_id))
    return response


@router.post("/partners/portal/{client_id}/agreement")
async def publish_agreement(
    client_id: ClientIdParam, page: PageDep, user: CurrentUserDep, apps: AppsDep
) -> Response:
    fields = await read_form(page.request)
    page.check_csrf(fields)
    current = await apps.get_owned(client_id, user.user_id)
    form = validate_form(PortalAgreementForm, fields)
    try:
        changed = await apps.new_agreement(
            client_id, form.terms(current.agreement), owner=user.user_id
        )
    except PartnerError as exc:
        if exc.status != 400:
            raise
        return page.render(
            "portal/agreement.html",
            status=400,
            view=app_view(current),
            form=form,
            error=exc.message,
            published=False,
        )
    return page.render(
        "portal/agreement.html",
        view=app_view(changed),
        form=PortalAgreementForm.of(changed.agreement),
        error=None,
        published=True,
    )
