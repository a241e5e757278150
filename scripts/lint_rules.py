"""Check the habits that ruff, mypy and import-linter cannot express (STYLE §3, §5, §7).

Rule 1, `Any` only with a reason. Every line of `src/candor` that uses the name `Any`
(as `Any`, `typing.Any`, or inside a string annotation such as `"Future[Any]"`) must
carry a `# Any: <why>` comment on that line or in the comment lines just above it, so a
reader sees which library seam or variadic type made a precise type impractical. Imports
of `Any` are not uses. Docstrings and comments that happen to start with the word "Any"
are not code and are ignored, which is why this walks the syntax tree instead of grepping.

Rule 2, every module says why it exists: a module opens with a docstring. Empty files
(the package `__init__.py`s) and Alembic's migrations (`migrations/`, generated) are exempt.

Usage: python scripts/lint_rules.py [PATH ...]   (default: src/candor; exits 1 on a finding)
"""

import ast
import io
import sys
import tokenize
from collections.abc import Iterator, Sequence
from pathlib import Path

REASON = "# Any:"
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "src" / "candor"


def _names_any(node: ast.AST) -> Iterator[int]:
    """The lines on which `node`'s subtree names `Any` (as a name or an attribute)."""
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Name) and sub.id == "Any") or (
            isinstance(sub, ast.Attribute) and sub.attr == "Any"
        ):
            yield sub.lineno


def _annotations(tree: ast.AST) -> Iterator[ast.expr]:
    """Every annotation in the module: arguments, returns and annotated assignments."""
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            yield node.annotation
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _string_annotation_uses(tree: ast.AST) -> Iterator[int]:
    """Lines where a quoted (forward-reference) annotation names `Any`."""
    for annotation in _annotations(tree):
        for sub in ast.walk(annotation):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                try:
                    parsed = ast.parse(sub.value, mode="eval")
                except SyntaxError:
                    continue
                if any(True for _ in _names_any(parsed)):
                    yield sub.lineno


def _comments(source: str) -> tuple[set[int], set[int]]:
    """The lines holding a `# Any:` comment, and the lines that are only a comment."""
    reasons: set[int] = set()
    alone: set[int] = set()
    previous_end = 0  # the last line on which code (not a comment) ended
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            line = tok.start[0]
            if tok.string.lstrip("# ").startswith("Any:"):
                reasons.add(line)
            if line != previous_end:
                alone.add(line)
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            previous_end = tok.end[0]
    return reasons, alone


def _has_reason(line: int, reasons: set[int], alone: set[int]) -> bool:
    """True if `line` or the block of comment-only lines just above it gives a reason."""
    if line in reasons:
        return True
    above = line - 1
    while above in alone:
        if above in reasons:
            return True
        above -= 1
    return False


def any_without_reason(source: str) -> list[int]:
    """The sorted line numbers of `source` that use `Any` with no `# Any:` reason."""
    tree = ast.parse(source)
    uses = set(_names_any(tree)) | set(_string_annotation_uses(tree))
    reasons, alone = _comments(source)
    return sorted(line for line in uses if not _has_reason(line, reasons, alone))


def lacks_docstring(source: str) -> bool:
    """True if `source` has code but does not open with a docstring."""
    tree = ast.parse(source)
    return bool(tree.body) and ast.get_docstring(tree) is None


def _python_files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        else:
            yield path


def main(argv: Sequence[str]) -> int:
    """Report each finding as `file:line: message`; 1 if there are any, else 0."""
    roots = [Path(arg) for arg in argv] or [DEFAULT_ROOT]
    findings = 0
    for path in _python_files(roots):
        source = path.read_text(encoding="utf-8")
        for line in any_without_reason(source):
            sys.stdout.write(f"{path}:{line}: `Any` without a `{REASON} <why>` comment\n")
            findings += 1
        if "migrations" not in path.parts and lacks_docstring(source):
            sys.stdout.write(f"{path}:1: no module docstring saying why the module exists\n")
            findings += 1
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
