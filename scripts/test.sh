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
# Two workers (pytest-xdist), each with its own sandbox and Airflow home: the suite mostly waits on rate
# windows and rollouts, so two share the cores well. NOVACRON_TEST_WORKERS=0 runs it in one process.
echo "== pytest"; .venv/bin/python -m pytest -n "${NOVACRON_TEST_WORKERS:-2}" --dist loadfile "$@"
