"""Push endpoints: push rules, pushers and the notifications list.

https://spec.matrix.org/v1.11/client-server-api/#push-notifications
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from candor.matrix.auth import RequesterDep
from candor.matrix.http import CLIENT_PREFIX, Provided, empty_response, json_response
from candor.matrix.push.notifications import NotificationsService
from candor.matrix.push.pushers import PushersService
from candor.matrix.push.schemas import ActionsBody, EnabledBody, PusherBody, PushRuleBody
from candor.matrix.push.service import PushRulesService

router = APIRouter(prefix=CLIENT_PREFIX)

RulesDep = Annotated[PushRulesService, Depends(Provided(PushRulesService))]
PushersDep = Annotated[PushersService, Depends(Provided(PushersService))]
NotificationsDep = Annotated[NotificationsService, Depends(Provided(NotificationsService))]
_RULE = "/pushrules/{scope}/{kind}/{rule_id}"


@router.get("/pushrules/")
async def get_push_rules(requester: RequesterDep, rules: RulesDep) -> Response:
    """The user's rulesets (only `global` exists), server defaults included, in order."""
    return json_response({"global": await rules.ruleset(requester)})


@router.get("/pushrules/global/")
async def get_global_push_rules(requester: RequesterDep, rules: RulesDep) -> Response:
    return json_response(await rules.ruleset(requester))


@router.get(_RULE)
async def get_push_rule(
    scope: str, kind: str, rule_id: str, requester: RequesterDep, rules: RulesDep
) -> Response:
    return json_response(await rules.rule(requester, scope, kind, rule_id))


@router.put(_RULE)
async def put_push_rule(
    scope: str,
    kind: str,
    rule_id: str,
    body: PushRuleBody,
    requester: RequesterDep,
    rules: RulesDep,
    before: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
) -> Response:
    """Create or replace a user rule; `before`/`after` name a user rule of the same kind."""
    await rules.put_rule(
        requester,
        scope,
        kind,
        rule_id,
        actions=list(body.actions),
        conditions=body.conditions,
        pattern=body.pattern,
        before=before,
        after=after,
    )
    return empty_response()


@router.delete(_RULE)
async def delete_push_rule(
    scope: str, kind: str, rule_id: str, requester: RequesterDep, rules: RulesDep
) -> Response:
    await rules.delete_rule(requester, scope, kind, rule_id)
    return empty_response()


@router.get(_RULE + "/actions")
async def get_push_rule_actions(
    scope: str, kind: str, rule_id: str, requester: RequesterDep, rules: RulesDep
) -> Response:
    rule = await rules.rule(requester, scope, kind, rule_id)
    return json_response({"actions": rule["actions"]})


@router.put(_RULE + "/actions")
async def put_push_rule_actions(
    scope: str,
    kind: str,
    rule_id: str,
    body: ActionsBody,
    requester: RequesterDep,
    rules: RulesDep,
) -> Response:
    """Server-default rules' actions can be changed too (not their conditions)."""
    await rules.set_actions(requester, scope, kind, rule_id, list(body.actions))
    return empty_response()


@router.get(_RULE + "/enabled")
async def get_push_rule_enabled(
    scope: str, kind: str, rule_id: str, requester: RequesterDep, rules: RulesDep
) -> Response:
    rule = await rules.rule(requester, scope, kind, rule_id)
    return json_response({"enabled": rule["enabled"]})


@router.put(_RULE + "/enabled")
async def put_push_rule_enabled(
    scope: str,
    kind: str,
    rule_id: str,
    body: EnabledBody,
    requester: RequesterDep,
    rules: RulesDep,
) -> Response:
    await rules.set_enabled(requester, scope, kind, rule_id, body.enabled)
    return empty_response()


@router.get("/pushers")
async def get_pushers(requester: RequesterDep, pushers: PushersDep) -> Response:
    return json_response({"pushers": await pushers.list_pushers(requester)})


@router.post("/pushers/set")
async def set_pusher(body: PusherBody, requester: RequesterDep, pushers: PushersDep) -> Response:
    """Create, update (kind http) or delete (kind null) the pusher (app_id, pushkey)."""
    await pushers.set_pusher(requester, body)
    return empty_response()


@router.get("/notifications")
async def get_notifications(
    requester: RequesterDep,
    notifications: NotificationsDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    limit: Annotated[int | None, Query()] = None,
    only: Annotated[str | None, Query()] = None,
) -> Response:
    """The events the user was notified about, newest first; `next_token` pages on."""
    return json_response(await notifications.list_notifications(requester, from_, limit, only))
