"""How each alert of the catalog is measured: PromQL over metrics NovaCron and its exporters really export.

A spec holds the shape of a rule and no number of the index: ``%(bound)s`` is the runbook's threshold
converted to the metric's unit, ``%(window)s`` the same threshold as a PromQL duration, ``%(limit)s`` its
readable form, ``%(text)s`` the catalog's wording, ``%(rate)s`` the rate window. The builder in
:mod:`novacron_runbooks.alerts.rules` fills them from the catalog, so editing a threshold there is the one way
to move an alert.

Metric sources: the API's own ``/metrics`` (job ``novacron-api``; request counters and latency histograms with
``service="novacron-api"``, the DB pool and query histogram, per-container CPU), the postgres exporter (job
``postgres``: ``pg_up``, ``pg_stat_replication_*``, ``pg_stat_archiver_*``) and the backup DAG (names in
:mod:`novacron_runbooks.alerts.contract`). A missing series is handled on purpose where silence would look
healthy; each description says how.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from novacron_runbooks.alerts.contract import (
    BACKUP_LAST_VERIFIED,
    VALIDATION_LAST_SUCCESS,
    VALIDATION_PASSED,
    WAL_LAST_ARCHIVE_AGE,
)

Measure = Literal["ratio", "seconds", "count"]

RATE_WINDOW = "5m"
"""Window of every ``rate()``: long enough to smooth a 2 s scrape, short enough for a 5-minute trigger."""


@dataclass(frozen=True)
class RuleSpec:
    """One alert rule's shape; the numbers come from the threshold ``threshold`` of the alert's runbook.

    ``severity`` picks one of the runbook's severities when it lists several, or stands in when the catalog
    gives none (scaling and maintenance runbooks); ``fallback_for_minutes`` does the same for a rule whose
    runbook gives no duration. Both are reported by the builder's callers, never silently invented.
    """

    alert: str
    threshold: str | None
    measure: Measure
    expr: str
    summary: str
    description: str
    severity: str | None = None
    fallback_for_minutes: float | None = None
    route_to: str | None = None
    """The DAG the alert starts when it is not the runbook that lists it: the daily test restore is a
    scheduled job (``include/scheduled/``) whose objectives live in the ``backup`` runbook's thresholds."""


def _newest_or_missing(series: str, metric: str) -> str:
    """Age of the newest sample seen within the objective window, or a ``missing`` row when there is none.

    ``max_over_time`` keeps the last known timestamp for the whole window after the publisher goes quiet, and
    ``absent_over_time`` takes over exactly when that window empties, so the alert neither resolves nor waits
    in the hand-over.
    """
    return (
        f"time() - max(max_over_time({series}[%(window)s])) > %(bound)s\n"
        f'or label_replace(absent_over_time({series}[%(window)s]), "missing", "{metric}", "", "")'
    )


_MISSING_BACKUP_NOTE = (
    "It also fires when the metric has had no sample for the whole window, because a backup job that stopped "
    "reporting must not read as a healthy one."
)

SPECS: tuple[RuleSpec, ...] = (
    RuleSpec(
        alert="HighErrorRate",
        threshold="error_rate",
        measure="ratio",
        expr=(
            'sum(rate(http_requests_total{service="novacron-api",code=~"5.."}[%(rate)s]))\n'
            '/ sum(rate(http_requests_total{service="novacron-api"}[%(rate)s]))\n'
            "> %(bound)s"
        ),
        summary="novacron-api error rate above %(limit)s",
        description=(
            "{{ $value | humanizePercentage }} of novacron-api requests answered 5xx over the last %(rate)s; "
            "trigger: %(text)s."
        ),
    ),
    RuleSpec(
        alert="HighLatency",
        threshold="latency_p95",
        measure="seconds",
        expr=(
            "histogram_quantile(0.95, sum by (le) "
            '(rate(http_request_duration_seconds_bucket{service="novacron-api"}[%(rate)s])))\n'
            "> %(bound)s"
        ),
        summary="novacron-api p95 latency above %(limit)s",
        description=(
            "novacron-api p95 latency is {{ $value | humanizeDuration }} over the last %(rate)s; "
            "trigger: %(text)s."
        ),
    ),
    RuleSpec(
        alert="ServiceDown",
        threshold="unavailable",
        measure="count",
        expr='(sum by (job) (up{job="novacron-api"}) or absent(up{job="novacron-api"}) * 0)\n<= %(bound)s',
        summary="novacron-api unavailable",
        description=(
            "{{ $value }} novacron-api targets answer Prometheus; trigger: %(text)s. It also fires when "
            "Prometheus discovers no novacron-api target at all, counted as zero: a Service whose pods are "
            "all gone is down, not unmonitored."
        ),
    ),
    RuleSpec(
        alert="DatabaseSlowQueries",
        threshold="query_p95",
        measure="seconds",
        severity="critical",
        expr=(
            "histogram_quantile(0.95, sum by (le) "
            '(rate(novacron_db_query_duration_seconds_bucket{job="novacron-api"}[%(rate)s])))\n'
            "> %(bound)s"
        ),
        summary="Database query p95 above %(limit)s",
        description=(
            "p95 of NovaCron's database queries, pool wait included, is {{ $value | humanizeDuration }} over "
            "the last %(rate)s; trigger: %(text)s."
        ),
    ),
    RuleSpec(
        alert="DatabaseConnectionPoolSaturated",
        threshold="pool_usage",
        measure="ratio",
        severity="warning",
        expr=(
            'novacron_db_pool_connections{job="novacron-api",state="in_use"}\n'
            '/ ignoring(state) novacron_db_pool_connections{job="novacron-api",state="max"}\n'
            "> %(bound)s"
        ),
        summary="Database connection pool above %(limit)s",
        description=(
            "{{ $labels.instance }} holds {{ $value | humanizePercentage }} of its database connection pool "
            "in use; trigger: %(text)s."
        ),
    ),
    RuleSpec(
        alert="ReplicationLagHigh",
        threshold="replication_lag",
        measure="seconds",
        severity="warning",
        expr=(
            'pg_stat_replication_pg_wal_lsn_diff{job="postgres"}\n'
            '/ rate(pg_stat_replication_pg_current_wal_lsn_bytes{job="postgres"}[%(rate)s])\n'
            "> %(bound)s\n"
            'or (absent(pg_stat_replication_pg_wal_lsn_diff{job="postgres"})\n'
            '    and on () pg_up{job="postgres"} == 1)'
        ),
        summary="PostgreSQL replication lag above %(limit)s",
        description=(
            "{{ if $labels.application_name }}Replica {{ $labels.application_name }} is about "
            "{{ $value | humanizeDuration }} behind the primary (bytes not yet replayed divided by the "
            "primary's WAL rate over the last %(rate)s; an idle primary with a replica still behind reads as "
            "+Inf){{ else }}No replica is streaming from the primary, so its lag grows without bound{{ end }}"
            "; objective: %(text)s. A missing pg_stat_replication row fires too while the primary is up: "
            "a stopped replica leaves no lag to compare and would otherwise go unnoticed until a failover "
            "needs it."
        ),
    ),
    RuleSpec(
        alert="HighCpuUsage",
        threshold="cpu_usage",
        measure="ratio",
        severity="warning",
        expr=(
            "sum by (namespace, pod) "
            '(rate(container_cpu_usage_seconds_total{namespace="novacron",container="api"}[%(rate)s]))\n'
            "> %(bound)s"
        ),
        summary="novacron-api pod CPU above %(limit)s",
        description=(
            "Pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of a CPU core in its api container "
            "over the last %(rate)s, read against the container's 1-core limit; trigger: %(text)s."
        ),
    ),
    RuleSpec(
        alert="BackupTooOld",
        threshold="backup_age",
        measure="seconds",
        severity="warning",
        expr=_newest_or_missing(BACKUP_LAST_VERIFIED, BACKUP_LAST_VERIFIED),
        summary="Newest verified backup older than %(limit)s",
        description=(
            "{{ if $labels.missing }}No sample of " + BACKUP_LAST_VERIFIED + " in the last %(window)s, so no "
            "verified backup within the objective can be shown{{ else }}The newest verified backup is "
            "{{ $value | humanizeDuration }} old{{ end }}; objective: %(text)s. " + _MISSING_BACKUP_NOTE
        ),
    ),
    RuleSpec(
        alert="BackupTooOld",
        threshold="full_backup_age",
        measure="seconds",
        severity="warning",
        expr=_newest_or_missing(BACKUP_LAST_VERIFIED + '{type="full"}', BACKUP_LAST_VERIFIED),
        summary="Newest verified full backup older than %(limit)s",
        description=(
            "{{ if $labels.missing }}No sample of " + BACKUP_LAST_VERIFIED + '{type="full"} in the last '
            "%(window)s, so no verified full backup within the objective can be shown{{ else }}The newest "
            "verified full backup is {{ $value | humanizeDuration }} old{{ end }}; objective: %(text)s. "
            + _MISSING_BACKUP_NOTE
        ),
    ),
    RuleSpec(
        alert="BackupTooOld",
        threshold="wal_archive_age",
        measure="seconds",
        severity="warning",
        expr=WAL_LAST_ARCHIVE_AGE + '{job="postgres"} > %(bound)s',
        summary="No WAL segment archived for more than %(limit)s",
        description=(
            "PostgreSQL last archived a WAL segment {{ $value | humanizeDuration }} ago; objective: "
            "%(text)s. Point-in-time recovery past that moment is at risk. A missing archiver series is not "
            "alerted here: the exporter drops it only when it cannot reach the primary (PostgresPrimaryDown) "
            "or is itself not scraped."
        ),
    ),
    RuleSpec(
        alert="BackupValidationFailed",
        threshold=None,
        measure="count",
        severity="warning",
        route_to="backup_validation",
        expr=f"max({VALIDATION_PASSED}) == 0",
        summary="The last test restore of a backup failed",
        description=(
            "The daily backup validation restored the newest backup into scratch and a check failed "
            "(restore, pg_amcheck, schema, row counts or the smoke query): that backup is not known to "
            "restore. " + VALIDATION_PASSED + " is {{ $value }} and stays 0 until a validation passes again."
        ),
    ),
    RuleSpec(
        alert="BackupValidationFailed",
        threshold="validation_age",
        measure="seconds",
        severity="warning",
        route_to="backup_validation",
        expr=_newest_or_missing(VALIDATION_LAST_SUCCESS, VALIDATION_LAST_SUCCESS),
        summary="No passed test restore for more than %(limit)s",
        description=(
            "{{ if $labels.missing }}No sample of " + VALIDATION_LAST_SUCCESS + " in the last %(window)s, so "
            "no passed test restore within the objective can be shown{{ else }}The last passed test restore "
            "was {{ $value | humanizeDuration }} ago{{ end }}; objective: %(text)s. " + _MISSING_BACKUP_NOTE
        ),
    ),
    RuleSpec(
        alert="PostgresPrimaryDown",
        threshold=None,
        measure="count",
        fallback_for_minutes=1,
        expr='pg_up{job="postgres"} == 0',
        summary="PostgreSQL primary down",
        description=(
            "The postgres exporter at {{ $labels.instance }} cannot reach the PostgreSQL primary "
            "(pg_up is 0). A vanished exporter (no pg_up at all) does not fire this: fencing and promoting "
            "over a lost exporter would cause the outage it means to end, so that case shows only as a "
            "failed scrape."
        ),
    ),
)
