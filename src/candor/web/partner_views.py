"""Partner apps as people read them: the portal's form, and agreements in plain words.

Pure: a form model that turns the portal's fields into `PartnerAppsService.create`
arguments (the service does every real check), and views that turn an `App` into the
sentences the public list, the portal and the admin page show. No I/O.
"""

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from candor.partners.apps.rules import SCOPES, AgreementTerms
from candor.partners.apps.service import Agreement, App
from candor.partners.errors import invalid

STATUS_WORDS = {
    "pending": "Waiting for an administrator",
    "approved": "Approved",
    "suspended": "Suspended",
}

LongText = str  # bounded by the app's body limit; the service checks the real lengths


class PortalAppForm(BaseModel):
    """`POST /partners/portal`. Scopes are one checkbox each (`scope_<name>`), because a
    form field is read once; redirect URIs and domains are one per line."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: LongText = ""
    homepage: LongText = ""
    contact: LongText = ""
    redirect_uris: LongText = ""
    domains: LongText = ""
    purpose: LongText = ""
    data_used: LongText = ""
    retention_days: LongText = "30"
    reporting_days: LongText = "14"
    public: LongText | None = None
    scope_profile: LongText | None = Field(default=None, alias="scope_profile")
    scope_share: LongText | None = Field(default=None, alias="scope_share")
    scope_inbox_read: LongText | None = Field(default=None, alias="scope_inbox.read")

    @property
    def scopes(self) -> list[str]:
        ticked = {
            "profile": self.scope_profile,
            "share": self.scope_share,
            "inbox.read": self.scope_inbox_read,
        }
        return [name for name in SCOPES if ticked.get(name)]

    def lines(self, text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()]

    def terms(self) -> AgreementTerms:
        """The agreement; a day count that is not a whole number is a 400 like any other."""
        return AgreementTerms(
            purpose=self.purpose,
            data_used=self.data_used,
            retention_days=_days("retention", self.retention_days),
            reporting_days=_days("the reporting period", self.reporting_days),
        )


class PortalAgreementForm(BaseModel):
    """`POST /partners/portal/{client_id}/agreement`: the words of the next version (the
    privacy method carries over from the current one)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    purpose: LongText = ""
    data_used: LongText = ""
    retention_days: LongText = ""
    reporting_days: LongText = ""

    @classmethod
    def of(cls, current: Agreement) -> "PortalAgreementForm":
        """Prefilled with the current terms."""
        return cls(
            purpose=current.purpose,
            data_used=current.data_used,
            retention_days=str(current.retention_days),
            reporting_days=str(current.reporting_days),
        )

    def terms(self, current: Agreement) -> AgreementTerms:
        return current.revised(
            self.purpose,
            self.data_used,
            _days("retention", self.retention_days),
            _days("the reporting period", self.reporting_days),
        )


def _days(field: str, raw: str) -> int:
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 6:
        raise invalid(f"{field[0].upper()}{field[1:]} must be a whole number of days")
    return int(raw)


def every_days(days: int) -> str:
    if days == 1:
        return "every day"
    if days % 7 == 0:
        weeks = days // 7
        return "every week" if weeks == 1 else f"every {weeks} weeks"
    return f"every {days} days"


def privacy_words(app: App) -> str:
    a = app.agreement
    if a.privacy == "differential_privacy":
        bound = a.contribution_bound
        return (
            "Reports have random noise added to every count (differential privacy, "
            f"ε = {a.epsilon:g}), so no single person's activity can be told apart: at most "
            f"{bound} {'card' if bound == 1 else 'cards'} and {bound} "
            f"{'click' if bound == 1 else 'clicks'} of each person count per report, and the "
            "noise hides that much."
        )
    return (
        f"Reports leave out any count smaller than {a.k_threshold} (a k-anonymity "
        "threshold), so small groups of people cannot be singled out."
    )


@dataclass(frozen=True, slots=True)
class AppView:
    """An app and its agreement, with the sentences every page shows."""

    app: App
    status_words: str
    scopes: list[tuple[str, str]]  # (name, what it lets the app do)
    retention: str
    reporting: str
    privacy: str


def app_view(app: App) -> AppView:
    a = app.agreement
    return AppView(
        app=app,
        status_words=STATUS_WORDS.get(app.status, app.status),
        scopes=[(s, SCOPES.get(s, s)) for s in app.scopes],
        retention=(
            f"Keeps what it receives for at most {a.retention_days} "
            f"{'day' if a.retention_days == 1 else 'days'}, then deletes it."
        ),
        reporting=f"Receives an engagement report {every_days(a.reporting_days)}.",
        privacy=privacy_words(app),
    )
