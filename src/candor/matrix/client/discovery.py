"""What a client learns from `/.well-known/matrix/client`: where this homeserver is.

Why from configuration: the answer is the URL people reach Candor at
(`http.public_base_url`), never the request's Host header, so a request with a foreign
Host cannot point anyone's client elsewhere.
https://spec.matrix.org/v1.11/client-server-api/#well-known-uri
"""

from dataclasses import dataclass

from candor.core.canonical_json import JsonDict


@dataclass(frozen=True, slots=True)
class Discovery:
    public_base_url: str

    def client_well_known(self) -> JsonDict:
        return {"m.homeserver": {"base_url": self.public_base_url}}
