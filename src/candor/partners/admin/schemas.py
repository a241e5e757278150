"""Wire models of the partner admin API: everything about an app but its secret."""

from pydantic import BaseModel, Field

from candor.partners.apps.schemas import PartnerView
from candor.partners.apps.service import App


class AdminPartnerView(PartnerView):
    status: str = Field(description="pending, approved or suspended")
    client_type: str = Field(description="confidential (has a secret) or public (PKCE only)")
    redirect_uris: list[str]
    owner_user_id: str | None = Field(description="Who registered it; null from the CLI")
    created_ts: int

    @classmethod
    def of_app(cls, app: App) -> "AdminPartnerView":
        return cls(
            **PartnerView.of(app).model_dump(),
            status=app.status,
            client_type=app.client_type,
            redirect_uris=list(app.redirect_uris),
            owner_user_id=app.owner_user_id,
            created_ts=app.created_ts,
        )


class AdminPartnersResponse(BaseModel):
    partners: list[AdminPartnerView]


class AdminPartnerResponse(BaseModel):
    partner: AdminPartnerView
