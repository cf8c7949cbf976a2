"""Which node is primary, which one the application uses, and whether a failover is called for.

``confirm`` is the failover's first step: it changes nothing, and it either proves the primary is lost, finds
an earlier run's failover half done (resume), or ends the run (a healthy primary in use; a loss it cannot
prove). Every refusal says what was seen, so a person can act on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks.database import application, failover, observe
from novacron_runbooks.hooks.node import HostError

if TYPE_CHECKING:
    from novacron_runbooks.dagkit.evidence import Evidence
    from novacron_runbooks.database.nodes import DatabaseNodes, Node
    from novacron_runbooks.release.cluster import ReleaseCluster


@dataclass(frozen=True)
class Topology:
    """The nodes' roles and the address the application is configured with, read once."""

    nodes: DatabaseNodes
    roles: dict[str, str]
    app_port: int
    app_host: str

    @classmethod
    def read(cls, nodes: DatabaseNodes, cluster: ReleaseCluster) -> Topology:
        host, port = application.configured_address(cluster)
        return cls(nodes, nodes.roles(), port, host)

    def app_node(self) -> Node | None:
        """Return the node the application's address names (by port; a node's host may be a name or an IP)."""
        return next((n for n in self.nodes.nodes if n.port == self.app_port), None)

    def primaries(self) -> list[Node]:
        return [n for n in self.nodes.nodes if self.roles[n.name] == "primary"]


def confirm(topology: Topology, evidence: Evidence) -> dict[str, Any]:
    """Return the failover plan (``path`` ``failover`` or ``resume``), or raise to end the run unchanged."""
    evidence.measure("node roles", topology.roles, "observed")
    app = topology.app_node()
    if app is None:
        raise AirflowFailException(
            f"the application uses {topology.app_host}:{topology.app_port}, which is none of the nodes "
            f"({', '.join(f'{n.name}:{n.port}' for n in topology.nodes.nodes)}): fix the ConfigMap first"
        )
    primaries = topology.primaries()
    if len(primaries) > 1:
        raise AirflowFailException("split brain: " + ", ".join(n.name for n in primaries) + " accept writes")
    if primaries:
        return _with_live_primary(topology, primaries[0], app, evidence)
    if topology.roles[app.name] != "down":
        raise AirflowFailException(
            f"no node accepts writes and the application uses {app.name}, a {topology.roles[app.name]}: "
            "which node was primary cannot be told; look first"
        )
    pg_up, error = observe.pg_up()
    signals = failover.LossSignals(
        connects=False,
        pg_up=pg_up,
        prometheus_error=error,
        streaming_replicas=observe.streaming_replicas(topology.nodes),
        host=postmaster_on_host(topology.nodes, app),
    )
    evidence.measure(f"{app.name}'s postmaster (its host, over SSH)", signals.host, "observed")
    evidence.measure("pg_up", pg_up, "down" if pg_up in (None, 0) else "up", query=observe.PG_UP)
    doubts = failover.unproven_loss(signals)
    if doubts:
        raise AirflowFailException(
            f"cannot prove the primary {app.name} is lost: {'; '.join(doubts)}. Refusing to fail over; "
            "nothing was changed"
        )
    evidence.note(f"primary {app.name} is lost: no connection, pg_up {pg_up}, no replica streams from it")
    seen_down = observe.first_seen_down()
    if seen_down is not None:
        evidence.note(f"Prometheus first saw it down at {seen_down.isoformat()}")
    return {
        "path": "failover",
        "lost": app.name,
        "seen_down_at": seen_down.isoformat() if seen_down else None,
    }


def _with_live_primary(topology: Topology, primary: Node, app: Node, evidence: Evidence) -> dict[str, Any]:
    if app == primary:
        raise AirflowSkipException(
            f"primary {primary.name} is alive, accepts writes and the application uses it: refusing to "
            "fail over (that would make two primaries); nothing to recover, nothing changed"
        )
    if topology.roles[app.name] != "down" and not topology.nodes.fenced(app):
        raise AirflowFailException(
            f"{primary.name} is primary but the application uses {app.name} ({topology.roles[app.name]}), "
            "which is not lost: look first"
        )
    evidence.note(f"{primary.name} is already primary; {app.name} lost: resuming from the repoint")
    return {"path": "resume", "lost": app.name, "new_primary": primary.name}


def outage_began(alert: dict[str, Any], dag_run: Any) -> datetime:
    """When the outage began, for the RTO: the alert's ``starts_at`` when the run has one, else its start."""
    raw = str(alert.get("starts_at") or "")
    if raw:
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
    started = getattr(dag_run, "start_date", None) or getattr(dag_run, "run_after", None)
    return started if isinstance(started, datetime) else datetime.now(tz=UTC)


def postmaster_on_host(nodes: DatabaseNodes, node: Node) -> str:
    """Ask the node's host whether its postmaster runs: ``"running"``, ``"stopped"``, or why it can't say."""
    try:
        return "running" if nodes.running(node) else "stopped"
    except HostError as exc:
        return str(exc).splitlines()[0]


def restored_last_transaction(nodes: DatabaseNodes, node: Node) -> datetime | None:
    """Return the last transaction a restore replayed, from the log PostgreSQL wrote when recovery ended."""
    try:
        text = nodes.programs.host(node).read_text(node.runbook_log)
    except (OSError, HostError):
        return None
    found = failover.last_transaction_in_log(text)
    if found is None:
        return None
    try:
        return datetime.fromisoformat(found.replace(" UTC", "+00:00"))
    except ValueError:
        return None
