"""Wire models of the public partner list (`GET /_candor/v1/partners`)."""

from pydantic import BaseModel, Field

from candor.partners.apps.service import App


class AgreementView(BaseModel):
    version: int
    purpose: str = Field(description="What the app does with the data, in plain words")
    data_used: str
    retention_days: int = Field(description="How long the app keeps what it reads")
    reporting_days: int = Field(description="The engagement report's period")
    privacy: str = Field(description="k_anonymity or differential_privacy")
    k_threshold: int
    epsilon: float | None
    contribution_bound: int = Field(
        description="differential_privacy: at most this many cards and this many clicks of "
        "each person are counted per reporting period"
    )


class PartnerView(BaseModel):
    client_id: str
    name: str
    homepage: str
    contact: str
    scopes: list[str]
    domains: list[str]
    agreement: AgreementView
    approved: bool

    @classmethod
    def of(cls, app: App) -> "PartnerView":
        a = app.agreement
        return cls(
            client_id=app.client_id,
            name=app.name,
            homepage=app.homepage,
            contact=app.contact,
            scopes=list(app.scopes),
            domains=list(app.domains),
            agreement=AgreementView(
                version=a.version,
                purpose=a.purpose,
                data_used=a.data_used,
                retention_days=a.retention_days,
                reporting_days=a.reporting_days,
                privacy=a.privacy,
                k_threshold=a.k_threshold,
                epsilon=a.epsilon,
                contribution_bound=a.contribution_bound,
            ),
            approved=app.status == "approved",
        )


class PartnersResponse(BaseModel):
    partners: list[PartnerView]
