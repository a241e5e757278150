"""Push rules over HTTP on both engines: read, create, place, delete, actions, enabled; bad
input is refused and changes nothing; changes reach /sync as m.push_rules account data."""

from typing import Any

import httpx
import pytest

from tests.helpers.matrix import V3, MatrixTestClient

RULES = "/pushrules/global"


async def rules(client: MatrixTestClient) -> Any:
    return (await client.ok("GET", "/pushrules/"))["global"]


def ids(ruleset: Any, kind: str) -> list[str]:
    return [r["rule_id"] for r in ruleset[kind]]


async def put(client: MatrixTestClient, path: str, body: Any, **params: str) -> httpx.Response:
    return await client.request("PUT", f"{RULES}/{path}", json=body, params=params)


async def test_the_defaults_are_served_in_order(alice: MatrixTestClient) -> None:
    ruleset = await rules(alice)
    assert set(ruleset) == {"override", "content", "room", "sender", "underride"}
    assert ids(ruleset, "override")[0] == ".m.rule.master"
    assert ids(ruleset, "underride")[-1] == ".m.rule.encrypted"
    assert ruleset["content"][0]["pattern"] == "alice"
    assert await alice.ok("GET", "/pushrules/global/") == ruleset
    one = await alice.ok("GET", f"{RULES}/underride/.m.rule.message")
    assert one == {
        "rule_id": ".m.rule.message",
        "default": True,
        "enabled": True,
        "actions": ["notify"],
        "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}],
    }


async def test_reading_unknown_rules_kinds_and_scopes(alice: MatrixTestClient) -> None:
    r = await alice.request("GET", f"{RULES}/override/nope")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    r = await alice.request("GET", f"{RULES}/content/.m.rule.message")  # wrong kind
    assert r.status_code == 404
    r = await alice.request("GET", f"{RULES}/sideways/x")
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    r = await alice.request("GET", "/pushrules/device/override/.m.rule.master")
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    r = await alice.http.get(f"{V3}/pushrules/")
    assert r.status_code == 401


async def test_a_new_rule_is_enabled_user_defined_and_first_of_its_kind(
    alice: MatrixTestClient,
) -> None:
    for name in ("tea", "cake"):
        r = await put(alice, f"content/{name}", {"pattern": name, "actions": ["notify"]})
        assert r.status_code == 200, r.text
        assert r.json() == {}
    ruleset = await rules(alice)
    assert ids(ruleset, "content") == ["cake", "tea", ".m.rule.contains_user_name"]
    assert ruleset["content"][0] == {
        "rule_id": "cake",
        "default": False,
        "enabled": True,
        "actions": ["notify"],
        "pattern": "cake",
    }


async def test_before_and_after_place_rules_and_updates_keep_their_place(
    alice: MatrixTestClient,
) -> None:
    cond = [{"kind": "event_match", "key": "content.body", "pattern": "x"}]
    for name in ("c", "b", "a"):
        assert (
            await put(alice, f"override/{name}", {"conditions": cond, "actions": []})
        ).status_code == 200
    assert ids(await rules(alice), "override")[1:4] == ["a", "b", "c"]
    r = await put(alice, "override/d", {"actions": ["notify"]}, before="c")
    assert r.status_code == 200
    r = await put(alice, "override/e", {"actions": ["notify"]}, after="a")
    assert r.status_code == 200
    assert ids(await rules(alice), "override")[1:6] == ["a", "e", "b", "d", "c"]
    # Moving an existing rule, and `before` winning over `after`.
    r = await put(alice, "override/a", {"actions": []}, before="c", after="e")
    assert r.status_code == 200
    ruleset = await rules(alice)
    assert ids(ruleset, "override")[1:6] == ["e", "b", "d", "a", "c"]
    assert ruleset["override"][4]["conditions"] == []
    # An update without before/after keeps the place and replaces the content.
    r = await put(alice, "override/b", {"actions": ["notify"], "conditions": cond})
    assert r.status_code == 200
    ruleset = await rules(alice)
    assert ids(ruleset, "override")[1:6] == ["e", "b", "d", "a", "c"]
    assert ruleset["override"][2]["actions"] == ["notify"]
    assert ids(ruleset, "override")[6] == ".m.rule.suppress_notices"


@pytest.mark.parametrize(
    ("path", "body", "params", "status", "errcode"),
    [
        ("override/.m.rule.master", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
        ("override/.mine", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
        ("override/a\\b", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
        ("room/not-a-room", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
        ("sender/!room:x", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
        ("sideways/x", {"actions": []}, {}, 400, "M_INVALID_PARAM"),
        ("override/x", {}, {}, 400, "M_MISSING_PARAM"),
        ("override/x", {"actions": "notify"}, {}, 400, "M_BAD_JSON"),
        ("override/x", {"actions": ["shout"]}, {}, 400, "M_INVALID_PARAM"),
        (
            "override/x",
            {"actions": [], "conditions": [{"kind": "event_match"}]},
            {},
            400,
            "M_INVALID_PARAM",
        ),
        ("override/x", {"actions": [], "conditions": "all"}, {}, 400, "M_BAD_JSON"),
        ("content/x", {"actions": []}, {}, 400, "M_MISSING_PARAM"),
        ("override/x", {"actions": []}, {"before": "nope"}, 400, "M_UNKNOWN"),
        ("override/x", {"actions": []}, {"after": ".m.rule.suppress_notices"}, 400, "M_UNKNOWN"),
    ],
)
async def test_bad_rules_are_refused_and_change_nothing(
    alice: MatrixTestClient,
    path: str,
    body: Any,
    params: dict[str, str],
    status: int,
    errcode: str,
) -> None:
    assert (await put(alice, "override/keep", {"actions": ["notify"]})).status_code == 200
    before = await rules(alice)
    sync = await alice.sync()

    r = await put(alice, path, body, **params)

    assert (r.status_code, r.json()["errcode"]) == (status, errcode), r.text
    assert await rules(alice) == before
    again = await alice.sync(since=sync["next_batch"], timeout="0")
    assert again["account_data"]["events"] == []


async def test_deleting_user_rules_but_never_the_defaults(alice: MatrixTestClient) -> None:
    assert (await put(alice, "sender/@spam:test.local", {"actions": []})).status_code == 200
    assert ids(await rules(alice), "sender") == ["@spam:test.local"]
    r = await alice.request("DELETE", f"{RULES}/sender/@spam:test.local")
    assert (r.status_code, r.json()) == (200, {})
    assert ids(await rules(alice), "sender") == []
    r = await alice.request("DELETE", f"{RULES}/sender/@spam:test.local")
    assert (r.status_code, r.json()["errcode"]) == (404, "M_NOT_FOUND")
    before = await rules(alice)
    r = await alice.request("DELETE", f"{RULES}/underride/.m.rule.message")
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    assert await rules(alice) == before


async def test_actions_and_enabled_of_default_and_user_rules(alice: MatrixTestClient) -> None:
    master = f"{RULES}/override/.m.rule.master"
    assert await alice.ok("GET", f"{master}/enabled") == {"enabled": False}
    assert await alice.ok("PUT", f"{master}/enabled", json={"enabled": True}) == {}
    assert await alice.ok("GET", f"{master}/enabled") == {"enabled": True}
    message = f"{RULES}/underride/.m.rule.message"
    loud = ["notify", {"set_tweak": "sound", "value": "bing"}, "coalesce"]
    assert await alice.ok("PUT", f"{message}/actions", json={"actions": loud}) == {}
    assert await alice.ok("GET", f"{message}/actions") == {"actions": loud[:2]}
    # The two settings of one default rule are independent.
    assert await alice.ok("GET", f"{master}/actions") == {"actions": []}
    assert (await alice.ok("GET", message))["enabled"] is True

    assert (await put(alice, "content/tea", {"pattern": "tea", "actions": []})).status_code == 200
    tea = f"{RULES}/content/tea"
    assert await alice.ok("PUT", f"{tea}/enabled", json={"enabled": False}) == {}
    assert await alice.ok("PUT", f"{tea}/actions", json={"actions": ["notify"]}) == {}
    assert await alice.ok("GET", tea) == {
        "rule_id": "tea",
        "default": False,
        "enabled": False,
        "actions": ["notify"],
        "pattern": "tea",
    }


async def test_actions_and_enabled_refuse_unknown_rules_and_bad_bodies(
    alice: MatrixTestClient,
) -> None:
    before = await rules(alice)
    cases = [
        ("PUT", f"{RULES}/override/nope/enabled", {"enabled": True}, 404, "M_NOT_FOUND"),
        ("PUT", f"{RULES}/content/.m.rule.master/enabled", {"enabled": True}, 404, "M_NOT_FOUND"),
        ("PUT", f"{RULES}/override/nope/actions", {"actions": []}, 404, "M_NOT_FOUND"),
        ("GET", f"{RULES}/override/nope/actions", None, 404, "M_NOT_FOUND"),
        ("PUT", f"{RULES}/override/.m.rule.master/enabled", {"enabled": "yes"}, 400, "M_BAD_JSON"),
        ("PUT", f"{RULES}/override/.m.rule.master/enabled", {}, 400, "M_MISSING_PARAM"),
        (
            "PUT",
            f"{RULES}/override/.m.rule.master/actions",
            {"actions": ["x"]},
            400,
            "M_INVALID_PARAM",
        ),
    ]
    for method, path, body, status, errcode in cases:
        r = await alice.request(method, path, json=body)
        assert (r.status_code, r.json()["errcode"]) == (status, errcode), (path, r.text)
    assert await rules(alice) == before


async def test_rule_changes_reach_sync_as_push_rules_account_data(
    alice: MatrixTestClient,
) -> None:
    first = await alice.sync()
    initial = {e["type"]: e["content"] for e in first["account_data"]["events"]}
    assert initial["m.push_rules"] == {"global": await rules(alice)}

    assert (
        await put(alice, "content/tea", {"pattern": "tea", "actions": ["notify"]})
    ).status_code == 200
    later = await alice.sync(since=first["next_batch"], timeout="0")
    events = [e for e in later["account_data"]["events"] if e["type"] == "m.push_rules"]
    assert len(events) == 1
    assert ids(events[0]["content"]["global"], "content")[0] == "tea"
    quiet = await alice.sync(since=later["next_batch"], timeout="0")
    assert quiet["account_data"]["events"] == []

    r = await alice.request(
        "PUT", f"/user/{alice.user_id}/account_data/m.push_rules", json={"global": {}}
    )
    assert r.status_code == 400


async def test_each_user_has_their_own_rules(
    alice: MatrixTestClient, bob: MatrixTestClient
) -> None:
    assert (await put(alice, "content/tea", {"pattern": "tea", "actions": []})).status_code == 200
    assert ids(await rules(bob), "content") == [".m.rule.contains_user_name"]
    assert (await bob.request("GET", f"{RULES}/content/tea")).status_code == 404
