"""Metric names the backup DAG publishes and the BackupTooOld rules read: the contract between the two.

The backup DAG is the only writer of these series and the alert rules their main reader, so the names are
defined once, here, and imported by both sides rather than spelled twice. All are gauges holding a Unix time
in seconds (Prometheus' ``*_timestamp_seconds`` convention), so a rule computes an age as ``time() - x``:

- ``novacron_backup_last_success_timestamp_seconds{type}``: when the newest backup of each pgBackRest type
  (``full``, ``diff``, ``incr``) finished successfully.
- ``novacron_backup_last_verified_timestamp_seconds{type}``: when the newest backup of each type that passed
  verification (pgBackRest ``verify`` and the checks of the backup runbook) finished. Only verified backups
  count towards the objectives: an unverified backup is not known to restore.

The backup runbook also publishes what the report and dashboards show beside the ages (gauges, per ``type``
where they describe one backup):

- ``novacron_backup_last_size_bytes{type}``: database size the newest backup of the type covers;
- ``novacron_backup_last_repository_bytes{type}``: what it added to the repository (after compression/delta);
- ``novacron_backup_last_duration_seconds{type}``: how long pgBackRest took for it;
- ``novacron_backup_wal_last_archived_timestamp_seconds``: when the repository got its newest WAL segment;
- ``novacron_backup_validation_passed`` (1 or 0),
  ``novacron_backup_validation_last_success_timestamp_seconds`` and
  ``novacron_backup_validation_restore_seconds``: the daily test restore's last outcome, when one last
  passed, and its measured restore time.

WAL archiving needs no metric of its own for alerting: the postgres exporter already exports
``pg_stat_archiver_last_archive_age`` (seconds since PostgreSQL last archived a WAL segment, which with
pgBackRest's ``archive-push`` as ``archive_command`` means since the repository last received one).
"""

from __future__ import annotations

BACKUP_LAST_SUCCESS = "novacron_backup_last_success_timestamp_seconds"
BACKUP_LAST_VERIFIED = "novacron_backup_last_verified_timestamp_seconds"
BACKUP_TYPES = ("full", "diff", "incr")
WAL_LAST_ARCHIVE_AGE = "pg_stat_archiver_last_archive_age"
BACKUP_SIZE_BYTES = "novacron_backup_last_size_bytes"
BACKUP_REPOSITORY_BYTES = "novacron_backup_last_repository_bytes"
BACKUP_DURATION_SECONDS = "novacron_backup_last_duration_seconds"
WAL_LAST_ARCHIVED = "novacron_backup_wal_last_archived_timestamp_seconds"
VALIDATION_PASSED = "novacron_backup_validation_passed"
VALIDATION_LAST_SUCCESS = "novacron_backup_validation_last_success_timestamp_seconds"
VALIDATION_RESTORE_SECONDS = "novacron_backup_validation_restore_seconds"
PUSH_JOB = "novacron_backup"
"""The Pushgateway job (``job`` label, kept by ``honor_labels``) every backup series is pushed under."""
