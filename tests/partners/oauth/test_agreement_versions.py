"""A new agreement version published by the app's owner on the portal is a material change,
end to end on both engines: a person who consented to version 1 sees the consent page again
(instead of going straight back with a code), and their old token stops working."""

from candor.partners.apps.rules import AgreementTerms
from tests.partners.oauth.conftest import REDIRECT, Client, OAuthEnv, query_of


async def test_a_version_published_on_the_portal_asks_everyone_again(env: OAuthEnv) -> None:
    owner = await env.person("alice")
    made = await env.apps.create(
        name="Flix",
        homepage="https://flix.example",
        contact="privacy@flix.example",
        redirect_uris=[REDIRECT],
        domains=["flix.example"],
        scopes="profile share",
        public=False,
        terms=AgreementTerms("Recommend films to friends", "Share and click counts", 45),
        owner="@alice:test.local",
    )
    await env.apps.approve(made.app.client_id)
    client = Client(made.app.client_id, made.client_secret)
    bob = await env.person("bob")
    tokens = await env.tokens(client, bob)
    assert (await env.me(tokens["access_token"])).status_code == 200
    skipped = await bob.get(env.flow(client).path)
    assert skipped.status_code == 302  # a current consent goes straight back
    assert "code" in query_of(skipped.headers["location"])

    published = await owner.post_form(
        f"/partners/portal/{client.client_id}/agreement",
        {
            "csrf_token": await owner.csrf_token("/partners/portal"),
            "purpose": "Recommend films and series",
            "data_used": "Share and click counts",
            "retention_days": "90",
            "reporting_days": "14",
        },
    )
    assert published.status_code == 200, published.text

    asked = await bob.get(env.flow(client).path)
    assert asked.status_code == 200  # the consent page again, not a redirect
    assert "Recommend films and series" in asked.text
    assert "90 days" in asked.text
    assert (await env.me(tokens["access_token"])).status_code == 401
    renewed = await env.tokens(client, bob)  # consenting again works
    assert (await env.me(renewed["access_token"])).status_code == 200
