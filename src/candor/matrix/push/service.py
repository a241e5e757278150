"""Push rules: read the merged ruleset, and change it (add, move, delete, actions, enabled).

Every change is a persister work item: the user's rows, the `m.push_rules` account data
that tells their other clients (a stream position, so /sync carries it), and forgetting
the user's compiled rules in the recorder all happen in one transaction, in commit order
with the sends being evaluated. Input is checked before anything is written, so a refused
request changes nothing.
"""

from candor.core.canonical_json import JsonDict
from candor.matrix.accounts import facts as accounts_facts
from candor.matrix.errors import InvalidParam, NotFound
from candor.matrix.events.persister import EventPersister, WriteContext
from candor.matrix.push import repository as repo
from candor.matrix.push.facts import PUSH_RULES, push_rules_content
from candor.matrix.push.recorder import NotificationRecorder
from candor.matrix.push.rules import (
    DEFAULT_RULE_KINDS,
    MAX_RULES_PER_USER,
    UserRule,
    check_actions,
    check_kind,
    check_rule_body,
    check_scope,
    check_user_rule_id,
    find_rule,
    place,
)
from candor.matrix.requester import Requester
from candor.store.db import Database


def _global(content: JsonDict) -> dict[str, list[JsonDict]]:
    ruleset = content["global"]
    assert isinstance(ruleset, dict)  # noqa: S101 - built by push_rules_content
    return ruleset


class PushRulesService:
    def __init__(
        self, db: Database, persister: EventPersister, recorder: NotificationRecorder
    ) -> None:
        self._db = db
        self._persister = persister
        self._recorder = recorder

    # --- reads -------------------------------------------------------------------------

    async def ruleset(self, requester: Requester) -> dict[str, list[JsonDict]]:
        async with self._db.read() as conn:
            return _global(await push_rules_content(conn, requester.user_id))

    async def rule(self, requester: Requester, scope: str, kind: str, rule_id: str) -> JsonDict:
        check_scope(scope)
        check_kind(kind)
        return find_rule(await self.ruleset(requester), kind, rule_id)

    # --- changes -----------------------------------------------------------------------

    async def put_rule(
        self,
        requester: Requester,
        scope: str,
        kind: str,
        rule_id: str,
        *,
        actions: list[object],
        conditions: list[object] | None,
        pattern: str | None,
        before: str | None,
        after: str | None,
    ) -> None:
        """Create or replace a user rule (enabled, as the spec requires of new rules)."""
        check_scope(scope)
        check_kind(kind)
        check_user_rule_id(kind, rule_id)
        kept_actions = check_actions(actions)
        kept_conditions, kept_pattern = check_rule_body(kind, conditions, pattern)
        user_id = requester.user_id
        rule = UserRule(kind, rule_id, kept_conditions, kept_pattern, kept_actions, True)

        async def work(ctx: WriteContext) -> None:
            rules, _ = await repo.list_rules(ctx.conn, [user_id])
            mine = rules.get(user_id, [])
            existing = [r.rule_id for r in mine if r.kind == kind]
            if rule_id not in existing and len(mine) >= MAX_RULES_PER_USER:
                raise InvalidParam(f"At most {MAX_RULES_PER_USER} push rules per user")
            order = place(existing, rule_id, before=before, after=after)
            await repo.set_rule(ctx.conn, user_id, rule)
            await repo.set_positions(ctx.conn, user_id, kind, order)
            await self._changed(ctx, user_id)

        await self._persister.run(work)

    async def delete_rule(self, requester: Requester, scope: str, kind: str, rule_id: str) -> None:
        check_scope(scope)
        check_kind(kind)
        if DEFAULT_RULE_KINDS.get(rule_id) == kind:
            raise InvalidParam("Server-default push rules cannot be deleted (disable them)")
        user_id = requester.user_id

        async def work(ctx: WriteContext) -> None:
            if not await repo.delete_rule(ctx.conn, user_id, kind, rule_id):
                raise NotFound("The push rule was not found")
            await self._changed(ctx, user_id)

        await self._persister.run(work)

    async def set_actions(
        self, requester: Requester, scope: str, kind: str, rule_id: str, actions: list[object]
    ) -> None:
        check_scope(scope)
        check_kind(kind)
        kept = check_actions(actions)
        await self._set_field(requester.user_id, kind, rule_id, actions=kept)

    async def set_enabled(
        self, requester: Requester, scope: str, kind: str, rule_id: str, enabled: bool
    ) -> None:
        check_scope(scope)
        check_kind(kind)
        await self._set_field(requester.user_id, kind, rule_id, enabled=enabled)

    async def _set_field(self, user_id: str, kind: str, rule_id: str, **value: object) -> None:
        async def work(ctx: WriteContext) -> None:
            if DEFAULT_RULE_KINDS.get(rule_id) == kind:
                await repo.set_setting(ctx.conn, user_id, rule_id, **value)
            else:
                rules, _ = await repo.list_rules(ctx.conn, [user_id])
                if not any(r.kind == kind and r.rule_id == rule_id for r in rules.get(user_id, [])):
                    raise NotFound("The push rule was not found")
                stored = {
                    k: (repo.encode_json(v) if k == "actions" else v) for k, v in value.items()
                }
                await repo.set_rule_fields(ctx.conn, user_id, kind, rule_id, **stored)
            await self._changed(ctx, user_id)

        await self._persister.run(work)

    async def _changed(self, ctx: WriteContext, user_id: str) -> None:
        """Tell the user's clients (account data at a new position) and the recorder."""
        content = await push_rules_content(ctx.conn, user_id)
        await accounts_facts.set_account_data(
            ctx.conn, user_id, "", PUSH_RULES, content, ctx.next_position()
        )
        ctx.users.add(user_id)
        self._recorder.forget(user_id)
