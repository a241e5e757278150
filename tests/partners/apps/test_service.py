"""PartnerAppsService on both engines: registration checks every field before writing,
apps start pending, approval and suspension (which ends every token of the app at once),
and new agreement versions."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from candor.core.clock import FakeClock
from candor.matrix.context import Homeserver
from candor.partners.apps.rules import AgreementTerms
from candor.partners.apps.service import PartnerAppsService
from candor.partners.errors import PartnerError
from candor.store.models.partners import (
    OAuthToken,
    PartnerAgreement,
    PartnerApp,
    PartnerDomain,
    PartnerRedirectURI,
)
from tests.partners.apps.conftest import make_app, registration


async def _counts(hs: Homeserver) -> list[int]:
    out = []
    async with hs.db.read() as conn:
        for model in (PartnerApp, PartnerRedirectURI, PartnerDomain, PartnerAgreement):
            out.append(
                int((await conn.execute(select(func.count()).select_from(model))).scalar_one())
            )
    return out


async def _add_token(
    hs: Homeserver, token_id: str, client_id: str, revoked: int | None = None
) -> None:
    async with hs.db.write() as conn:
        await conn.execute(
            insert(OAuthToken).values(
                id=token_id,
                access_token_hash="a" + token_id,
                refresh_token_hash="r" + token_id,
                family_id="f" + token_id,
                client_id=client_id,
                user_id="@alice:test.local",
                scope="profile",
                issued_ts=1,
                expires_ts=2**40,
                revoked_ts=revoked,
            )
        )


async def _revoked(hs: Homeserver) -> dict[str, int | None]:
    async with hs.db.read() as conn:
        rows = await conn.execute(select(OAuthToken.id, OAuthToken.revoked_ts))
        return {r[0]: r[1] for r in rows}


async def test_a_confidential_app_starts_pending_with_a_secret_shown_once(
    apps: PartnerAppsService, hs: Homeserver
) -> None:
    new = await make_app(apps, redirect_uris=["https://flix.example/b", "https://flix.example/a"])

    assert new.app.status == "pending"
    assert new.app.client_id.startswith("app_")
    assert new.app.client_type == "confidential"
    assert not new.app.is_public_client
    assert new.app.redirect_uris == ("https://flix.example/a", "https://flix.example/b")
    assert new.app.scopes == ("profile", "share")
    assert new.app.owner_user_id == "@alice:test.local"
    assert new.app.agreement.version == 1
    assert new.client_secret is not None
    assert new.client_secret.startswith("cdr_cs_")
    async with hs.db.read() as conn:
        stored = (await conn.execute(select(PartnerApp.client_secret_hash))).scalar_one()
    assert stored is not None
    assert new.client_secret not in stored
    assert await apps.check_secret(new.app, new.client_secret)
    assert not await apps.check_secret(new.app, new.client_secret[:-1] + "x")
    assert not await apps.check_secret(new.app, "not a secret")


async def test_a_public_app_has_no_secret(apps: PartnerAppsService) -> None:
    new = await make_app(apps, public=True)

    assert new.client_secret is None
    assert new.app.is_public_client
    assert not await apps.check_secret(new.app, "cdr_cs_anything")


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": ""},
        {"name": "x" * 201},
        {"homepage": "http://flix.example"},
        {"contact": ""},
        {"redirect_uris": []},
        {"redirect_uris": ["https://flix.example/cb#frag"]},
        {"redirect_uris": ["https://flix.example/ok", "http://flix.example/cb"]},
        {"redirect_uris": [f"https://flix.example/{i}" for i in range(11)]},
        {"domains": ["not a domain"]},
        {"domains": [f"d{i}.example" for i in range(21)]},
        {"scopes": ""},
        {"scopes": "profile admin"},
        {"terms": AgreementTerms("", "data")},
        {"terms": AgreementTerms("purpose", "data", retention_days=0)},
        {"webhook_url": "http://hooks.example/x"},
    ],
)
async def test_every_bad_field_is_refused_and_nothing_is_written(
    apps: PartnerAppsService, hs: Homeserver, overrides: dict[str, Any]
) -> None:
    with pytest.raises(PartnerError) as caught:
        await apps.create(**registration(**overrides))

    assert caught.value.status == 400
    assert caught.value.errcode == "CANDOR_INVALID_PARAM"
    assert await _counts(hs) == [0, 0, 0, 0]


async def test_approve_then_suspend_then_approve_again(
    apps: PartnerAppsService, clock: FakeClock
) -> None:
    app = (await make_app(apps)).app

    approved = await apps.approve(app.client_id)
    clock.advance(60)
    suspended = await apps.suspend(app.client_id)
    again = await apps.approve(app.client_id)

    assert (approved.status, suspended.status, again.status) == (
        "approved",
        "suspended",
        "approved",
    )
    assert [a.client_id for a in await apps.list_approved()] == [app.client_id]


async def test_suspension_ends_every_token_of_that_app_only(
    apps: PartnerAppsService, hs: Homeserver
) -> None:
    flix = (await make_app(apps)).app
    other = (await make_app(apps, name="Other")).app
    await apps.approve(flix.client_id)
    await apps.approve(other.client_id)
    await _add_token(hs, "t1", flix.client_id)
    await _add_token(hs, "t2", flix.client_id)
    await _add_token(hs, "t3", flix.client_id, revoked=5)
    await _add_token(hs, "t4", other.client_id)

    await apps.suspend(flix.client_id)

    revoked = await _revoked(hs)
    assert revoked["t1"] is not None
    assert revoked["t2"] is not None
    assert revoked["t3"] == 5  # an earlier revocation keeps its time
    assert revoked["t4"] is None


async def test_unknown_apps_are_not_found_and_nothing_changes(
    apps: PartnerAppsService, hs: Homeserver
) -> None:
    await make_app(apps)
    before = await _counts(hs)

    for action in (apps.get, apps.approve, apps.suspend):
        with pytest.raises(PartnerError) as caught:
            await action("app_nope")
        assert caught.value.status == 404
        assert caught.value.errcode == "CANDOR_NOT_FOUND"
    with pytest.raises(PartnerError):
        await apps.new_agreement("app_nope", AgreementTerms("p", "d"))
    assert await apps.find("app_nope") is None
    assert await _counts(hs) == before
    assert [a.status for a in await apps.list_all()] == ["pending"]


async def test_a_new_agreement_bumps_the_version_and_keeps_the_old_one(
    apps: PartnerAppsService, hs: Homeserver
) -> None:
    app = (await make_app(apps)).app

    changed = await apps.new_agreement(
        app.client_id, AgreementTerms("Recommend series too", "Share counts", retention_days=7)
    )

    assert changed.agreement.version == 2
    assert changed.agreement.purpose == "Recommend series too"
    assert changed.agreement.retention_days == 7
    async with hs.db.read() as conn:
        versions = (await conn.execute(select(PartnerAgreement.version))).scalars().all()
    assert sorted(versions) == [1, 2]


async def test_a_bad_new_agreement_changes_nothing(apps: PartnerAppsService) -> None:
    app = (await make_app(apps)).app

    with pytest.raises(PartnerError):
        await apps.new_agreement(app.client_id, AgreementTerms("p", "d", reporting_days=0))

    assert (await apps.get(app.client_id)).agreement.version == 1


async def test_lists_by_status_and_owner(apps: PartnerAppsService) -> None:
    mine = (await make_app(apps)).app
    theirs = (await make_app(apps, owner="@bob:test.local")).app
    cli = (await make_app(apps, owner=None)).app
    await apps.approve(theirs.client_id)

    assert [a.client_id for a in await apps.list_owned("@alice:test.local")] == [mine.client_id]
    assert [a.client_id for a in await apps.list_approved()] == [theirs.client_id]
    assert {a.client_id for a in await apps.list_all()} == {
        mine.client_id,
        theirs.client_id,
        cli.client_id,
    }


async def test_only_the_owner_publishes_and_the_privacy_method_carries_over(
    apps: PartnerAppsService,
) -> None:
    app = (
        await make_app(
            apps,
            terms=AgreementTerms("p", "d", 45, 21, "differential_privacy", 10, 0.5),
        )
    ).app
    terms = app.agreement.revised("Recommend series", "Clicks")

    with pytest.raises(PartnerError) as caught:
        await apps.new_agreement(app.client_id, terms, owner="@bob:test.local")
    assert caught.value.status == 403
    with pytest.raises(PartnerError) as unknown:
        await apps.get_owned("app_nope", "@alice:test.local")
    assert unknown.value.status == 404
    assert (await apps.get(app.client_id)).agreement.version == 1

    changed = await apps.new_agreement(app.client_id, terms, owner="@alice:test.local")

    a = changed.agreement
    assert (a.version, a.purpose, a.data_used) == (2, "Recommend series", "Clicks")
    assert (a.retention_days, a.reporting_days) == (45, 21)
    assert (a.privacy, a.k_threshold, a.epsilon) == ("differential_privacy", 10, 0.5)
    assert app.agreement.revised("p", "d", 7, 28).retention_days == 7


async def test_two_new_agreements_at_once_get_two_versions_or_a_conflict_never_a_500(
    apps: PartnerAppsService,
) -> None:
    made = await make_app(apps)
    terms = AgreementTerms("A changed purpose", "The same data", 60)

    results = await asyncio.gather(
        apps.new_agreement(made.app.client_id, terms),
        apps.new_agreement(made.app.client_id, terms),
        return_exceptions=True,
    )

    versions = sorted(r.agreement.version for r in results if not isinstance(r, BaseException))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, PartnerError) and e.status == 409 for e in errors)
    assert versions in ([2, 3], [2])
    assert (await apps.get(made.app.client_id)).agreement.version == versions[-1]
