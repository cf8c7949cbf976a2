"""A runbook that stays unresolved for ~40 s, with an escalation ladder in seconds (end-to-end test only)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from airflow.providers.standard.sensors.time_delta import WaitSensor

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.catalog.model import EscalationLevel
from novacron_runbooks.dagkit.factory import runbook_dag

LADDER = (
    EscalationLevel(1, "On-call Engineer", after_minutes=0, until_minutes=0.1),
    EscalationLevel(2, "Team Lead", after_minutes=0.1, until_minutes=0.25),
    EscalationLevel(3, "Engineering Manager", after_minutes=0.25, until_minutes=2),
    EscalationLevel(4, "VP Engineering", after_minutes=2),
)
PROBE = dataclasses.replace(
    default_catalog().get("debug_api"),
    name="escalation_probe",
    title="Escalation probe",
    escalate=True,
    escalation=LADDER,
)

with runbook_dag("escalation_probe", runbook=PROBE):
    WaitSensor(task_id="still_unresolved", time_to_wait=timedelta(seconds=40), deferrable=True)
