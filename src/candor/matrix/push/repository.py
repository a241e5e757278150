"""SQL for push rules, pushers, recorded notifications and the delivery queue (the unread
counts are `counting.py`'s).

Functions take the caller's connection; none commits. The statements on the send path
(one baseline row, exception rows, queue rows) are built once at import. How notifications are stored, and why per event rather than per member, is in
`store/models/push.py`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    TextClause,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from candor.core.canonical_json import decode, encode_canonical
from candor.matrix.push.rules import DefaultSetting, UserRule
from candor.store.db import insert_many, upsert
from candor.store.models.push import (
    Notification,
    NotificationEvent,
    PushDelivery,
    Pusher,
    PushMembership,
    PushRule,
    PushRuleSetting,
)


def encode_json(value: object) -> str:
    return encode_canonical(value).decode()


def _list(raw: str | None) -> list[object] | None:
    if raw is None:
        return None
    found = decode(raw)
    return found if isinstance(found, list) else []


# --- rules ---------------------------------------------------------------------------------

_RULE_COLUMNS = (
    PushRule.user_id,
    PushRule.kind,
    PushRule.rule_id,
    PushRule.conditions,
    PushRule.pattern,
    PushRule.actions,
    PushRule.enabled,
)
_KIND_ORDER = {"override": 0, "content": 1, "room": 2, "sender": 3, "underride": 4}


async def list_rules(
    conn: AsyncConnection, user_ids: Sequence[str]
) -> tuple[dict[str, list[UserRule]], dict[str, list[DefaultSetting]]]:
    """Each user's own rules (in kind, then placed, order) and default-rule settings."""
    rules: dict[str, list[UserRule]] = {}
    settings: dict[str, list[DefaultSetting]] = {}
    if not user_ids:
        return rules, settings
    rows = await conn.execute(
        select(*_RULE_COLUMNS, PushRule.position).where(PushRule.user_id.in_(list(user_ids)))
    )
    for row in sorted(rows, key=lambda r: (r.user_id, _KIND_ORDER.get(r.kind, 9), r.position)):
        rules.setdefault(row.user_id, []).append(
            UserRule(
                kind=row.kind,
                rule_id=row.rule_id,
                conditions=_list(row.conditions),
                pattern=row.pattern,
                actions=_list(row.actions) or [],
                enabled=bool(row.enabled),
            )
        )
    found = await conn.execute(
        select(
            PushRuleSetting.user_id,
            PushRuleSetting.rule_id,
            PushRuleSetting.enabled,
            PushRuleSetting.actions,
        ).where(PushRuleSetting.user_id.in_(list(user_ids)))
    )
    for setting in found:
        settings.setdefault(setting.user_id, []).append(
            DefaultSetting(
                rule_id=setting.rule_id,
                enabled=None if setting.enabled is None else bool(setting.enabled),
                actions=_list(setting.actions),
            )
        )
    return rules, settings


async def set_rule(conn: AsyncConnection, user_id: str, rule: UserRule) -> None:
    """Insert or replace the rule's content (its position is set by `set_positions`)."""
    await upsert(
        conn,
        PushRule,
        {
            "user_id": user_id,
            "kind": rule.kind,
            "rule_id": rule.rule_id,
            "position": 0,
            "conditions": None if rule.conditions is None else encode_json(rule.conditions),
            "pattern": rule.pattern,
            "actions": encode_json(rule.actions),
            "enabled": rule.enabled,
        },
        ("user_id", "kind", "rule_id"),
    )


async def set_positions(
    conn: AsyncConnection, user_id: str, kind: str, order: Sequence[str]
) -> None:
    for position, rule_id in enumerate(order):
        await conn.execute(
            update(PushRule)
            .where(PushRule.user_id == user_id, PushRule.kind == kind, PushRule.rule_id == rule_id)
            .values(position=position)
        )


async def set_rule_fields(
    conn: AsyncConnection, user_id: str, kind: str, rule_id: str, **values: object
) -> None:
    await conn.execute(
        update(PushRule)
        .where(PushRule.user_id == user_id, PushRule.kind == kind, PushRule.rule_id == rule_id)
        .values(**values)
    )


async def delete_rule(conn: AsyncConnection, user_id: str, kind: str, rule_id: str) -> bool:
    result = await conn.execute(
        delete(PushRule).where(
            PushRule.user_id == user_id, PushRule.kind == kind, PushRule.rule_id == rule_id
        )
    )
    return bool(result.rowcount)


async def set_setting(conn: AsyncConnection, user_id: str, rule_id: str, **values: object) -> None:
    """Change a default rule's `enabled` or `actions` for the user, keeping the other."""
    current = (
        await conn.execute(
            select(PushRuleSetting.enabled, PushRuleSetting.actions).where(
                PushRuleSetting.user_id == user_id, PushRuleSetting.rule_id == rule_id
            )
        )
    ).first()
    row: dict[str, object] = {
        "user_id": user_id,
        "rule_id": rule_id,
        "enabled": None if current is None else current.enabled,
        "actions": None if current is None else current.actions,
    }
    for key, value in values.items():
        row[key] = encode_json(value) if key == "actions" else value
    await upsert(conn, PushRuleSetting, row, ("user_id", "rule_id"))


# --- pushers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PusherRow:
    id: int
    user_id: str
    device_id: str | None
    kind: str
    app_id: str
    pushkey: str
    app_display_name: str
    device_display_name: str
    profile_tag: str | None
    lang: str
    data: dict[str, object]
    ts: int


_PUSHER_COLUMNS = (
    Pusher.id,
    Pusher.user_id,
    Pusher.device_id,
    Pusher.kind,
    Pusher.app_id,
    Pusher.pushkey,
    Pusher.app_display_name,
    Pusher.device_display_name,
    Pusher.profile_tag,
    Pusher.lang,
    Pusher.data,
    Pusher.ts,
)


def _pusher(row: Any) -> PusherRow:  # Any: SQLAlchemy's variadic Row type
    data = decode(row.data)
    return PusherRow(
        id=int(row.id),
        user_id=row.user_id,
        device_id=row.device_id,
        kind=row.kind,
        app_id=row.app_id,
        pushkey=row.pushkey,
        app_display_name=row.app_display_name,
        device_display_name=row.device_display_name,
        profile_tag=row.profile_tag,
        lang=row.lang,
        data=data if isinstance(data, dict) else {},
        ts=int(row.ts),
    )


async def list_pushers(conn: AsyncConnection, user_id: str) -> list[PusherRow]:
    rows = await conn.execute(
        select(*_PUSHER_COLUMNS).where(Pusher.user_id == user_id).order_by(Pusher.id)
    )
    return [_pusher(r) for r in rows]


async def get_pusher(conn: AsyncConnection, pusher_id: int) -> PusherRow | None:
    row = (await conn.execute(select(*_PUSHER_COLUMNS).where(Pusher.id == pusher_id))).first()
    return None if row is None else _pusher(row)


async def list_pusher_ids(
    conn: AsyncConnection, user_ids: Sequence[str]
) -> dict[str, tuple[int, ...]]:
    """Each user's pusher ids (users without pushers are absent)."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        select(Pusher.user_id, Pusher.id).where(Pusher.user_id.in_(list(user_ids)))
    )
    out: dict[str, list[int]] = {}
    for user_id, pusher_id in rows:
        out.setdefault(user_id, []).append(int(pusher_id))
    return {u: tuple(ids) for u, ids in out.items()}


async def set_pusher(conn: AsyncConnection, row: dict[str, object]) -> None:
    """Create or update the user's pusher for (app_id, pushkey)."""
    await upsert(conn, Pusher, row, ("user_id", "app_id", "pushkey"))


async def delete_pusher(conn: AsyncConnection, user_id: str, app_id: str, pushkey: str) -> None:
    await conn.execute(
        delete(Pusher).where(
            Pusher.user_id == user_id, Pusher.app_id == app_id, Pusher.pushkey == pushkey
        )
    )


async def delete_other_users_pushers(
    conn: AsyncConnection, user_id: str, app_id: str, pushkey: str
) -> list[str]:
    """`append: false`: the pushkey now belongs to this user alone. Returns whose it was."""
    rows = await conn.execute(
        select(Pusher.user_id).where(
            Pusher.app_id == app_id, Pusher.pushkey == pushkey, Pusher.user_id != user_id
        )
    )
    others = [r[0] for r in rows]
    if others:
        await conn.execute(
            delete(Pusher).where(
                Pusher.app_id == app_id, Pusher.pushkey == pushkey, Pusher.user_id != user_id
            )
        )
    return others


async def delete_pushers_by_id(conn: AsyncConnection, pusher_ids: Sequence[int]) -> None:
    if pusher_ids:
        await conn.execute(delete(Pusher).where(Pusher.id.in_(list(pusher_ids))))
        await conn.execute(delete(PushDelivery).where(PushDelivery.pusher_id.in_(list(pusher_ids))))


async def delete_device_pushers(
    conn: AsyncConnection, user_id: str, device_ids: Sequence[str] | None
) -> list[int]:
    """Remove the pushers the devices set (None: all the user's); returns their ids."""
    query = select(Pusher.id).where(Pusher.user_id == user_id)
    if device_ids is not None:
        query = query.where(Pusher.device_id.in_(list(device_ids)))
    ids = [int(r[0]) for r in await conn.execute(query)]
    await delete_pushers_by_id(conn, ids)
    return ids


# --- recording notifications (the send path) -----------------------------------------------

_OPEN_SPELL = insert(PushMembership)
_CLOSE_SPELL = (
    update(PushMembership)
    .where(
        PushMembership.user_id == bindparam("u"),
        PushMembership.room_id == bindparam("r"),
        PushMembership.left_pos.is_(None),
    )
    .values(left_pos=bindparam("pos"))
)


async def add_baselines(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
    """Rows of `notification_events`: stream_pos, room_id, sender, highlight, actions."""
    await insert_many(conn, NotificationEvent, rows)


async def add_exceptions(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
    """Rows of `notifications`: user_id, stream_pos, room_id, notify, highlight, actions."""
    await insert_many(conn, Notification, rows)


async def add_deliveries(conn: AsyncConnection, rows: list[dict[str, object]]) -> None:
    await insert_many(conn, PushDelivery, rows)


async def open_spell(conn: AsyncConnection, user_id: str, room_id: str, pos: int) -> None:
    await conn.execute(
        _OPEN_SPELL, {"user_id": user_id, "room_id": room_id, "joined_pos": pos, "left_pos": None}
    )


async def close_spell(conn: AsyncConnection, user_id: str, room_id: str, pos: int) -> None:
    await conn.execute(_CLOSE_SPELL, {"u": user_id, "r": room_id, "pos": pos})


# --- listing notifications (GET /notifications) --------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationRow:
    stream_pos: int
    room_id: str
    highlight: bool
    actions: str
    thread_id: str  # '' for the main timeline


def _baseline_page(extra: str) -> TextClause:
    return text(
        f"""SELECT e.stream_pos, e.room_id, e.highlight, e.actions, e.thread_id
        FROM notification_events e
        JOIN push_memberships m ON m.room_id = e.room_id AND m.user_id = :user
          AND e.stream_pos > m.joined_pos AND (m.left_pos IS NULL OR e.stream_pos < m.left_pos)
        WHERE e.stream_pos < :before AND e.sender <> :user {extra}
          AND NOT EXISTS (SELECT 1 FROM notifications x
                          WHERE x.user_id = :user AND x.stream_pos = e.stream_pos)
        ORDER BY e.stream_pos DESC LIMIT :limit"""  # noqa: S608 - constant fragments
    )


def _mine_page(extra: str) -> TextClause:
    return text(
        f"""SELECT n.stream_pos, n.room_id, n.highlight, n.actions, n.thread_id
        FROM notifications n
        WHERE n.user_id = :user AND n.notify AND n.stream_pos < :before {extra}
        ORDER BY n.stream_pos DESC LIMIT :limit"""  # noqa: S608 - constant fragments
    )


_PAGES = {
    False: (_baseline_page(""), _mine_page("")),
    True: (_baseline_page("AND e.highlight"), _mine_page("AND n.highlight")),
}


async def list_notifications(
    conn: AsyncConnection, user_id: str, *, before: int, limit: int, only_highlight: bool
) -> list[NotificationRow]:
    """The user's notifications with position < `before`, newest first, at most `limit`:
    baseline rows of the events in their joined stretches that they did not send and have
    no exception for, and their own notifying exceptions."""
    baseline, mine = _PAGES[only_highlight]
    params = {"user": user_id, "before": before, "limit": limit}
    rows = [*await conn.execute(baseline, params), *await conn.execute(mine, params)]
    found = [NotificationRow(int(r[0]), r[1], bool(r[2]), r[3], r[4]) for r in rows]
    found.sort(key=lambda n: n.stream_pos, reverse=True)
    return found[:limit]


_READ_POSITIONS = text(
    """SELECT r.room_id, r.thread_id, MAX(ev.stream_pos) FROM receipts r
    JOIN events ev ON ev.event_id = r.event_id
    WHERE r.user_id = :user AND r.room_id IN :rooms
      AND r.receipt_type IN ('m.read', 'm.read.private')
    GROUP BY r.room_id, r.thread_id"""
).bindparams(bindparam("rooms", expanding=True))


async def read_positions(
    conn: AsyncConnection, user_id: str, room_ids: Sequence[str]
) -> dict[tuple[str, str], int]:
    """The position of the user's latest read receipt (public or private) per room and
    thread: '' the unthreaded one, `main` the main timeline's, else a thread root's."""
    if not room_ids:
        return {}
    rows = await conn.execute(_READ_POSITIONS, {"user": user_id, "rooms": list(room_ids)})
    return {(r[0], r[1]): int(r[2]) for r in rows if r[2] is not None}


# --- the delivery queue --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedPush:
    id: int
    pusher_id: int
    user_id: str
    room_id: str
    stream_pos: int
    highlight: bool
    actions: str
    attempts: int


_QUEUE_COLUMNS = (
    PushDelivery.id,
    PushDelivery.pusher_id,
    PushDelivery.user_id,
    PushDelivery.room_id,
    PushDelivery.stream_pos,
    PushDelivery.highlight,
    PushDelivery.actions,
    PushDelivery.attempts,
)


async def claim_due(
    conn: AsyncConnection, now_ms: int, lease_ms: int, limit: int
) -> list[QueuedPush]:
    """Take up to `limit` due deliveries, leasing them for `lease_ms` (as the webhook
    queue does: `FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite)."""
    stmt = (
        select(*_QUEUE_COLUMNS)
        .where(PushDelivery.next_attempt_ts <= now_ms)
        .order_by(PushDelivery.next_attempt_ts, PushDelivery.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = (await conn.execute(stmt)).all()
    if rows:
        await conn.execute(
            update(PushDelivery)
            .where(PushDelivery.id.in_([r.id for r in rows]))
            .values(next_attempt_ts=now_ms + lease_ms)
        )
    return [
        QueuedPush(
            int(r.id),
            int(r.pusher_id),
            r.user_id,
            r.room_id,
            int(r.stream_pos),
            bool(r.highlight),
            r.actions,
            int(r.attempts),
        )
        for r in rows
    ]


async def finish_delivery(conn: AsyncConnection, delivery_id: int) -> None:
    await conn.execute(delete(PushDelivery).where(PushDelivery.id == delivery_id))


async def retry_delivery(
    conn: AsyncConnection, delivery_id: int, attempts: int, next_attempt_ts: int
) -> None:
    await conn.execute(
        update(PushDelivery)
        .where(PushDelivery.id == delivery_id)
        .values(attempts=attempts, next_attempt_ts=next_attempt_ts)
    )


async def count_queued(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(PushDelivery)) or 0)
