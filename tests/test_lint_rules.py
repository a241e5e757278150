"""`scripts/lint_rules.py`: `Any` only with a `# Any:` reason; every module has a docstring.

The checker is a script, not part of the package, so it is loaded by path.
"""

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from textwrap import dedent

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "lint_rules.py"
_spec = importlib.util.spec_from_file_location("lint_rules", SCRIPT)
assert _spec is not None
assert _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

any_without_reason: Callable[[str], list[int]] = _module.any_without_reason
lacks_docstring: Callable[[str], bool] = _module.lacks_docstring
main: Callable[[Sequence[str]], int] = _module.main


def flagged(source: str) -> list[int]:
    return any_without_reason(dedent(source).lstrip("\n"))


def test_a_bare_any_is_flagged() -> None:
    assert flagged(
        """
        from typing import Any

        def f(x: Any) -> None: ...
        """
    ) == [3]


def test_a_reason_on_the_line_or_in_the_comments_above_is_accepted() -> None:
    assert (
        flagged(
            """
            from typing import Any

            def f(x: Any) -> None: ...  # Any: an untyped library's value

            # Any: a reason may take
            # two lines.
            Alias = dict[str, Any]
            """
        )
        == []
    )


def test_a_reason_separated_by_a_blank_line_or_code_does_not_count() -> None:
    assert flagged(
        """
        from typing import Any

        # Any: too far away

        A = list[Any]
        x = 1  # Any: on the line above, but after code
        B = set[Any]
        """
    ) == [5, 7]


def test_imports_docstrings_and_comments_are_not_uses() -> None:
    assert (
        flagged(
            '''
            """Any module may say "Any" in prose."""
            import typing
            from typing import Any, cast

            # Any member may leave.
            def f() -> None:
                """Any live version."""
            '''
        )
        == []
    )


def test_typing_dot_any_and_quoted_annotations_are_uses() -> None:
    assert flagged(
        """
        import typing

        def f(x: typing.Any, y: "list[Any]") -> "typing.Any": ...
        z: "Any" = 1
        """
    ) == [3, 4]


def test_a_module_must_open_with_a_docstring() -> None:
    assert lacks_docstring('import os\n"""Too late to be the docstring."""\n')
    assert lacks_docstring("# A comment is not a docstring.\nx = 1\n")
    assert not lacks_docstring('"""Why this module exists."""\n\nx = 1\n')
    assert not lacks_docstring("")  # an empty package __init__.py


def test_candor_itself_passes() -> None:
    assert main([]) == 0
