"""Inject and clear the game day's faults; every clear is idempotent and puts back exactly what was there.

Each ``prepare_*`` checks the environment is at rest for its fault (a switch already on, a replica already
down, pods already failing belong to someone else: the game day refuses rather than take over and later clear
them) and returns the plan, which the caller records before ``strike_*`` changes anything, so a strike that
fails half-way is still cleared. Each ``clear_*`` takes that plan, undoes only what the game day changed and
reads the result back.

- Stand-in switches (``latency``, ``db_pool_exhausted``): ``POST <novacron_api>/_sandbox/faults`` with the one
  switch, cleared by setting that switch to its off value (never ``{"clear": true}``, which would also end
  someone else's fault).
- ``replica_stopped``: the replica shut down with ``pg_ctl stop -m fast`` on its node (the nodes of the
  pgBackRest connection, as the DR runbooks reach them), started again and waited for until it streams.
- ``pods_killed``: the emulated cluster's per-Deployment ``crashloop`` switch on the live colour, then its
  pods deleted through the Kubernetes API; cleared by turning the switch off and deleting the crashing
  pods, so the ReplicaSet starts healthy ones from the unchanged template (no spec change, no new revision).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks import connections
from novacron_runbooks.database.nodes import DatabaseNodes
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment

SWITCHES = {"latency": ("latency_ms", 800, 0), "db_pool_exhausted": ("db_pool_pressure", 0.95, 0.0)}
"""Stand-in scenario → (switch, value while injected, off value)."""
HTTP_TIMEOUT = 10.0
STREAM_TIMEOUT = 120.0
ROLLOUT_TIMEOUT = 120.0
CRASH_MODE = "crashloop"


def _now() -> str:
    return datetime.now(tz=UTC).isoformat()


def standin_url() -> str:
    """Return the base URL of the API as the connection ``novacron_api`` names it."""
    conn = BaseHook.get_connection(connections.NOVACRON_API)
    host = (conn.host or "").rstrip("/")
    base = host if "://" in host else f"{conn.schema or 'http'}://{host}"
    return f"{base}:{conn.port}" if conn.port else base


def switches() -> dict[str, Any]:
    """Read the stand-in's fault switches."""
    import requests

    reply = requests.get(f"{standin_url()}/_sandbox/faults", timeout=HTTP_TIMEOUT)
    reply.raise_for_status()
    return dict(reply.json())


def _set_switch(name: str, value: Any) -> dict[str, Any]:
    import requests

    reply = requests.post(f"{standin_url()}/_sandbox/faults", json={name: value}, timeout=HTTP_TIMEOUT)
    if reply.status_code != 200:
        raise AirflowFailException(f"the stand-in refused {name}={value!r}: {reply.text[:300]}")
    return dict(reply.json())


def prepare_switch(scenario: str) -> dict[str, Any]:
    """Check the scenario's stand-in switch is off (else it is someone else's fault) and plan it."""
    name, value, off = SWITCHES[scenario]
    current = switches().get(name)
    if current != off:
        raise AirflowFailException(
            f"stand-in switch {name} is {current!r} already: not at rest, not injected"
        )
    return {"switch": name, "value": value, "off": off}


def strike_switch(record: dict[str, Any]) -> dict[str, Any]:
    at = _now()
    _set_switch(record["switch"], record["value"])
    return {"fault_at": at, "what": f"stand-in {record['switch']}={record['value']}"}


def clear_switch(record: dict[str, Any]) -> str:
    """Set the switch back to off (only that switch) and read it back."""
    name, off = record["switch"], record["off"]
    after = _set_switch(name, off).get(name)
    if after != off:
        raise AirflowFailException(f"stand-in switch {name} reads {after!r} after clearing, not {off!r}")
    return f"stand-in {name}={off}"


def prepare_replica_stop(nodes: DatabaseNodes | None = None) -> dict[str, Any]:
    """Name the replica to stop; refuse unless exactly one replica streams."""
    nodes = nodes or DatabaseNodes.from_connection()
    replicas = nodes.replicas()
    if len(replicas) != 1 or not nodes.streaming(replicas[0]):
        names = [node.name for node in replicas]
        raise AirflowFailException(
            f"expected one streaming replica, found {names}: not at rest, not injected"
        )
    return {"node": replicas[0].name}


def strike_replica_stop(record: dict[str, Any], nodes: DatabaseNodes | None = None) -> dict[str, Any]:
    nodes = nodes or DatabaseNodes.from_connection()
    at = _now()
    nodes.stop(nodes.node(record["node"]), "fast")
    return {"fault_at": at, "what": f"replica {record['node']} stopped (pg_ctl stop -m fast)"}


def clear_replica_stop(record: dict[str, Any], nodes: DatabaseNodes | None = None) -> str:
    """Start the replica again (no-op when it runs) and wait until it streams from the primary."""
    nodes = nodes or DatabaseNodes.from_connection()
    node = nodes.node(record["node"])
    nodes.start(node)
    deadline = time.monotonic() + STREAM_TIMEOUT
    while not _streams(nodes, node):
        if time.monotonic() > deadline:
            raise AirflowFailException(
                f"replica {node.name} started but does not stream after {STREAM_TIMEOUT}s"
            )
        time.sleep(1)
    return f"replica {node.name} running and streaming"


def _streams(nodes: DatabaseNodes, node: Any) -> bool:
    try:
        return nodes.streaming(node)
    except Exception:  # noqa: BLE001 - a node still starting refuses connections: not streaming yet
        return False


def _emulator_faults(cluster: ReleaseCluster, body: dict[str, Any] | None = None) -> dict[str, str]:
    """Read (or set, with ``body``) the emulated cluster's per-Deployment pod fault switches."""
    import requests

    url = f"{cluster.api_client.configuration.host.rstrip('/')}/_emulator/faults"
    reply = (
        requests.post(url, json=body, timeout=HTTP_TIMEOUT)
        if body
        else requests.get(url, timeout=HTTP_TIMEOUT)
    )
    if reply.status_code != 200:
        raise AirflowFailException(f"the cluster has no pod fault switch ({url}: HTTP {reply.status_code})")
    return dict(reply.json().get("faults") or {})


def _pods(cluster: ReleaseCluster, deployment: str) -> list[dict[str, Any]]:
    obj = cluster._plain(cluster.apps.read_namespaced_deployment(deployment, cluster.namespace))
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    listed = cluster.core.list_namespaced_pod(cluster.namespace, label_selector=selector)
    return list(cluster._plain(listed)["items"])


def _delete_pods(cluster: ReleaseCluster, pods: list[dict[str, Any]]) -> list[str]:
    names = [pod["metadata"]["name"] for pod in pods]
    for name in names:
        cluster.core.delete_namespaced_pod(name, cluster.namespace)
    return names


def prepare_pods_killed(cluster: ReleaseCluster | None = None) -> dict[str, Any]:
    """Name the live colour's Deployment; refuse unless it is fully ready and has no pod fault yet."""
    cluster = cluster or ReleaseCluster()
    deployment = colour_deployment(cluster.active_colour())
    if (
        f"{cluster.namespace}/{deployment}" in _emulator_faults(cluster)
        or not cluster.require(deployment).rolled_out
    ):
        raise AirflowFailException(
            f"{deployment} is not fully ready or already has a pod fault: not injected"
        )
    return {"deployment": deployment}


def strike_pods_killed(record: dict[str, Any], cluster: ReleaseCluster | None = None) -> dict[str, Any]:
    """Set the live colour's replacements to crash, then kill its pods."""
    cluster = cluster or ReleaseCluster()
    deployment = record["deployment"]
    _emulator_faults(cluster, {"namespace": cluster.namespace, "deployment": deployment, "mode": CRASH_MODE})
    at = _now()
    killed = _delete_pods(cluster, _pods(cluster, deployment))
    return {"fault_at": at, "what": f"killed {', '.join(killed)}; their replacements crash"}


def clear_pods_killed(record: dict[str, Any], cluster: ReleaseCluster | None = None) -> str:
    """Turn the crash switch off, replace the crashing pods, wait until the Deployment is rolled out."""
    cluster = cluster or ReleaseCluster()
    deployment = record["deployment"]
    _emulator_faults(cluster, {"namespace": cluster.namespace, "deployment": deployment, "mode": "none"})
    unready = [pod for pod in _pods(cluster, deployment) if not _ready(pod)]
    replaced = _delete_pods(cluster, unready)
    cluster.wait_rolled_out(deployment, ROLLOUT_TIMEOUT)
    return f"{deployment}: crash switch off, {len(replaced)} crashing pod(s) replaced, rolled out"


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def prepare(scenario: str) -> dict[str, Any]:
    """Check the environment is at rest for the scenario and return what :func:`strike` will change."""
    if scenario in SWITCHES:
        return prepare_switch(scenario)
    if scenario == "replica_stopped":
        return prepare_replica_stop()
    if scenario == "pods_killed":
        return prepare_pods_killed()
    raise ValueError(f"unknown scenario {scenario!r}")


def strike(scenario: str, record: dict[str, Any]) -> dict[str, Any]:
    """Inject the planned fault; return its moment (``fault_at``) and what it did."""
    if scenario in SWITCHES:
        return strike_switch(record)
    if scenario == "replica_stopped":
        return strike_replica_stop(record)
    if scenario == "pods_killed":
        return strike_pods_killed(record)
    raise ValueError(f"unknown scenario {scenario!r}")


def clear(scenario: str, record: dict[str, Any]) -> str:
    """Clear what :func:`inject` recorded; safe to repeat."""
    if scenario in SWITCHES:
        return clear_switch(record)
    if scenario == "replica_stopped":
        return clear_replica_stop(record)
    if scenario == "pods_killed":
        return clear_pods_killed(record)
    raise ValueError(f"unknown scenario {scenario!r}")
