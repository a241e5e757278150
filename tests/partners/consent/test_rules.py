"""The consent rules, exhaustively: a grant is live iff every current member accepted, none
declined or revoked, the membership never changed, and it has not expired (hypothesis)."""

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from candor.partners.consent.rules import (
    APP_SUSPENDED,
    DAY_MS,
    DEFAULT_DAYS,
    Decision,
    Observation,
    Status,
    app_ended,
    check_app,
    check_days,
    decided_status,
    expiry,
    membership_changed,
    new_agreement,
    observe,
    served,
    window_start,
)
from candor.partners.errors import PartnerError

PEOPLE = ["@a:x", "@b:x", "@c:x", "@d:x"]


@dataclass
class Model:
    """A grant driven through the same rules the service applies, plus the plain spec."""

    members: frozenset[str]
    days: int
    joined: set[str] = field(default_factory=set)
    decisions: dict[str, str] = field(default_factory=dict)
    stored: str = Status.PENDING
    expires_ts: int | None = None
    changed: bool = False
    now: int = 0
    # The specification's own bookkeeping, independent of the rules.
    ever_declined: bool = False
    ever_revoked: bool = False
    ever_changed: bool = False
    all_accepted_at: int | None = None

    def seen(self) -> Status:
        return observe(
            self.stored,
            members=self.members,
            joined=frozenset(self.joined),
            changed=self.changed,
            expires_ts=self.expires_ts,
            now_ms=self.now,
        ).status

    def spec_live(self) -> bool:
        return (
            not self.ever_declined
            and not self.ever_revoked
            and not self.ever_changed
            and self.all_accepted_at is not None
            and self.now < self.all_accepted_at + self.days * DAY_MS
        )

    def _persist(self) -> Status:
        seen = self.seen()
        self.stored = seen
        return seen

    def accept(self, who: str) -> None:
        if who not in self.members or self._persist() != Status.PENDING:
            return
        self.decisions[who] = Decision.ACCEPTED
        if decided_status(self.decisions) == Status.LIVE:
            self.stored = Status.LIVE
            self.expires_ts = expiry(self.now, self.days)
        everyone = all(self.decisions.get(m) == Decision.ACCEPTED for m in self.members)
        if everyone and not (self.ever_declined or self.ever_revoked or self.ever_changed):
            self.all_accepted_at = self.now

    def decline(self, who: str) -> None:
        if who not in self.members or self._persist() != Status.PENDING:
            return
        self.decisions[who] = Decision.DECLINED
        self.stored = decided_status(self.decisions)
        self.ever_declined = True

    def revoke(self, who: str) -> None:
        if who not in self.members or self._persist() not in (Status.PENDING, Status.LIVE):
            return
        self.stored = Status.REVOKED
        self.ever_revoked = True

    def join(self, who: str) -> None:
        if who not in self.joined:
            self.joined.add(who)
            self.changed = self.ever_changed = True

    def leave(self, who: str) -> None:
        if who in self.joined:
            self.joined.discard(who)
            self.changed = self.ever_changed = True


actions = st.lists(
    st.tuples(
        st.sampled_from(["accept", "decline", "revoke", "join", "leave", "wait"]),
        st.sampled_from(PEOPLE),
        st.integers(min_value=0, max_value=40 * DAY_MS),
    ),
    max_size=25,
)


@given(
    n=st.integers(min_value=1, max_value=3),
    days=st.integers(min_value=1, max_value=90),
    steps=actions,
)
def test_a_grant_is_live_iff_all_members_accepted_and_nothing_ended_it(
    n: int, days: int, steps: list[tuple[str, str, int]]
) -> None:
    members = frozenset(PEOPLE[:n])
    model = Model(members, days, joined=set(members))
    asker = PEOPLE[0]
    pending: dict[str, str] = dict.fromkeys(members, Decision.PENDING)
    model.decisions = pending | {asker: Decision.ACCEPTED}
    model.stored = decided_status(model.decisions)
    if model.stored == Status.LIVE:
        model.expires_ts = expiry(0, days)
        model.all_accepted_at = 0
    assert (model.seen() == Status.LIVE) == model.spec_live()
    for action, who, ms in steps:
        if action == "wait":
            model.now += ms
        else:
            getattr(model, action)(who)
        assert (model.seen() == Status.LIVE) == model.spec_live(), (action, who, model)


@given(st.dictionaries(st.sampled_from(PEOPLE), st.sampled_from(list(Decision)), min_size=1))
def test_decided_status(decisions: dict[str, str]) -> None:
    got = decided_status(decisions)
    if Decision.DECLINED in decisions.values():
        assert got == Status.DECLINED
    elif set(decisions.values()) == {Decision.ACCEPTED}:
        assert got == Status.LIVE
    else:
        assert got == Status.PENDING


def test_no_answers_is_not_live() -> None:
    assert decided_status({}) == Status.PENDING


@pytest.mark.parametrize("status", ["declined", "revoked", "voided", "expired"])
def test_an_ended_grant_stays_ended(status: str) -> None:
    seen = observe(
        status, members=frozenset(), joined=frozenset(), changed=False, expires_ts=None, now_ms=0
    )
    assert seen.status == status
    assert seen.reason is None


def test_a_live_grant_without_an_end_fails_closed() -> None:
    m = frozenset({"@a:x"})
    seen = observe("live", members=m, joined=m, changed=False, expires_ts=None, now_ms=0)
    assert seen.status == Status.EXPIRED


def test_a_different_joined_set_voids_even_without_a_recorded_change() -> None:
    seen = observe(
        "live",
        members=frozenset({"@a:x"}),
        joined=frozenset({"@a:x", "@b:x"}),
        changed=False,
        expires_ts=10,
        now_ms=0,
    )
    assert seen.status == Status.VOIDED


@given(st.lists(st.booleans(), min_size=1), st.integers(min_value=1, max_value=2**40))
def test_history_only_if_everyone_ticked(votes: list[bool], pos: int) -> None:
    assert window_start(votes, pos) == (0 if all(votes) else pos)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(PEOPLE),
            st.sampled_from(["join", "leave", "ban", "invite"]),
            st.sampled_from([None, "join", "leave", "ban", "invite"]),
        )
    )
)
def test_only_a_profile_update_is_not_a_membership_change(
    events: list[tuple[str, str, str | None]],
) -> None:
    assert membership_changed(events) == any(new != old for _, new, old in events)
    assert not membership_changed([("@a:x", "join", "join")])


@pytest.mark.parametrize(("days", "expected"), [(None, DEFAULT_DAYS), (1, 1), (90, 90)])
def test_days(days: int | None, expected: int) -> None:
    assert check_days(days) == expected


@pytest.mark.parametrize("days", [0, -1, 91, 10**9])
def test_days_out_of_range(days: int) -> None:
    with pytest.raises(PartnerError) as err:
        check_days(days)
    assert err.value.errcode == "CANDOR_INVALID_PARAM"


@pytest.mark.parametrize(
    ("status", "scopes"),
    [("pending", ["inbox.read"]), ("suspended", ["inbox.read"]), ("approved", ["profile"])],
)
def test_only_approved_apps_with_inbox_read(status: str, scopes: list[str]) -> None:
    with pytest.raises(PartnerError) as err:
        check_app(status, scopes)
    assert err.value.status == 403
    check_app("approved", ["profile", "inbox.read"])


@pytest.mark.parametrize("stored", ["pending", "live"])
def test_an_open_grant_in_a_room_now_encrypted_is_voided(stored: str) -> None:
    m = frozenset({"@a:x"})
    seen = observe(
        stored, members=m, joined=m, changed=False, expires_ts=10, now_ms=0, encrypted=True
    )
    assert seen.status == Status.VOIDED


@pytest.mark.parametrize(
    ("status", "version", "reason"),
    [
        ("approved", 2, None),
        ("approved", 3, new_agreement(3)),
        ("suspended", 2, APP_SUSPENDED),
        ("pending", 2, APP_SUSPENDED),
        (None, None, "the app no longer exists"),
    ],
)
def test_a_grant_holds_only_under_its_agreement_version_of_an_approved_app(
    status: str | None, version: int | None, reason: str | None
) -> None:
    assert app_ended(status, version, 2) == reason


@pytest.mark.parametrize("stored", ["pending", "live"])
def test_the_apps_side_voids_an_open_grant_and_says_why(stored: str) -> None:
    m = frozenset({"@a:x"})
    seen = observe(
        stored,
        members=m,
        joined=m,
        changed=False,
        expires_ts=10,
        now_ms=0,
        app_reason=new_agreement(2),
    )
    assert seen == Observation(Status.VOIDED, new_agreement(2))
    ended = observe(
        "revoked", members=m, joined=m, changed=False, expires_ts=10, now_ms=0, app_reason="x"
    )
    assert ended == Observation(Status.REVOKED, None)


@given(st.lists(st.sampled_from(PEOPLE)), st.frozensets(st.sampled_from(PEOPLE)))
def test_only_the_events_of_people_who_accepted_are_served(
    senders: list[str], members: frozenset[str]
) -> None:
    assert served(senders, members) == [s in members for s in senders]
    assert not any(served(["@left:x"], frozenset({"@a:x"})))
