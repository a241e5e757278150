"""Hold the branch coverage `scripts/test` measured to STYLE §12's gates.

Reads the combined coverage data (`.coverage`, written by pytest-cov) through the
`coverage` API and fails, naming each file, if a gated file is below its gate or the
whole of `candor` is below TOTAL_GATE. A gate on a folder applies to every `.py` file in
it, so a new file there is gated from its first commit (and one no test imports counts as
0%). Gated paths that do not exist yet are skipped; add a path to GATES when its code
lands. cf. zulip `tools/test-backend` `enforce_fully_covered`.

Usage: python scripts/coverage_gates.py [DATA_FILE]   (run from the repository root)
"""

import io
import sys
from pathlib import Path

import coverage
from coverage.exceptions import NoDataError

TOTAL_GATE = 90.0
# Path (a file, or a folder ending in "/") -> the branch coverage each of its files needs.
GATES: dict[str, float] = {
    "src/candor/transparency/": 100.0,
    "src/candor/partners/consent/": 100.0,
    "src/candor/partners/oauth/": 100.0,
    "src/candor/reports/privacy.py": 100.0,
}


def gated_files(root: Path) -> dict[Path, float]:
    """Every existing file a gate applies to, with the strictest gate that names it."""
    out: dict[Path, float] = {}
    for name, gate in GATES.items():
        path = root / name
        files = sorted(path.rglob("*.py")) if name.endswith("/") else [path]
        for file in files:
            if file.is_file():
                out[file] = max(gate, out.get(file, 0.0))
    return out


def percent(cov: coverage.Coverage, include: list[str]) -> float:
    """Branch coverage of the included files (lines and branches), unrounded."""
    return float(cov.report(include=include, file=io.StringIO()))


def main(argv: list[str]) -> int:
    root = Path.cwd()
    data_file = argv[1] if len(argv) > 1 else ".coverage"
    cov = coverage.Coverage(data_file=data_file)
    cov.load()
    measured = {Path(f).resolve() for f in cov.get_data().measured_files()}
    try:
        total = percent(cov, [])
    except NoDataError:
        sys.stderr.write(f"coverage gates: no coverage data in {data_file}\n")
        return 1
    failures: list[str] = []
    below: list[str] = []
    for file, gate in gated_files(root).items():
        rel = str(file.relative_to(root))
        if file.resolve() not in measured:
            failures.append(f"{rel}: never imported by the tests (needs {gate:g}%)")
            continue
        got = percent(cov, [rel])
        if got < gate:
            failures.append(f"{rel}: {got:.2f}% branch coverage, needs {gate:g}%")
            below.append(rel)
    if total < TOTAL_GATE:
        failures.append(f"total: {total:.2f}% branch coverage, needs {TOTAL_GATE:g}%")
    if below:
        report = io.StringIO()
        cov.report(include=below, show_missing=True, file=report)
        sys.stderr.write(report.getvalue())
    if failures:
        sys.stderr.write("coverage gates failed (STYLE §12):\n")
        sys.stderr.writelines(f"  {line}\n" for line in failures)
        return 1
    sys.stdout.write(
        f"coverage gates passed: total {total:.2f}% (>= {TOTAL_GATE:g}%), "
        f"{len(gated_files(root))} gated files at their gates\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
