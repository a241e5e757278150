"""What a client learns from `/.well-known/matrix/client` (where this homeserver is) and
`/.well-known/matrix/support` (whom to ask for help).

Why from configuration: the answer is the URL people reach Candor at
(`http.public_base_url`), never the request's Host header, so a request with a foreign
Host cannot point anyone's client elsewhere; the support contacts are the operator's.
https://spec.matrix.org/v1.11/client-server-api/#well-known-uri
https://spec.matrix.org/v1.11/client-server-api/#server-support-discovery
"""

from dataclasses import dataclass

from candor.config import SupportSettings
from candor.core.canonical_json import JsonDict
from candor.matrix.errors import NotFound


@dataclass(frozen=True, slots=True)
class Discovery:
    public_base_url: str
    support: SupportSettings | None = None

    def client_well_known(self) -> JsonDict:
        return {"m.homeserver": {"base_url": self.public_base_url}}

    def support_well_known(self) -> JsonDict:
        """The configured contacts and page; 404 when there are none (the spec's answer)."""
        support = self.support
        if support is None or not (support.contacts or support.page):
            raise NotFound("No support information is configured")
        out: JsonDict = {}
        if support.contacts:
            out["contacts"] = [
                {k: v for k, v in c.model_dump().items() if v is not None} for c in support.contacts
            ]
        if support.page is not None:
            out["support_page"] = support.page
        return out
