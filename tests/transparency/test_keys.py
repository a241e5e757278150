"""The log's signing key: made once, kept private, and never silently swapped."""

import stat
from pathlib import Path

import pytest

from candor.transparency.keys import KEY_FILE, load_or_create_signer


def test_the_key_is_created_once_and_kept(tmp_path: Path) -> None:
    first = load_or_create_signer(tmp_path / "data", "example.org/log")
    again = load_or_create_signer(tmp_path / "data", "example.org/log")

    assert str(first.verifier()) == str(again.verifier())
    assert first.name == "example.org/log"
    mode = (tmp_path / "data" / KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert list((tmp_path / "data").iterdir()) == [tmp_path / "data" / KEY_FILE]


def test_a_key_of_another_log_is_refused(tmp_path: Path) -> None:
    load_or_create_signer(tmp_path, "example.org/log")

    with pytest.raises(ValueError, match="move it away"):
        load_or_create_signer(tmp_path, "other.example/log")
