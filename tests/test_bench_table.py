"""The benchmark table: every benchmark the runner starts has a reader, a committed result and rows.

A benchmark whose output changes without its reader would leave ``make bench`` failing only at the end of an
hour; here the committed results are read the way the runner reads them.
"""

from __future__ import annotations

import json
import sys

import pytest

from sandbox.layout import REPO_ROOT

BENCH = REPO_ROOT / "bench"
sys.path.insert(0, str(BENCH))

from rows import READERS  # noqa: E402
from run_all import ORDER, collect, markdown  # noqa: E402


def test_every_benchmark_the_runner_starts_has_a_script_and_a_reader():
    assert set(ORDER) == set(READERS)
    assert all((BENCH / f"{name}.py").exists() for name in ORDER)


@pytest.mark.parametrize("name", ORDER)
def test_each_committed_result_reads_into_dated_rows_with_a_value(name):
    result = json.loads((BENCH / "results" / f"{name}.json").read_text())
    rows = list(READERS[name](result))
    assert rows, f"{name}: no rows"
    for row in rows:
        assert row["figure"] and row["input"] not in (None, ""), row
        assert isinstance(row["value"], int | float), row
    assert result.get("measured_at"), f"{name}: the runner dates every result it writes"


def test_the_committed_table_is_the_one_the_results_make():
    table = markdown(collect())
    assert (BENCH / "results" / "summary.md").read_text() == table
    assert table.count("\n") == len(collect()) + 2
