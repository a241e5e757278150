"""The suite needs nothing beside the clone: only the Element tests may look at ../shared.

`.ci/run` also collects the suite in a clone with no `../shared` next to it; this test keeps
a new module from reaching for shared files in the first place.
"""

import io
import re
import tarfile
from pathlib import Path

import pytest

from tests.helpers import element
from tests.helpers.element import SKIP_REASON, find_element_web, unpacked

TESTS = Path(__file__).resolve().parent
# A path into the sibling shared/ folder, however it is spelled.
SHARED_PATH = re.compile(r"""\.\./shared|["']shared["']\s*/|/\s*["']shared["']|["']shared/""")


def _is_element_module(path: Path) -> bool:
    return "element" in path.name


def test_no_test_module_but_elements_refers_to_shared() -> None:
    offenders = [
        str(path.relative_to(TESTS))
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__).resolve()
        and not _is_element_module(path)
        and SHARED_PATH.search(path.read_text())
    ]
    assert offenders == []


def test_the_pattern_catches_the_spellings_of_a_shared_path() -> None:
    spellings = [
        '"../shared/testdata"',
        'ROOT.parent / "shared" / "testdata"',
        "Path('shared/testdata')",
    ]
    assert all(SHARED_PATH.search(s) for s in spellings)
    assert not SHARED_PATH.search("assert 'shared via Flix' in body")
    assert not SHARED_PATH.search('await _room_with_history(alice, "shared")')


def test_every_vector_file_is_named_in_the_data_readme() -> None:
    data = TESTS / "data"
    readme = (data / "README.md").read_text()
    files = [p.relative_to(data).as_posix() for p in data.rglob("*.json")]
    assert files
    assert [f for f in files if f"`{f}`" not in readme] == []


def test_every_copied_tree_in_data_names_its_source_and_licence() -> None:
    """Files that are not vectors (the Matrix spec's YAML) come as a tree with its own README
    (source and commit) and LICENSE, and the data README names the tree."""
    data = TESTS / "data"
    readme = (data / "README.md").read_text()
    trees = {
        path.relative_to(data).parts[0]
        for path in data.rglob("*")
        if path.is_file() and path.suffix not in (".json", ".md")
    }
    assert "matrix-spec" in trees
    for tree in sorted(trees):
        assert f"`{tree}/`" in readme, tree
        assert "commit" in (data / tree / "README.md").read_text(), tree
        assert (data / tree / "LICENSE").read_text().strip(), tree


def test_element_bundle_comes_from_the_setting_then_shared(tmp_path: Path) -> None:
    shared = tmp_path / "clients"
    shared.mkdir()
    assert find_element_web({}, shared) is None
    archive = shared / "element-web-v1.11.88.tar.xz"
    archive.write_bytes(b"")
    assert find_element_web({}, shared) == archive
    build = tmp_path / "build"
    build.mkdir()
    assert find_element_web({"CANDOR_ELEMENT_WEB": str(build)}, shared) == build
    assert find_element_web({"CANDOR_ELEMENT_WEB": str(tmp_path / "nope")}, shared) is None


def test_an_archive_is_unpacked_once_to_a_folder_with_index_html(tmp_path: Path) -> None:
    archive = tmp_path / "element-web-v9.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        page = b"<html>element</html>"
        info = tarfile.TarInfo("element-web/index.html")
        info.size = len(page)
        tar.addfile(info, io.BytesIO(page))
    cache = tmp_path / "cache"
    folder = unpacked(archive, cache)
    assert (folder / "index.html").read_bytes() == b"<html>element</html>"
    assert unpacked(archive, cache) == folder
    assert unpacked(folder, cache) == folder


def test_without_a_bundle_element_tests_skip_with_how_to_provide_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CANDOR_ELEMENT_WEB", str(tmp_path / "absent"))
    with pytest.raises(pytest.skip.Exception, match="CANDOR_ELEMENT_WEB=") as skipped:
        element.element_web()
    assert str(skipped.value) == SKIP_REASON
