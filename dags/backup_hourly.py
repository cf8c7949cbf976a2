"""Hourly incremental backup: the backup runbook's steps on a schedule (same code as ``backup``).

Unpausing this Airflow DAG is safe: no catchup, one run at a time, and the ``novacron-db`` lock keeps it
from running into the daily full backup or a restore. See ``dags/backup.py`` for the steps.
"""

from __future__ import annotations

from pathlib import Path

from novacron_runbooks.backup.dag import build_backup_dag

dag = build_backup_dag(Path(__file__).stem, schedule="5 * * * *").dag
