"""people search, the published room directory and unsigned.replaces_state (issue 15)

- events.replaces_state / events.prev_sender: the state event an event replaced and its
  sender, filled for existing events from the event history.
- rooms.published (the room directory), rooms.join_rule and rooms.history_visibility
  (copied from current state, so searches ask "is this room public?" in SQL).
- user_search_terms: what each profile is found by, filled for existing users. The
  normalisation is copied from `matrix/accounts/search_terms.py` as it was when this
  migration was written (a migration must not change when the code does).

Revision ID: c7e4a9d2f1b6
Revises: b5d2e8f4a1c3
Create Date: 2026-12-01 09:00:00
"""

import json
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7e4a9d2f1b6"
down_revision: str | None = "b5d2e8f4a1c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TERM = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")
_WORD = re.compile(r"\w+")


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _terms(user_id: str, displayname: str | None) -> set[tuple[str, int]]:
    terms = {
        (_normalise(user_id)[:255], 2),
        (_normalise(user_id[1:].split(":", 1)[0])[:255], 2),
    }
    name = _normalise(displayname or "")
    if name:
        terms.add((name[:255], 0))
        starts = [m.start() for m in _WORD.finditer(name) if m.start() > 0]
        for start in starts[:15]:
            terms.add((name[start:][:255], 1))
    return {(t, k) for t, k in terms if t}


# Each state event's predecessor: the latest earlier event with the same state key.
_FILL_PREVIOUS = (
    "UPDATE events SET "
    "replaces_state = (SELECT e2.event_id FROM events AS e2 WHERE e2.room_id = events.room_id "
    "AND e2.type = events.type AND e2.state_key = events.state_key "
    "AND e2.stream_pos < events.stream_pos ORDER BY e2.stream_pos DESC LIMIT 1), "
    "prev_sender = (SELECT e2.sender FROM events AS e2 WHERE e2.room_id = events.room_id "
    "AND e2.type = events.type AND e2.state_key = events.state_key "
    "AND e2.stream_pos < events.stream_pos ORDER BY e2.stream_pos DESC LIMIT 1) "
    "WHERE state_key IS NOT NULL"
)
_SET_RULE = {
    "m.room.join_rules": (
        "join_rule",
        "UPDATE rooms SET join_rule = :value WHERE room_id = :room_id",
    ),
    "m.room.history_visibility": (
        "history_visibility",
        "UPDATE rooms SET history_visibility = :value WHERE room_id = :room_id",
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("replaces_state", sa.String(255), nullable=True))
        batch.add_column(sa.Column("prev_sender", sa.String(255), nullable=True))
    op.execute(_FILL_PREVIOUS)

    with op.batch_alter_table("rooms") as batch:
        batch.add_column(
            sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("join_rule", sa.String(32), nullable=True))
        batch.add_column(sa.Column("history_visibility", sa.String(32), nullable=True))
        batch.create_index("ix_rooms_published", ["published"], unique=False)
    bind = op.get_bind()
    rules = bind.execute(
        sa.text(
            "SELECT current_state.room_id, current_state.type, events.content "
            "FROM current_state JOIN events ON events.event_id = current_state.event_id "
            "WHERE current_state.state_key = '' AND current_state.type IN "
            "('m.room.join_rules', 'm.room.history_visibility')"
        )
    ).all()
    for room_id, event_type, content in rules:
        key, statement = _SET_RULE[event_type]
        value = json.loads(content).get(key)
        if isinstance(value, str) and len(value) <= 32:
            bind.execute(sa.text(statement), {"value": value, "room_id": room_id})

    terms = op.create_table(
        "user_search_terms",
        sa.Column("term", _TERM, nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("term", "user_id", "kind", name=op.f("pk_user_search_terms")),
    )
    with op.batch_alter_table("user_search_terms") as batch:
        batch.create_index("ix_user_search_terms_user_id", ["user_id"], unique=False)
    users = bind.execute(sa.text("SELECT user_id, displayname FROM users")).all()
    rows = [
        {"term": term, "user_id": user_id, "kind": kind}
        for user_id, displayname in users
        for term, kind in sorted(_terms(user_id, displayname))
    ]
    if rows:
        op.bulk_insert(terms, rows)


def downgrade() -> None:
    with op.batch_alter_table("user_search_terms") as batch:
        batch.drop_index("ix_user_search_terms_user_id")
    op.drop_table("user_search_terms")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_index("ix_rooms_published")
        batch.drop_column("history_visibility")
        batch.drop_column("join_rule")
        batch.drop_column("published")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("prev_sender")
        batch.drop_column("replaces_state")
