"""Which stream positions of a room a user may see, as closed ranges. Pure.

Why ranges: a search must leave out what history visibility hides, inside the database
query, so that ranking and LIMIT happen there (checking each match in Python afterwards
would mean reading every match of a common word). `VisibilityContext.is_visible` is a
step function of the position: it can change only at the user's membership events (at
the event, for "their own membership", and just after it) and just after a history
visibility change. So evaluating it once per step gives exact ranges, usually one a room.
"""

from candor.matrix.rooms.visibility import VisibilityContext


def visible_ranges(vis: VisibilityContext, upto: int) -> list[tuple[int, int]]:
    """Maximal ranges [lo, hi] within [1, upto] of the positions `vis` lets the user see."""
    steps = {1}
    for pos, _ in vis.memberships:
        steps.update((pos, pos + 1))
    for pos, _ in vis.visibilities:
        steps.add(pos + 1)
    starts = sorted(s for s in steps if 1 <= s <= upto)
    out: list[tuple[int, int]] = []
    for i, lo in enumerate(starts):
        hi = starts[i + 1] - 1 if i + 1 < len(starts) else upto
        if not vis.is_visible(lo):
            continue
        if out and out[-1][1] == lo - 1:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out
