"""Watch one injected fault through the platform: the alert in Prometheus, the incident run in Airflow.

The wait for the alert is the live rule's own ``for`` (``/api/v1/rules``, so a rule sped up in a sandbox is
honoured, and a rule changed in production too) plus a margin for its expression's window to fill and for
scrapes and evaluations. The incident run is the one the Alertmanager bridge started: a run of the scenario's
runbook whose ``conf.alert`` labels name the alert, queued after the fault (Airflow's REST API, as the user of
the connection ``novacron_airflow_api``). Unreachable Prometheus or Airflow raises: no answer is never a pass.
"""

from __future__ import annotations

import time
import urllib.parse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from novacron_runbooks.gameday.scoring import Observation
from novacron_runbooks.hooks.prometheus import PrometheusError, PrometheusHook

if TYPE_CHECKING:
    from collections.abc import Callable

    from novacron_runbooks.drill.approvals import AirflowApi
    from novacron_runbooks.gameday.scenarios import Scenario

POLL_SECONDS = 2.0
DETECT_MARGIN_SECONDS = 90.0
"""Beyond the rule's ``for``: the expression's window filling with the fault, scrapes, evaluations."""
BRIDGE_MARGIN_SECONDS = 60.0
"""From the alert firing to the incident run queued: Alertmanager's group wait and the bridge."""
DONE = {"success", "failed"}


def _api(hook: PrometheusHook, path: str) -> dict[str, Any]:
    import requests

    endpoint = hook.endpoint()
    try:
        reply = requests.get(
            endpoint.url(path),
            headers=endpoint.headers,
            auth=endpoint.auth,
            timeout=endpoint.timeout,
            verify=endpoint.verify_ssl,
        )
        body = reply.json()
    except (requests.RequestException, ValueError) as exc:
        raise PrometheusError(f"Prometheus {path}: {exc}") from exc
    if reply.status_code != 200 or body.get("status") != "success":
        raise PrometheusError(f"Prometheus {path} answered HTTP {reply.status_code}: {str(body)[:300]}")
    return dict(body.get("data") or {})


def rule_for_seconds(hook: PrometheusHook, alert: str) -> float:
    """Return the live alerting rule's ``for`` in seconds; a rule Prometheus does not hold is an error."""
    groups = _api(hook, "/api/v1/rules?type=alert").get("groups") or []
    for group in groups:
        for rule in group.get("rules") or []:
            if rule.get("name") == alert:
                return float(rule.get("duration") or 0.0)
    raise PrometheusError(f"Prometheus holds no alerting rule {alert!r}")


def alert_states(hook: PrometheusHook, alert: str) -> list[dict[str, Any]]:
    """Return the active instances (``pending`` or ``firing``) of ``alert`` with their ``activeAt``."""
    alerts = _api(hook, "/api/v1/alerts").get("alerts") or []
    return [a for a in alerts if (a.get("labels") or {}).get("alertname") == alert]


def firing(hook: PrometheusHook, alert: str) -> bool:
    return any(a.get("state") == "firing" for a in alert_states(hook, alert))


def _poll(check: Callable[[], Any], deadline: float) -> Any:
    """Call ``check`` every :data:`POLL_SECONDS` until it returns something truthy or the deadline passes."""
    while True:
        found = check()
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_SECONDS)


def _now() -> str:
    return datetime.now(tz=UTC).isoformat()


def incident_run(api: AirflowApi, runbook: str, alert: str, since: str) -> dict[str, Any] | None:
    """Return the earliest run of ``runbook`` queued after ``since`` for ``alert``, if any."""
    query = urllib.parse.urlencode({"run_after_gte": since, "limit": 100})
    runs = api.get(f"/api/v2/dags/{urllib.parse.quote(runbook)}/dagRuns?{query}").get("dag_runs") or []
    matching = [
        run
        for run in runs
        if (((run.get("conf") or {}).get("alert") or {}).get("labels") or {}).get("alertname") == alert
        and datetime.fromisoformat(run["run_after"]) >= datetime.fromisoformat(since)
    ]
    return min(matching, key=lambda run: run["run_after"]) if matching else None


def run_state(api: AirflowApi, runbook: str, run_id: str) -> dict[str, Any]:
    path = f"/api/v2/dags/{urllib.parse.quote(runbook)}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
    return dict(api.get(path))


def _follow_run(
    api: AirflowApi, hook: PrometheusHook, obs: dict[str, Any], deadline: float
) -> dict[str, Any]:
    """Wait for the incident run to end, then (on success) for the alert to resolve, until ``deadline``."""
    runbook, run_id = obs["runbook"], obs["run_id"]
    run = _poll(lambda: (r := run_state(api, runbook, run_id))["state"] in DONE and r, deadline)
    if not run:
        obs["run_state"] = run_state(api, runbook, run_id)["state"]
        return obs
    obs.update(run_state=run["state"], run_ended_at=run.get("end_date"))
    if run["state"] == "success" and _poll(lambda: not firing(hook, obs["alert"]), deadline):
        obs["resolved_at"] = _now()
    return obs


def observe(
    scenario: Scenario, fault_at: str, resolve_target: float, hook: PrometheusHook, api: AirflowApi
) -> Observation:
    """Follow the fault through alert, incident run and resolution; return what was seen, when."""
    rule_wait = rule_for_seconds(hook, scenario.alert)
    detect_target = rule_wait + DETECT_MARGIN_SECONDS
    obs: dict[str, Any] = {
        "scenario": scenario.name,
        "alert": scenario.alert,
        "runbook": scenario.runbook,
        "fault_at": fault_at,
        "detect_target_seconds": detect_target,
        "resolve_target_seconds": resolve_target,
    }
    elapsed = (datetime.now(tz=UTC) - datetime.fromisoformat(fault_at)).total_seconds()
    if not _poll(lambda: firing(hook, scenario.alert), time.monotonic() + detect_target - elapsed):
        return Observation(**obs)
    obs["fired_at"] = _now()
    fired = time.monotonic()
    run = _poll(
        lambda: incident_run(api, scenario.runbook, scenario.alert, fault_at),
        fired + BRIDGE_MARGIN_SECONDS,
    )
    if not run:
        return Observation(**obs)
    obs.update(run_id=run["dag_run_id"], run_started_at=run.get("start_date") or run["run_after"])
    return Observation(**_follow_run(api, hook, obs, fired + resolve_target))
