"""Metric names the backup DAG publishes and the BackupTooOld rules read: the contract between the two.

The backup DAG is the only writer of these series and the alert rules their main reader, so the names are
defined once, here, and imported by both sides rather than spelled twice. All are gauges holding a Unix time
in seconds (Prometheus' ``*_timestamp_seconds`` convention), so a rule computes an age as ``time() - x``:

- ``novacron_backup_last_success_timestamp_seconds{type}``: when the newest backup of each pgBackRest type
  (``full``, ``diff``, ``incr``) finished successfully.
- ``novacron_backup_last_verified_timestamp_seconds{type}``: when the newest backup of each type that passed
  verification (pgBackRest ``verify`` and the checks of the backup runbook) finished. Only verified backups
  count towards the objectives: an unverified backup is not known to restore.

WAL archiving needs no metric of its own: the postgres exporter already exports
``pg_stat_archiver_last_archive_age`` (seconds since PostgreSQL last archived a WAL segment, which with
pgBackRest's ``archive-push`` as ``archive_command`` means since the repository last received one).
"""

from __future__ import annotations

BACKUP_LAST_SUCCESS = "novacron_backup_last_success_timestamp_seconds"
BACKUP_LAST_VERIFIED = "novacron_backup_last_verified_timestamp_seconds"
BACKUP_TYPES = ("full", "diff", "incr")
WAL_LAST_ARCHIVE_AGE = "pg_stat_archiver_last_archive_age"
