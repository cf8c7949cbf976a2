"""Database backup: a pgBackRest backup of the requested type, verified, published, then retention applied.

::

    preflight >> take_backup >> record_backup >> verify_backup >> expire_backups

This Airflow DAG is the index's runbook; run it by hand before a major change (a full backup by default);
Alertmanager starts it when BackupTooOld fires. The hourly incremental and daily full backups are the
scheduled DAGs ``backup_hourly`` and ``backup_daily``, built by the same code (``backup.dag`` of the package);
the daily test restore is ``backup_validation``.

- ``preflight``: ``pgbackrest check`` (repository reachable, archive_command delivers WAL) and the database's
  state before the backup (schema fingerprint, per-table row count and row checksum).
- ``take_backup``: ``pgbackrest backup --type=<backup_type>``, as the database's OS user, no shell, with a
  timeout; a retry reuses a backup this run already finished.
- ``record_backup``: annotates the backup with the schema and the row counts of the tables nobody wrote
  while it ran (what ``backup_validation`` compares a restore with), reads ``pgbackrest info`` back (label,
  type, size, duration, WAL range) and publishes the success time, size, duration and newest archived WAL.
- ``verify_backup``: ``pgbackrest verify``; only a backup found valid, with the backups it references and a
  clean WAL archive, is published as verified. A failed verify fails the run and publishes nothing verified.
- ``expire_backups``: keeps the catalog's ``retention_full`` full backups; a dry run shows what would expire.

Repository encryption: put the cipher passphrase in the ``novacron_pgbackrest`` connection's password (and
``cipher_type`` in its extra, default aes-256-cbc); see ``novacron_runbooks.hooks.pgbackrest``.
"""

from __future__ import annotations

from pathlib import Path

from novacron_runbooks.backup.dag import build_backup_dag

dag = build_backup_dag(Path(__file__).stem, schedule=None).dag
