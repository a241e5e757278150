"""Wire models for accounts. Matrix bodies allow extra fields (the spec lets clients send more)."""

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class AuthDict(_Body):
    """User-interactive auth: `type` and `session`; the rest depends on the stage."""

    type: StrictStr | None = None
    session: StrictStr | None = None
    password: StrictStr | None = None
    identifier: dict[str, object] | None = None
    user: StrictStr | None = None


class RegisterBody(_Body):
    username: StrictStr | None = None
    password: StrictStr | None = None
    device_id: StrictStr | None = None
    initial_device_display_name: StrictStr | None = None
    inhibit_login: StrictBool = False
    auth: AuthDict | None = None
    refresh_token: StrictBool = False


class LoginBody(_Body):
    type: StrictStr
    identifier: dict[str, object] | None = None
    user: StrictStr | None = None
    password: StrictStr | None = None
    device_id: StrictStr | None = None
    initial_device_display_name: StrictStr | None = None
    token: StrictStr | None = None
    refresh_token: StrictBool = False


class RefreshBody(_Body):
    refresh_token: StrictStr


class GetLoginTokenBody(_Body):
    auth: AuthDict | None = None


class ThreepidRemoveBody(_Body):
    """`POST /account/3pid/delete` and `/unbind`: both fields are required by the spec."""

    medium: StrictStr
    address: StrictStr
    id_server: StrictStr | None = None


class PasswordChangeBody(_Body):
    new_password: StrictStr
    logout_devices: StrictBool = True
    auth: AuthDict | None = None


class DisplaynameBody(_Body):
    displayname: StrictStr | None = None


class AvatarUrlBody(_Body):
    avatar_url: StrictStr | None = None
