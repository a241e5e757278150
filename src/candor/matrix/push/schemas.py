"""Wire models for push rules and pushers. Matrix bodies allow extra fields."""

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class PushRuleBody(_Body):
    """PUT /pushrules/global/{kind}/{ruleId}: `actions` always; `conditions` for override
    and underride rules, `pattern` for content rules (ignored for the other kinds)."""

    actions: list[StrictStr | dict[str, object]]
    conditions: list[object] | None = None
    pattern: StrictStr | None = None


class ActionsBody(_Body):
    actions: list[StrictStr | dict[str, object]]


class EnabledBody(_Body):
    enabled: StrictBool


class PusherBody(_Body):
    """POST /pushers/set. `kind: null` deletes the pusher (app_id, pushkey); otherwise the
    display names, `lang` and `data` are required (checked by the service, which names
    the missing ones in one M_MISSING_PARAM, as the spec's example does)."""

    kind: StrictStr | None
    app_id: StrictStr
    pushkey: StrictStr
    app_display_name: StrictStr | None = None
    device_display_name: StrictStr | None = None
    profile_tag: StrictStr | None = None
    lang: StrictStr | None = None
    data: dict[str, object] | None = None
    append: StrictBool = False
