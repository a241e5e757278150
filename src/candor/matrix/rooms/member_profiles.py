"""A membership event's profile fields, shared by the room write paths (`service.py`,
`upgrade.py`): a join, invite or knock carries the target's name and avatar."""

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.constants import Membership
from candor.matrix.events.persister import WriteContext

# Memberships whose event carries the target's profile (Synapse adds it to these three).
_PROFILED_MEMBERSHIPS = frozenset({Membership.JOIN, Membership.INVITE, Membership.KNOCK})
_PROFILE_FIELDS = ("displayname", "avatar_url")


async def add_member_profile(ctx: WriteContext, target: str, content: JsonDict) -> None:
    """Give a join, invite or knock the target's `displayname` and `avatar_url`, read in
    the work item's transaction, where the client did not set them itself (a per-room
    name stays). Clients show members by these: an invite without them shows a user id.
    """
    if content.get("membership") not in _PROFILED_MEMBERSHIPS:
        return
    profile = await accounts_facts.profile(ctx.conn, target) or {}
    for field in _PROFILE_FIELDS:
        if field not in content and field in profile:
            content[field] = profile[field]
