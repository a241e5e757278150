"""Accounts endpoints: /register, /login, /logout, /account, /profile, filters, account data.

https://spec.matrix.org/v1.11/client-server-api/#client-authentication
"""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts.profile import BASIC_FIELDS, ProfileService
from candor.matrix.accounts.schemas import (
    AvatarUrlBody,
    DisplaynameBody,
    LoginBody,
    PasswordChangeBody,
    RegisterBody,
)
from candor.matrix.accounts.service import AccountsService
from candor.matrix.accounts.tags import TagsService
from candor.matrix.accounts.tokens import TokensService
from candor.matrix.auth import RequesterDep
from candor.matrix.constants import LoginType
from candor.matrix.http import (
    CLIENT_PREFIX,
    Provided,
    empty_response,
    json_response,
    room_id_param,
    user_id_param,
)
from candor.matrix.rooms.endpoints import RoomsDep

router = APIRouter(prefix=CLIENT_PREFIX)


AccountsDep = Annotated[AccountsService, Depends(Provided(AccountsService))]
ProfileDep = Annotated[ProfileService, Depends(Provided(ProfileService))]
TokensDep = Annotated[TokensService, Depends(Provided(TokensService))]


@router.get("/login")
async def login_flows(tokens: TokensDep) -> Response:
    """GET /login: passwords, and login tokens that a signed-in device hands out
    (`POST /login/get_token`) unless `accounts.get_login_token` is off."""
    flows: list[JsonDict] = [{"type": LoginType.PASSWORD}]
    if tokens.get_login_token_enabled:
        flows.append({"type": LoginType.TOKEN, "get_login_token": True})
    return json_response({"flows": flows})


@router.post("/login")
async def login(body: LoginBody, request: Request, accounts: AccountsDep) -> Response:
    """POST /login. Repeated failures are slowed down per account and per client address
    (429 M_LIMIT_EXCEEDED with retry_after_ms); see `matrix/login_backoff.py`."""
    s = await accounts.login(body, request.client.host if request.client else None)
    return json_response(s.to_json(accounts.server_name))


@router.post("/register")
async def register(
    body: RegisterBody,
    request: Request,
    accounts: AccountsDep,
    kind: Annotated[str, Query(max_length=16)] = "user",
) -> Response:
    """POST /register: m.login.dummy in one request, or the 401 UIA round trip; rate
    limited per client address (shared with the web sign-up, `web/routes/auth.py`)."""
    if kind != "user":
        return json_response(
            {"errcode": "M_GUEST_ACCESS_FORBIDDEN", "error": "Guest access is disabled"}, 403
        )
    result = await accounts.register(body, request.client.host if request.client else None)
    if isinstance(result, str):
        return json_response({"user_id": result, "home_server": accounts.server_name})
    return json_response(result.to_json(accounts.server_name))


@router.get("/register/available")
async def register_available(
    username: Annotated[str, Query(max_length=255)], accounts: AccountsDep
) -> Response:
    await accounts.check_available(username)
    return json_response({"available": True})


@router.post("/logout")
async def logout(requester: RequesterDep, accounts: AccountsDep) -> Response:
    await accounts.logout(requester)
    return empty_response()


@router.post("/logout/all")
async def logout_all(requester: RequesterDep, accounts: AccountsDep) -> Response:
    await accounts.logout_all(requester)
    return empty_response()


@router.get("/account/whoami")
async def whoami(requester: RequesterDep) -> Response:
    return json_response(
        {"user_id": requester.user_id, "device_id": requester.device_id, "is_guest": False}
    )


@router.post("/account/password")
async def change_password(
    body: PasswordChangeBody, requester: RequesterDep, accounts: AccountsDep
) -> Response:
    await accounts.change_password(requester, body.new_password, body.logout_devices, body.auth)
    return empty_response()


@router.get("/profile/{user_id}")
async def get_profile(user_id: str, profile: ProfileDep) -> Response:
    """Every field: displayname, avatar_url, m.tz and custom keys (`accounts/profile.py`)."""
    return json_response(await profile.profile(user_id_param(user_id)))


@router.get("/profile/{user_id}/{field}")
async def get_profile_field(user_id: str, field: str, profile: ProfileDep) -> Response:
    return json_response(await profile.field(user_id_param(user_id), field))


@router.put("/profile/{user_id}/displayname")
async def set_displayname(
    user_id: str,
    body: DisplaynameBody,
    requester: RequesterDep,
    accounts: AccountsDep,
    rooms: RoomsDep,
) -> Response:
    uid = user_id_param(user_id)
    await accounts.set_profile_field(requester, uid, "displayname", body.displayname)
    await rooms.refresh_member_profiles(requester)
    return empty_response()


@router.put("/profile/{user_id}/avatar_url")
async def set_avatar_url(
    user_id: str,
    body: AvatarUrlBody,
    requester: RequesterDep,
    accounts: AccountsDep,
    rooms: RoomsDep,
) -> Response:
    uid = user_id_param(user_id)
    await accounts.set_profile_field(requester, uid, "avatar_url", body.avatar_url)
    await rooms.refresh_member_profiles(requester)
    return empty_response()


@router.put("/profile/{user_id}/{field}")
async def set_profile_field(
    user_id: str,
    field: str,
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    profile: ProfileDep,
) -> Response:
    """PUT of `m.tz` or a custom key (displayname and avatar_url have their routes above)."""
    await profile.set_field(requester, user_id_param(user_id), field, body)
    return empty_response()


@router.delete("/profile/{user_id}/{field}")
async def delete_profile_field(
    user_id: str, field: str, requester: RequesterDep, profile: ProfileDep, rooms: RoomsDep
) -> Response:
    """Removing the display name or avatar updates the member events, as setting does."""
    await profile.delete_field(requester, user_id_param(user_id), field)
    if field in BASIC_FIELDS:
        await rooms.refresh_member_profiles(requester)
    return empty_response()


@router.post("/user/{user_id}/filter")
async def create_filter(
    user_id: str,
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    accounts: AccountsDep,
) -> Response:
    filter_id = await accounts.add_filter(requester, user_id_param(user_id), body)
    return json_response({"filter_id": filter_id})


@router.get("/user/{user_id}/filter/{filter_id}")
async def get_filter(
    user_id: str, filter_id: str, requester: RequesterDep, accounts: AccountsDep
) -> Response:
    return json_response(await accounts.get_filter(requester, user_id_param(user_id), filter_id))


@router.put("/user/{user_id}/account_data/{data_type}")
async def set_account_data(
    user_id: str,
    data_type: str,
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    accounts: AccountsDep,
) -> Response:
    await accounts.set_account_data(requester, user_id_param(user_id), "", data_type, body)
    return empty_response()


@router.get("/user/{user_id}/account_data/{data_type}")
async def get_account_data(
    user_id: str, data_type: str, requester: RequesterDep, accounts: AccountsDep
) -> Response:
    return json_response(
        await accounts.get_account_data(requester, user_id_param(user_id), "", data_type)
    )


@router.put("/user/{user_id}/rooms/{room_id}/account_data/{data_type}")
async def set_room_account_data(
    user_id: str,
    room_id: str,
    data_type: str,
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    accounts: AccountsDep,
) -> Response:
    await accounts.set_account_data(
        requester, user_id_param(user_id), room_id_param(room_id), data_type, body
    )
    return empty_response()


@router.get("/user/{user_id}/rooms/{room_id}/account_data/{data_type}")
async def get_room_account_data(
    user_id: str, room_id: str, data_type: str, requester: RequesterDep, accounts: AccountsDep
) -> Response:
    return json_response(
        await accounts.get_account_data(
            requester, user_id_param(user_id), room_id_param(room_id), data_type
        )
    )


TagsDep = Annotated[TagsService, Depends(Provided(TagsService))]


@router.get("/user/{user_id}/rooms/{room_id}/tags")
async def get_tags(user_id: str, room_id: str, requester: RequesterDep, tags: TagsDep) -> Response:
    return json_response(await tags.tags(requester, user_id_param(user_id), room_id_param(room_id)))


@router.put("/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def set_tag(
    user_id: str,
    room_id: str,
    tag: str,
    body: Annotated[JsonDict, Body()],
    requester: RequesterDep,
    tags: TagsDep,
) -> Response:
    await tags.set_tag(requester, user_id_param(user_id), room_id_param(room_id), tag, body)
    return empty_response()


@router.delete("/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def delete_tag(
    user_id: str, room_id: str, tag: str, requester: RequesterDep, tags: TagsDep
) -> Response:
    await tags.delete_tag(requester, user_id_param(user_id), room_id_param(room_id), tag)
    return empty_response()
