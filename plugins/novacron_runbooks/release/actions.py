"""Release steps shared by deployment, rollback, hotfix and canary: each records what it did as evidence.

Every function is idempotent (a retried or cleared task finds the work done and says so) and honours
``dry_run``: it still reads the cluster, then records the change it would make with ``applied=False``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks import connections
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.gates.measure import measure
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.cluster import (
    CANARY,
    SERVICE,
    ReleaseCluster,
    RolloutFailed,
    Workload,
    colour_deployment,
)
from novacron_runbooks.release.gates import API_JOB, image_version, service_error_gate
from novacron_runbooks.release.history import ReleaseHistory

if TYPE_CHECKING:
    from novacron_runbooks.release.history import Release

SCRAPES_BEFORE_VERDICT = 2
"""Scrapes between traffic reaching a release and a gate judging it: Prometheus must have seen it first."""
PREFLIGHT_WINDOW_VARIABLE = "novacron_preflight_window"
DEFAULT_PREFLIGHT_WINDOW = "1m"
"""The index's preflight: the service's error ratio over the last minute, before anything changes."""
SMOKE_PATHS = ("/api/v1/health", "/api/v1/vms", "/api/v1/hosts")
USERS_SERVED_IN_A_ROW = 3
USERS_SERVED_TIMEOUT_SECONDS = 30.0
TARGET_HEADER = "X-Novacron-Deployment"
"""Preview routing: the API's front door sends a request carrying this header to that Deployment's pods."""
VERSION_HEADER = "X-Novacron-Version"
"""Every answer of the API names the release that served it."""


def run_holder(context: Any) -> str:
    dag_run = context["dag_run"]
    return f"{dag_run.dag_id}/{dag_run.run_id}"


def preflight_window() -> str:
    """Return the window of the preflight's error ratio: the Airflow Variable, else the index's minute.

    An environment whose Prometheus scrapes every few seconds (the sandbox) may judge a shorter window with
    as many samples; the value is validated as a PromQL duration when the gate is rendered.
    """
    from airflow.sdk import Variable

    return str(Variable.get(PREFLIGHT_WINDOW_VARIABLE, default=DEFAULT_PREFLIGHT_WINDOW))


def require_service_healthy(ceiling: float, what: str) -> None:
    """Refuse ``what`` unless the whole service's error ratio over the preflight window is under ``ceiling``.

    One measurement of a gate, so it fails closed like every gate: no data, NaN or no Prometheus refuses.
    """
    window = preflight_window()
    spec = service_error_gate("preflight_error_rate", ceiling).render({"service": SERVICE, "window": window})
    result = measure(spec, PrometheusHook(spec.prometheus_conn_id, timeout=spec.query_timeout_seconds))
    current_evidence().measure(spec.name, result.value, result.verdict, result.query, reason=result.reason)
    if result.verdict != "success":
        raise AirflowFailException(
            f"preflight: the service is not healthy enough for {what}: {result.reason}"
        )


def verdict_delay_seconds() -> float:
    """Return how long a gate waits after traffic starts before judging: two scrapes of the API, plus 1 s."""
    return SCRAPES_BEFORE_VERDICT * PrometheusHook().scrape_interval_seconds(API_JOB) + 1


def adopt_live_release(cluster: ReleaseCluster, history: ReleaseHistory, colour: str, holder: str) -> Release:
    """Return the live release, recording what runs now as ``adopted`` when the history is empty."""
    live = history.live()
    if live is not None:
        return live
    workload = cluster.require(f"{SERVICE}-{colour}")
    record = history.append(
        image=workload.image,
        colour=colour,
        runbook="adopted",
        run=holder,
        result="adopted",
        reason="release found running when the history was started",
    )
    current_evidence().change(
        "deployment history", f"adopted running release {workload.image} on {colour}", applied=True
    )
    return record


def record_in_place_release(
    cluster: ReleaseCluster, context: Any, runbook: str, image: str, colour: str, reason: str, note: str
) -> int:
    """Record a release rolled onto the live colour in place (hotfix, security patch); return its revision.

    The live release is adopted first, so the history knows what this one replaces and a rollback finds it.
    """
    history = ReleaseHistory(cluster)
    holder = run_holder(context)
    live = adopt_live_release(cluster, history, colour, holder)
    record = history.record_for_run(
        holder, runbook, image=image, colour=colour, reason=reason, replaced=live.revision, notes=[note]
    )
    return record.revision


def refuse_held_canary(cluster: ReleaseCluster) -> None:
    """Refuse a blue-green switch while a canary serves traffic (a person held it): finish that first.

    The canary carries the active colour's label; switching colours would leave it running, unrouted and
    forgotten. Raises ``AirflowFailException`` naming it.
    """
    canary = cluster.workload(CANARY)
    if canary is not None and canary.replicas > 0:
        raise AirflowFailException(
            f"{CANARY} runs {canary.image} with {canary.replicas} replicas (a held canary): "
            "promote or abort it with the canary runbook before deploying"
        )


def roll_out(
    cluster: ReleaseCluster,
    deployment: str,
    image: str,
    replicas: int,
    *,
    cause: str,
    revision: int | None,
    dry_run: bool,
) -> Workload:
    """Set ``deployment``'s image and replica count (a no-op when both already match)."""
    evidence = current_evidence()
    current = cluster.require(deployment)
    if current.image == image and current.replicas == replicas:
        evidence.note(f"{deployment} already runs {image} with {replicas} replicas")
        return current
    evidence.change(
        deployment,
        f"image {current.image} → {image}, replicas {current.replicas} → {replicas}",
        applied=not dry_run,
    )
    if dry_run:
        return current
    if current.image != image:
        cluster.set_image(deployment, image, cause, revision)
    if current.replicas != replicas:
        cluster.scale(deployment, replicas)
    return cluster.require(deployment)


def wait_ready(cluster: ReleaseCluster, deployment: str, timeout: float, dry_run: bool) -> Workload:
    """Wait for the rollout; stuck pods fail at once with their reason, never after the whole timeout."""
    evidence = current_evidence()
    if dry_run:
        current = cluster.require(deployment)
        evidence.note(f"dry run: would wait up to {timeout:.0f} s for {deployment} to be ready")
        return current
    started = datetime.now(tz=UTC)
    try:
        done = cluster.wait_rolled_out(deployment, timeout)
    except RolloutFailed as exc:
        evidence.measure("rollout", str(exc), "failure")
        raise AirflowFailException(str(exc)) from exc  # final: a retry would wait for the same stuck pods
    waited = (datetime.now(tz=UTC) - started).total_seconds()
    evidence.measure("rollout", f"{done.ready}/{done.replicas} ready", "success", seconds=round(waited, 2))
    return done


def switch_traffic(cluster: ReleaseCluster, colour: str, dry_run: bool) -> bool:
    """Point the Service, and the autoscaler, at ``colour``; returns whether the Service changed."""
    evidence = current_evidence()
    active = cluster.active_colour()
    target = colour_deployment(colour)
    scaled = cluster.autoscaler_target()
    if scaled is not None and scaled != target:
        evidence.change(
            f"HorizontalPodAutoscaler {SERVICE}", f"scaleTargetRef {scaled} → {target}", applied=not dry_run
        )
        if not dry_run:
            cluster.retarget_autoscaler(target)
    if active == colour:
        evidence.note(f"Service {SERVICE} already selects {colour}")
        return False
    evidence.change(f"Service {SERVICE}", f"selector color {active} → {colour}", applied=not dry_run)
    if not dry_run:
        cluster.switch_service(colour)
        confirm_users_served(image_version(cluster.require(target).image))
    return True


def api_session() -> tuple[Any, str]:
    """Open a ``requests`` session to the NovaCron API through its connection; return it and the base URL."""
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="GET", http_conn_id=connections.NOVACRON_API)
    return hook.get_conn(), hook.base_url.rstrip("/")


def confirm_users_served(
    version: str, timeout: float = USERS_SERVED_TIMEOUT_SECONDS, pause: float = 0.2
) -> float | None:
    """Wait until users' requests (no preview header) are answered by ``version``; return the seconds taken.

    A Service patch is not yet traffic: the front end follows the selector a moment later. A gate started
    before that moment measures a release that has had no requests and fails closed on no data. Three answers
    in a row from ``version`` confirm the switch; the time is recorded as evidence. Past ``timeout`` the step
    goes on and says so: the gate that follows judges the release and fails closed on what it cannot see.
    """
    import requests

    session, base = api_session()
    url = base + SMOKE_PATHS[0]
    evidence = current_evidence()
    started = time.monotonic()
    in_a_row = 0
    last = "no answer"
    while time.monotonic() - started < timeout:
        try:
            served = session.get(url, timeout=5).headers.get(VERSION_HEADER, "none")
        except requests.RequestException as exc:
            served = type(exc).__name__
        last = served
        in_a_row = in_a_row + 1 if served == version else 0
        if in_a_row == USERS_SERVED_IN_A_ROW:
            seconds = round(time.monotonic() - started, 2)
            evidence.metric("users_on_release_seconds", seconds)
            return seconds
        time.sleep(pause)
    evidence.note(f"users not yet answered by {version} {timeout:.0f} s after the switch (last: {last})")
    return None


def smoke_check(
    deployment: str, expected_version: str, seconds: float, max_error_ratio: float, pause: float = 0.3
) -> None:
    """Send preview traffic to ``deployment``'s pods only, for ``seconds``; every answer must be the release.

    Spreading the calls over several scrapes lets the pre-promotion gate see them as a rate: a counter born
    and finished between two scrapes shows no increase to Prometheus. Raises ``AirflowFailException`` (never
    retried) when the error ratio is over ``max_error_ratio`` or another version answered.
    """
    import requests

    session, base = api_session()
    evidence = current_evidence()
    failures: list[str] = []
    wrong_version: set[str] = set()
    total = 0
    deadline = time.monotonic() + seconds
    while total == 0 or time.monotonic() < deadline:
        for path in SMOKE_PATHS:
            total += 1
            try:
                resp = session.get(f"{base}{path}", headers={TARGET_HEADER: deployment}, timeout=5)
            except requests.RequestException as exc:
                failures.append(f"{path}: {type(exc).__name__}")
                continue
            served = resp.headers.get(VERSION_HEADER, "")
            if served != expected_version:
                wrong_version.add(served or "none")
            if resp.status_code >= 500:
                failures.append(f"{path}: {resp.status_code}")
        time.sleep(pause)
    ratio = len(failures) / total
    verdict = "success" if ratio <= max_error_ratio and not wrong_version else "failure"
    evidence.measure("smoke_error_ratio", ratio, verdict, requests=total, errors=failures[:10])
    if wrong_version:
        raise AirflowFailException(
            f"smoke check: {deployment} answered as {sorted(wrong_version)}, not {expected_version}"
        )
    if verdict == "failure":  # final: a retry could pass by luck on a release that fails a third of requests
        raise AirflowFailException(
            f"smoke check: {len(failures)}/{total} requests to {deployment} failed "
            f"({ratio:.1%} > {max_error_ratio:.1%}): {', '.join(failures[:5])}"
        )
