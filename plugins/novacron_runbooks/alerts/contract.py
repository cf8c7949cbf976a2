"""Metric names the backup, drill and effectiveness DAGs publish and the alert rules read: their contract.

Each DAG is the only writer of its series and the alert rules and dashboards their readers, so the names
are defined once, here, and imported by both sides rather than spelled twice. The backup ages are gauges
holding a Unix time in seconds (Prometheus' ``*_timestamp_seconds`` convention), so a rule computes an age
as ``time() - x``:

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

The monthly DR drill (``dr_drill``) publishes, per DR runbook it drilled (``runbook`` label, the DAG id):

- ``novacron_dr_drill_passed`` (1 or 0): the recovery succeeded and met both targets;
- ``novacron_dr_drill_last_success_timestamp_seconds``: when the runbook's last passed drill ended;
- ``novacron_dr_drill_rto_seconds`` and ``novacron_dr_drill_rpo_seconds``: what the drill measured (fault to
  the runbook's verified end; window of acknowledged commits lost), with ``..._target_seconds`` beside them;
- ``novacron_dr_drill_lost_rows``: acknowledged rows missing after recovery;
- ``novacron_dr_drill_readiness_score``: 0-100 (``novacron_runbooks.drill.readiness``) at the drill's end.

The weekly ``runbook_effectiveness`` job publishes, per catalog runbook (``runbook``) and look-back window
(``window``: ``7d``, ``30d``; the Pushgateway group, replaced whole at each run), from the runs' reports
(definitions in ``novacron_runbooks.effectiveness.stats``):

- ``novacron_runbook_runs{result}``: runs by ``result``: ``success``, ``failure`` (the remediations),
  ``dry_run`` and ``false_alarm`` (not remediations);
- ``novacron_runbook_success_ratio``: successes / remediations (absent without remediations);
- ``novacron_runbook_time_to_resolve_seconds{quantile}``: median (``0.5``) and p90 (``0.9``) of successful
  remediations, alert start (else run start) to run end (absent without a success);
- ``novacron_runbook_overrun_runs`` and ``novacron_runbook_time_budget_seconds``: remediations longer than the
  catalog's time budget, and that budget;
- ``novacron_runbook_window_end_timestamp_seconds``: where the window ends.

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
DRILL_PASSED = "novacron_dr_drill_passed"
DRILL_LAST_SUCCESS = "novacron_dr_drill_last_success_timestamp_seconds"
DRILL_RTO_SECONDS = "novacron_dr_drill_rto_seconds"
DRILL_RTO_TARGET_SECONDS = "novacron_dr_drill_rto_target_seconds"
DRILL_RPO_SECONDS = "novacron_dr_drill_rpo_seconds"
DRILL_RPO_TARGET_SECONDS = "novacron_dr_drill_rpo_target_seconds"
DRILL_LOST_ROWS = "novacron_dr_drill_lost_rows"
DRILL_READINESS = "novacron_dr_drill_readiness_score"
DRILL_PUSH_JOB = "novacron_dr_drill"
"""The Pushgateway job of the drill's series; each DR runbook is its own group (``runbook`` label)."""

RUNBOOK_RUNS = "novacron_runbook_runs"
RUNBOOK_SUCCESS_RATIO = "novacron_runbook_success_ratio"
RUNBOOK_TIME_TO_RESOLVE = "novacron_runbook_time_to_resolve_seconds"
RUNBOOK_OVERRUN_RUNS = "novacron_runbook_overrun_runs"
RUNBOOK_TIME_BUDGET = "novacron_runbook_time_budget_seconds"
RUNBOOK_WINDOW_END = "novacron_runbook_window_end_timestamp_seconds"
EFFECTIVENESS_PUSH_JOB = "novacron_runbook_effectiveness"
"""The Pushgateway job of the effectiveness series; each window is its own group (``window`` label)."""
