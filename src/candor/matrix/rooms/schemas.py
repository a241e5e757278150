"""Wire models for rooms. Matrix bodies allow extra fields (the spec lets clients send more)."""

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class StateEventBody(_Body):
    type: StrictStr = Field(max_length=255)
    state_key: StrictStr = Field("", max_length=255)
    content: dict[str, object]


class CreateRoomBody(_Body):
    visibility: StrictStr | None = None
    room_alias_name: StrictStr | None = Field(None, max_length=200)
    name: StrictStr | None = None
    topic: StrictStr | None = None
    invite: list[StrictStr] = Field(default_factory=list, max_length=100)
    room_version: StrictStr | None = None
    creation_content: dict[str, object] | None = None
    initial_state: list[StateEventBody] = Field(default_factory=list, max_length=100)
    preset: StrictStr | None = None
    is_direct: StrictBool = False
    power_level_content_override: dict[str, object] | None = None


class MembershipBody(_Body):
    """invite, kick, ban, unban: `user_id` and an optional `reason`."""

    user_id: StrictStr
    reason: StrictStr | None = None


class ReasonBody(_Body):
    reason: StrictStr | None = None


class TypingBody(_Body):
    typing: StrictBool
    timeout: StrictInt | None = None


class ReadMarkersBody(_Body):
    fully_read: StrictStr | None = Field(None, alias="m.fully_read")
    read: StrictStr | None = Field(None, alias="m.read")
    read_private: StrictStr | None = Field(None, alias="m.read.private")


class AliasBody(_Body):
    room_id: StrictStr


class VisibilityBody(_Body):
    # The spec's default when absent.
    visibility: StrictStr = "public"


class PublicRoomsFilter(_Body):
    generic_search_term: StrictStr | None = Field(None, max_length=1000)
    # Items are room types, or null for rooms without one.
    room_types: list[StrictStr | None] | None = Field(None, max_length=100)


class PublicRoomsBody(_Body):
    limit: StrictInt | None = None
    since: StrictStr | None = Field(None, max_length=64)
    filter: PublicRoomsFilter | None = None
    include_all_networks: StrictBool = False
    third_party_instance_id: StrictStr | None = Field(None, max_length=255)


class UpgradeBody(_Body):
    new_version: StrictStr = Field(max_length=32)


class KnockBody(_Body):
    reason: StrictStr | None = None
