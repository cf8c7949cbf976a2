"""pytest plugin: hand test files to the pytest-xdist workers longest first (``pytest_plugins``).

The suite runs a file at a time (``--dist loadfile``). By default xdist queues files by their number of tests,
so the few long files, the real-scheduler and Celery ones with one to three tests each, came last and one
worker ran them alone while the others had finished. Longest-processing-time-first from the measured
seconds per file (``tests/durations.json``, written by ``scripts/test_durations.py``) ends the run with the
short files instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

FILE_DURATIONS = Path(__file__).resolve().parent / "durations.json"


def file_weights() -> dict[str, float]:
    """Seconds per test file (path from the repository root); none when the file is missing."""
    return json.loads(FILE_DURATIONS.read_text()) if FILE_DURATIONS.exists() else {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the collection by file weight, heaviest first.

    The sort is stable: a file's tests keep their order, and files not in the list keep theirs, last.
    """
    weights = file_weights()
    items.sort(key=lambda item: -weights.get(item.nodeid.split("::", 1)[0], 0.0))


class LongestFileFirst(LoadFileScheduling):
    """``loadfile`` in collection order, and a worker gets its next file only when it is on its last test.

    xdist's own heuristic sends the next file while two tests are still pending, so a worker on a file of
    two long tests already holds the next long file another worker could have started. A worker runs a test
    only once it knows the one after it, so one pending test is the least it can be left with.
    """

    def _reschedule(self, node: Any) -> None:
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    """Take over ``--dist loadfile``; the queue follows the collection order set above."""
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False
    return LongestFileFirst(config, log)
