"""`candor serve --workers N` on SQLite is one line and exit 1 (SQLite allows one writing
process); the multi-worker behaviour on PostgreSQL is tested end to end in
tests/e2e/test_workers.py."""

from pathlib import Path

from tests.cli.test_bad_input import assert_one_line, candor


def test_serve_with_several_workers_on_sqlite_is_refused(tmp_path: Path) -> None:
    line = assert_one_line(
        candor(tmp_path, "serve", "--workers", "2", "--data-dir", "d"),
        "--workers 2",
        "PostgreSQL",
    )
    assert "SQLite" in line
    assert not (tmp_path / "d").exists()
