"""Paging steps over stretches of history the user may not see without reading them: the
step must land exactly on the nearest visible position, checked against `is_visible` over
every position of many random membership and visibility histories (pure, no database)."""

import random

from candor.matrix.rooms.visibility import VisibilityContext
from candor.matrix.sync.paging import _visible_at_or_above, _visible_at_or_below

MEMBERSHIPS = ("join", "leave", "invite", "ban", "knock")
VISIBILITIES = ("world_readable", "shared", "invited", "joined")
SPAN = 40


def _random_context(rng: random.Random) -> VisibilityContext:
    positions = rng.sample(range(1, SPAN), rng.randint(0, 8))
    marks = sorted(positions)
    memberships = [(p, rng.choice(MEMBERSHIPS)) for p in marks if rng.random() < 0.6]
    taken = {p for p, _ in memberships}
    visibilities = [(p, rng.choice(VISIBILITIES)) for p in marks if p not in taken]
    return VisibilityContext(memberships=memberships, visibilities=visibilities)


def test_steps_land_on_the_nearest_visible_position() -> None:
    rng = random.Random(18)
    for _ in range(2000):
        vis = _random_context(rng)
        visible = [p for p in range(SPAN + 5) if vis.is_visible(p)]
        for pos in range(SPAN + 5):
            below = [p for p in visible if p <= pos]
            above = [p for p in visible if p >= pos]
            assert _visible_at_or_below(vis, pos) == (below[-1] if below else None), (vis, pos)
            # Positions run past every change, so the last stretch is among those checked.
            assert _visible_at_or_above(vis, pos) == (above[0] if above else None), (vis, pos)
