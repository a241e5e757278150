"""The suite's shared compiled-SQL cache (tests/helpers/sql_cache.py): engines of one kind
reuse each other's compiled statements, and what they read is still their own database."""

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from tests.helpers.sql_cache import dialect_signature, share_compiled_sql

_metadata = MetaData()
_things = Table(
    "things", _metadata, Column("id", Integer, primary_key=True), Column("name", String)
)


def test_a_second_engine_reuses_the_first_ones_compiled_sql_and_reads_its_own_rows(
    tmp_path: Path,
) -> None:
    share_compiled_sql()
    engines = [create_engine(f"sqlite:///{tmp_path / f'{n}.db'}") for n in ("a", "b")]
    statement = select(_things.c.name).where(_things.c.id == 1)
    found, hits = [], []
    for number, engine in enumerate(engines):
        _metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(_things).values(id=1, name=f"row of engine {number}"))
            result = conn.execute(statement)
            hits.append(result.context.cache_hit)
            found.append(result.scalar_one())
        engine.dispose()
    assert found == ["row of engine 0", "row of engine 1"]
    assert hits[1] is engines[1].dialect.CACHE_HIT
    assert dialect_signature(engines[0].dialect) == dialect_signature(engines[1].dialect)


def test_dialects_that_compile_differently_do_not_share(tmp_path: Path) -> None:
    share_compiled_sql()
    plain = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    named = create_engine(f"sqlite:///{tmp_path / 'named.db'}", paramstyle="named")
    assert dialect_signature(plain.dialect) != dialect_signature(named.dialect)
    statement = select(_things.c.name).where(_things.c.id == 2)
    sql = []
    for engine in (plain, named):
        _metadata.create_all(engine)
        with engine.connect() as conn:
            result = conn.execute(statement)
            assert result.all() == []
            compiled = result.context.compiled
            assert compiled is not None
            sql.append(compiled.string)
        engine.dispose()
    assert sql[0].endswith("things.id = ?")
    assert sql[1].endswith("things.id = :id_1")


@pytest.mark.parametrize("value", [1, "x", (1, "y"), None, b"z"])
def test_plain_settings_are_part_of_the_signature(value: object) -> None:
    class Dialect:
        def __init__(self, setting: object) -> None:
            self.setting = setting

    assert dialect_signature(Dialect(value)) == dialect_signature(Dialect(value))
    assert dialect_signature(Dialect(value)) != dialect_signature(Dialect(["not plain"]))
