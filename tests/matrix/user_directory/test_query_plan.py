"""People search reads matching terms as one range of an index on both engines, not a scan
of every profile: the plan of the real statement, on an empty database (PostgreSQL told
not to prefer a sequential scan of its few rows)."""

from candor.config import Settings
from candor.matrix.user_directory.repository import SEARCH_USERS
from tests.helpers.plans import query_plan


async def test_the_term_lookup_is_an_index_range(settings: Settings) -> None:
    bound = SEARCH_USERS.params(me="@a:x", exact="ann", low="ann", high="ann\U0010ffff", limit=11)
    found = await query_plan(settings, bound)
    plan, sqlite = found.text, found.sqlite
    if sqlite:
        assert "SEARCH user_search_terms USING COVERING INDEX" in plan, plan
        assert "(term>? AND term<?)" in plan, plan
    else:
        assert "Index Only Scan using pk_user_search_terms" in plan, plan
        assert "Index Cond: ((term >= 'ann'::text) AND (term < " in plan, plan
