"""The partner admin API on both engines: every app (pending and suspended too) for
administrators, approve and suspend by client_id; others get 403 and nothing changes."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select

from candor.config import Settings
from candor.partners.apps.service import PartnerAppsService
from candor.store.models.partners import OAuthToken
from candor.wiring import build_services
from tests.helpers.admin import AdminEnv, admin_env
from tests.partners.apps.conftest import make_app


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[AdminEnv]:
    async with admin_env(settings) as env:
        yield env


def apps_of(env: AdminEnv) -> PartnerAppsService:
    return build_services(env.hs).apps


async def statuses(env: AdminEnv) -> dict[str, str]:
    return {a.client_id: a.status for a in await apps_of(env).list_all()}


async def test_administrators_see_every_app_but_no_secret(env: AdminEnv) -> None:
    pending = await make_app(apps_of(env), name="Pending")
    approved = (await make_app(apps_of(env), name="Approved", public=True)).app
    await apps_of(env).approve(approved.client_id)

    r = await env.get(env.admin, "/partners")

    assert r.status_code == 200, r.text
    listed = {p["client_id"]: p for p in r.json()["partners"]}
    assert listed[pending.app.client_id]["status"] == "pending"
    assert listed[pending.app.client_id]["approved"] is False
    assert listed[pending.app.client_id]["client_type"] == "confidential"
    assert listed[pending.app.client_id]["redirect_uris"] == ["https://flix.example/cb"]
    assert listed[pending.app.client_id]["owner_user_id"] == "@alice:test.local"
    assert listed[pending.app.client_id]["agreement"]["version"] == 1
    assert listed[approved.client_id]["status"] == "approved"
    assert listed[approved.client_id]["client_type"] == "public"
    assert pending.client_secret is not None
    assert pending.client_secret not in r.text
    assert "secret_hash" not in r.text


async def test_approve_then_suspend_ends_the_apps_tokens(env: AdminEnv) -> None:
    app = (await make_app(apps_of(env))).app
    size_before = await env.hs.tlog.size()

    approved = await env.post(env.admin, f"/partners/{app.client_id}/approve")
    async with env.hs.db.write() as conn:
        await conn.execute(
            insert(OAuthToken).values(
                id="t1",
                access_token_hash="a1",
                refresh_token_hash="r1",
                family_id="f1",
                client_id=app.client_id,
                user_id=env.alice.user_id,
                scope="profile",
                issued_ts=1,
                expires_ts=2**40,
            )
        )
    public = await env.http.get("/_candor/v1/partners")
    suspended = await env.post(env.admin, f"/partners/{app.client_id}/suspend")

    assert approved.status_code == 200, approved.text
    assert approved.json()["partner"]["status"] == "approved"
    assert [p["client_id"] for p in public.json()["partners"]] == [app.client_id]
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["partner"]["status"] == "suspended"
    async with env.hs.db.read() as conn:
        revoked = (await conn.execute(select(OAuthToken.revoked_ts))).scalar_one()
    assert revoked is not None
    assert (await env.http.get("/_candor/v1/partners")).json()["partners"] == []
    assert await env.hs.tlog.size() == size_before  # no person's data was read


@pytest.mark.parametrize("action", ["approve", "suspend"])
async def test_others_may_not_change_an_app(env: AdminEnv, action: str) -> None:
    app = (await make_app(apps_of(env))).app
    if action == "suspend":
        await apps_of(env).approve(app.client_id)
    before = await statuses(env)

    forbidden = await env.post(env.alice, f"/partners/{app.client_id}/{action}")
    anonymous = await env.post(None, f"/partners/{app.client_id}/{action}")

    assert (forbidden.status_code, forbidden.json()["errcode"]) == (403, "CANDOR_FORBIDDEN")
    assert (anonymous.status_code, anonymous.json()["errcode"]) == (401, "CANDOR_MISSING_TOKEN")
    assert await statuses(env) == before


async def test_others_may_not_list_apps(env: AdminEnv) -> None:
    await make_app(apps_of(env))

    r = await env.get(env.bob, "/partners")

    assert (r.status_code, r.json()["errcode"]) == (403, "CANDOR_FORBIDDEN")
    assert "partners" not in r.json()


@pytest.mark.parametrize("action", ["approve", "suspend"])
async def test_unknown_apps_are_not_found(env: AdminEnv, action: str) -> None:
    app = (await make_app(apps_of(env))).app

    r = await env.post(env.admin, f"/partners/app_nope/{action}")
    too_long = await env.post(env.admin, f"/partners/{'x' * 65}/{action}")

    assert (r.status_code, r.json()["errcode"]) == (404, "CANDOR_NOT_FOUND")
    assert (too_long.status_code, too_long.json()["errcode"]) == (400, "CANDOR_INVALID_PARAM")
    assert await statuses(env) == {app.client_id: "pending"}


async def test_a_forbidden_unknown_app_is_403_not_404(env: AdminEnv) -> None:
    """The admin check comes first, so a non-admin cannot probe which client_ids exist."""
    r = await env.post(env.alice, "/partners/app_nope/approve")

    assert r.status_code == 403
