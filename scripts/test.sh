#!/usr/bin/env bash
# The whole test suite: lint (ruff, with Airflow 3's AIR rules), type check, catalog validation, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PYTHONPATH="$PWD/plugins"
echo "== ruff";   .venv/bin/ruff check .
echo "== mypy";   .venv/bin/mypy
echo "== catalog"; .venv/bin/python -m novacron_runbooks.catalog | tail -n 1
echo "== alert rules"; .venv/bin/python -m novacron_runbooks.alerts check
# Three workers (pytest-xdist), each with its own sandbox and Airflow home, a file at a time: the suite mostly
# waits on rate windows, rollouts and gates, so three share two cores well. Files are handed out longest first
# (tests/longest_first.py, from tests/durations.json: refresh it with scripts/test_durations.py after a run
# with --junitxml). NOVACRON_TEST_WORKERS=0 runs it in one process.
echo "== pytest"; .venv/bin/python -m pytest -n "${NOVACRON_TEST_WORKERS:-3}" --dist loadfile --durations=30 "$@"
