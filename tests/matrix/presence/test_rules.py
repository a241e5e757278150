"""The pure presence rules: what others see as time passes, and what counts as a change."""

from candor.matrix.presence.rules import (
    CURRENTLY_ACTIVE_MS,
    PresenceState,
    StoredPresence,
    Thresholds,
    effective_state,
    is_change,
    presence_content,
)

T = Thresholds(idle_after_ms=300_000, offline_after_ms=900_000)
NOW = 1_700_000_000_000


def row(state: str, ago_ms: int, status_msg: str | None = None) -> StoredPresence:
    return StoredPresence("@a:test.local", state, status_msg, NOW - ago_ms, 7)


def test_nobody_who_never_set_presence_is_offline_without_details() -> None:
    assert effective_state(None, NOW, T) == PresenceState.OFFLINE
    assert presence_content(None, NOW, T) == {"presence": "offline"}


def test_online_turns_unavailable_then_offline_as_the_person_goes_quiet() -> None:
    assert effective_state(row("online", 299_999), NOW, T) == PresenceState.ONLINE
    assert effective_state(row("online", 300_000), NOW, T) == PresenceState.UNAVAILABLE
    assert effective_state(row("online", 900_000), NOW, T) == PresenceState.OFFLINE
    assert effective_state(row("unavailable", 899_999), NOW, T) == PresenceState.UNAVAILABLE
    assert effective_state(row("unavailable", 900_000), NOW, T) == PresenceState.OFFLINE
    assert effective_state(row("offline", 0), NOW, T) == PresenceState.OFFLINE


def test_content_carries_activity_and_status() -> None:
    content = presence_content(row("online", 1000, "lunch"), NOW, T)
    assert content == {
        "presence": "online",
        "last_active_ago": 1000,
        "currently_active": True,
        "status_msg": "lunch",
    }
    quiet = presence_content(row("online", CURRENTLY_ACTIVE_MS), NOW, T)
    assert quiet["currently_active"] is False
    assert "status_msg" not in quiet
    assert presence_content(row("unavailable", 0), NOW, T)["currently_active"] is False


def test_a_change_is_what_others_would_see_differently() -> None:
    assert is_change(None, PresenceState.ONLINE, None, NOW, T)
    assert not is_change(None, PresenceState.OFFLINE, None, NOW, T)
    assert is_change(None, PresenceState.OFFLINE, "away", NOW, T)
    assert not is_change(row("online", 1000), PresenceState.ONLINE, None, NOW, T)
    assert is_change(row("online", 1000), PresenceState.ONLINE, "busy", NOW, T)
    assert is_change(row("online", 1000), PresenceState.UNAVAILABLE, None, NOW, T)
    # Stored online but read as idle: coming back is news to the room-mates.
    assert is_change(row("online", 400_000), PresenceState.ONLINE, None, NOW, T)
