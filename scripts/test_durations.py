"""Write ``tests/durations.json`` (seconds per test file) from a pytest JUnit XML report.

The suite runs a file at a time on three pytest-xdist workers; ``tests/conftest.py`` hands out the heaviest
files first (longest-processing-time-first), so the run does not end with one worker alone on a long file
that happened to be collected last. Refresh after a full run when files grow or move::

    .venv/bin/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder --junitxml=/tmp/suite.xml
    .venv/bin/python scripts/test_durations.py /tmp/suite.xml
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DURATIONS = REPO / "tests" / "durations.json"


def test_file(classname: str) -> str | None:
    """Map a JUnit ``classname`` (``tests.dags.test_x`` or ``tests.dags.test_x.TestY``) to its file."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (REPO / candidate).is_file():
            return candidate
    return None


def file_durations(report: Path) -> dict[str, float]:
    """Sum each file's test times (set-up and tear-down included, as JUnit's ``time`` has them)."""
    totals: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).getroot().iter("testcase"):
        path = test_file(case.get("classname", ""))
        if path is not None:
            totals[path] += float(case.get("time", "0"))
    return {path: round(seconds, 1) for path, seconds in sorted(totals.items(), key=lambda kv: -kv[1])}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: test_durations.py JUNIT_XML", file=sys.stderr)
        return 2
    durations = file_durations(Path(argv[0]))
    DURATIONS.write_text(json.dumps(durations, indent=1) + "\n")
    print(f"{DURATIONS.relative_to(REPO)}: {len(durations)} files, {sum(durations.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
