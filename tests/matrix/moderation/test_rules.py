"""The pure rules of what a locked or suspended account may do, on route templates
(including routes other sub-packages serve: knock, upgrade, media)."""

import pytest

from candor.matrix.moderation.rules import locked_may, route_key, suspended_may

C = "/_matrix/client/v3"


@pytest.mark.parametrize(
    ("method", "template", "may"),
    [
        ("POST", f"{C}/logout", True),
        ("POST", f"{C}/logout/all", True),
        ("GET", f"{C}/sync", False),
        ("GET", f"{C}/account/whoami", False),
        ("POST", f"{C}/logout/else", False),
    ],
)
def test_a_locked_account_may_only_log_out(method: str, template: str, may: bool) -> None:
    assert locked_may(route_key(method, template)) is may


@pytest.mark.parametrize(
    ("method", "template", "params", "may"),
    [
        (
            "PUT",
            f"{C}/rooms/{{room_id}}/send/{{event_type}}/{{txn_id}}",
            ["!r", "m.room.message", "t"],
            False,
        ),
        (
            "PUT",
            f"{C}/rooms/{{room_id}}/send/{{event_type}}/{{txn_id}}",
            ["!r", "m.room.redaction", "t"],
            True,
        ),
        ("PUT", f"{C}/rooms/{{room_id}}/redact/{{event_id}}/{{txn_id}}", ["!r", "$e", "t"], True),
        (
            "PUT",
            f"{C}/rooms/{{room_id}}/state/{{event_type}}/{{state_key:path}}",
            ["!r", "m.room.name", ""],
            False,
        ),
        ("POST", f"{C}/createRoom", [], False),
        ("POST", f"{C}/join/{{room_id_or_alias}}", ["#a:x"], False),
        ("POST", f"{C}/knock/{{room_id_or_alias}}", ["#a:x"], False),
        ("POST", f"{C}/rooms/{{room_id}}/upgrade", ["!r"], False),
        ("POST", f"{C}/rooms/{{room_id}}/invite", ["!r"], False),
        ("POST", f"{C}/rooms/{{room_id}}/leave", ["!r"], True),
        ("POST", f"{C}/rooms/{{room_id}}/forget", ["!r"], True),
        ("PUT", f"{C}/profile/{{user_id}}/displayname", ["@u:x"], False),
        ("PUT", f"{C}/profile/{{user_id}}/{{key_name}}", ["@u:x", "m.tz"], False),
        ("DELETE", f"{C}/profile/{{user_id}}/{{key_name}}", ["@u:x", "m.tz"], False),
        ("GET", f"{C}/profile/{{user_id}}/displayname", ["@u:x"], True),
        ("PUT", f"{C}/directory/room/{{alias}}", ["#a:x"], False),
        ("POST", "/_matrix/media/v3/upload", [], False),
        ("POST", "/_matrix/media/v1/create", [], False),
        ("PUT", "/_matrix/media/v3/upload/{server_name}/{media_id}", ["x", "y"], False),
        ("GET", "/_matrix/client/v1/media/download/{server_name}/{media_id}", ["x", "y"], True),
        ("GET", f"{C}/sync", [], True),
        ("POST", f"{C}/keys/upload", [], True),
        ("PUT", f"{C}/room_keys/keys", [], True),
        ("POST", f"{C}/rooms/{{room_id}}/report/{{event_id}}", ["!r", "$e"], True),
        (
            "POST",
            f"{C}/rooms/{{room_id}}/receipt/{{receipt_type}}/{{event_id}}",
            ["!r", "m.read", "$e"],
            True,
        ),
    ],
)
def test_a_suspended_account_reads_but_does_not_act(
    method: str, template: str, params: list[str], may: bool
) -> None:
    assert suspended_may(route_key(method, template), params) is may
