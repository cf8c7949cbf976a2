"""Database failure recovery: the lost primary fenced, the replica promoted (or a backup restored), verified.

::

    confirm_loss >> fence_lost_primary >> recover >> repoint_application >> verify >> rebuild_replica

- ``confirm_loss``: which node the application uses, and proof that it is lost: no answer on its socket,
  Prometheus's ``pg_up`` at 0 or absent, no replica still streaming from it. Any doubt (Prometheus cannot be
  asked, a replica still streams) refuses the run before anything changes. A primary that is alive and used
  by the application is never failed over: the run ends there, changing nothing (a second run after a
  recovery ends the same way). A primary the application does not use yet (a run that promoted, then
  stopped) resumes from the repoint.
- ``fence_lost_primary``: stopped if anything of it runs, ``standby.signal`` in its folder and a fence marker
  beside it, so it can never come back as a second primary.
- ``recover``: WAL the lost primary flushed but never sent is copied from its disk when that can be read
  (asynchronous streaming can lose the last commits otherwise). Then promote the replica when it is healthy
  and has replayed every WAL byte it can get (streamed, salvaged, and archived: its ``restore_command``
  fetches that), and its lag is within the RPO; otherwise restore the newest backup and replay WAL to the
  newest point into the fenced node's folder (its own unarchived WAL kept and replayed last). Records the
  RPO estimate: from the last transaction recovered to the loss (an upper bound).
- ``repoint_application``: ConfigMap ``novacron-api-config`` to the new primary, API Deployments restarted
  (rollout restart) and waited for.
- ``verify``: a write and a read as the application's role at the address the application now uses, and
  ``GET /api/v1/vms`` through the API (when the API has Deployments: lost with the database, it is
  recreated and verified by ``dr_service_failure``). Records the RTO: from the alert's start (or the
  run's) to this point.
- ``rebuild_replica``: the fenced node rebuilt as a streaming replica of the new primary.

Dry run (the default): the loss is confirmed and the decision taken on the real state; nothing is fenced,
promoted, restored, repointed or rebuilt.

Not behind an approval: the run starts from a confirmed loss of the primary, where waiting for a person
spends the RTO; ``dry_run`` is the guard (an alert starts a dry run; a person sets ``dry_run: false``).
Limitations: Prometheus's ``pg_up`` comes from one exporter; where it watches a node that is now a replica, a
later failover is refused (fail closed) until the exporter watches the primary again. Fencing, promotion,
restore and rebuild run PostgreSQL's programs on the nodes' folders, so these tasks must run on the database
host (in the sandbox, everything is one machine).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseHook, get_current_context
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks import connections
from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.database import application, failover, observe
from novacron_runbooks.database.choice import choose
from novacron_runbooks.database.nodes import DatabaseNodes, Node
from novacron_runbooks.database.topology import Topology, confirm, outage_began, restored_last_transaction
from novacron_runbooks.hooks.pgbackrest import PgBackRestHook
from novacron_runbooks.release.cluster import ReleaseCluster

RUNBOOK = catalog_runbook("dr_database_failure")
RPO_LIMIT_SECONDS = RUNBOOK.threshold("rpo").value * 60
RTO_LIMIT_SECONDS = RUNBOOK.threshold("rto").value * 60


def _address(node: Node) -> tuple[str, int]:
    """Where clients reach ``node``: its own host, else the database connection's host."""
    return node.host or str(BaseHook.get_connection(connections.DATABASE).host), node.port


with runbook_dag(RUNBOOK.name, max_active_runs=1) as rb:

    @runbook_step(retries=1)  # refusals are final (AirflowFailException); an unreachable API is worth a retry
    def confirm_loss(params: dict[str, Any]) -> dict[str, Any]:
        """Prove the primary is lost, or refuse; a healthy primary the application uses ends the run here."""
        context = get_current_context()
        topology = Topology.read(DatabaseNodes.from_connection(), ReleaseCluster())
        plan = confirm(topology, current_evidence())
        began = outage_began(params.get("alert") or {}, context["dag_run"])
        # the loss happened before Prometheus saw it, the alert fired and the run started: the earliest of
        # those bounds the loss time from above, and with it the RPO estimate
        seen = [datetime.fromisoformat(plan["seen_down_at"])] if plan.get("seen_down_at") else []
        plan.update(outage_began=began.isoformat(), lost_at=min([began, *seen]).isoformat())
        return plan

    @runbook_step
    def fence_lost_primary(plan: dict[str, Any], params: dict[str, Any]) -> list[str]:
        """Make the lost primary unable to come back as a primary (idempotent)."""
        evidence = current_evidence()
        nodes = DatabaseNodes.from_connection()
        lost = nodes.node(plan["lost"])
        if params["dry_run"]:
            evidence.change(lost.name, "stop, standby.signal, fence marker", applied=False)
            return []
        done = nodes.fence(lost)
        for action in done:
            evidence.change(lost.name, action, applied=True)
        if not done:
            evidence.note(f"{lost.name} was already fenced")
        return done

    @runbook_step
    def recover(plan: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Promote the replica when it holds every WAL byte it can get; else restore into the fenced node."""
        evidence = current_evidence()
        nodes = DatabaseNodes.from_connection()
        if plan["path"] == "resume":
            evidence.note(f"{plan['new_primary']} was already promoted by an earlier run")
            return {"path": "resume", "new_primary": plan["new_primary"]}
        current = nodes.primary()
        if current is not None:  # a retry after the promotion or restore succeeded: never a second one
            evidence.note(f"{current.name} is already primary (an earlier attempt of this step)")
            return {"path": "resume", "new_primary": current.name}
        lost = nodes.node(plan["lost"])
        hook = PgBackRestHook()
        lost_at = datetime.fromisoformat(plan["lost_at"])
        decision, target, rpo = choose(
            nodes,
            lost,
            failover.newest_archived_end(hook.info()),
            lost_at,
            RPO_LIMIT_SECONDS,
            dry_run=params["dry_run"],
            evidence=evidence,
        )
        if params["dry_run"]:
            how = "promote" if decision.path == "promote" else "restore newest backup + WAL into"
            evidence.change(target.name, f"{how} {target.name}", applied=False)
            return {"path": decision.path, "new_primary": target.name}
        if decision.path == "promote":
            nodes.promote(target)
        else:
            nodes.restore_in_place(target, hook, backup_set=None, target_time=None, keep_wal=True)
            rpo = failover.rpo_estimate_seconds(lost_at, restored_last_transaction(nodes, target))
        evidence.change(target.name, f"{decision.path}d to primary", applied=True)
        if rpo is not None:
            evidence.metric("rpo_seconds", round(rpo, 3))
            evidence.measure("rpo_seconds", rpo, "pass" if rpo <= RPO_LIMIT_SECONDS else "fail")
        else:
            evidence.note("RPO unknown: no replayed transaction has a commit time to measure from")
        return {"path": decision.path, "new_primary": target.name, "rpo_seconds": rpo}

    @runbook_step
    def repoint_application(result: dict[str, Any], params: dict[str, Any]) -> list[str]:
        """Point the application's ConfigMap at the new primary and restart the API pods."""
        evidence = current_evidence()
        host, port = _address(DatabaseNodes.from_connection().node(result["new_primary"]))
        if params["dry_run"]:
            evidence.change(
                application.CONFIG_MAP, f"DATABASE_HOST={host} DATABASE_PORT={port}, restart", applied=False
            )
            return []
        done = application.repoint(ReleaseCluster(), host, port)
        for action in done:
            evidence.change("application", action, applied=True)
        return done

    @runbook_step
    def verify(plan: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Write and read as the application at its configured address, GET /vms; record the RTO."""
        evidence = current_evidence()
        if params["dry_run"]:
            evidence.note("dry run: would write and read at the new primary and GET /api/v1/vms")
            return {}
        cluster = ReleaseCluster()
        host, port = application.configured_address(cluster)
        run_id = get_current_context()["dag_run"].run_id
        checked = observe.verify_database(host, port, f"{RUNBOOK.name}/{run_id}")
        ok = checked["writable"] and checked["read_back"] and checked["vms"] > 0
        evidence.measure("database read and write", checked, "pass" if ok else "fail")
        if not ok:
            raise AirflowFailException(f"database at {host}:{port} is not usable: {checked}")
        if not application.api_deployments(cluster):
            # the application itself is lost too: dr_service_failure recreates it and verifies its requests
            evidence.note("no API Deployment exists: the database was verified directly, not through the API")
        else:
            api = observe.verify_api()
            evidence.measure("GET /api/v1/vms", api, "pass" if api["status"] == 200 else "fail")
            if api["status"] != 200:
                raise AirflowFailException(f"the API does not serve /api/v1/vms: {api['last']}")
        rto = (datetime.now(tz=UTC) - datetime.fromisoformat(plan["outage_began"])).total_seconds()
        evidence.metric("rto_seconds", round(rto, 3))
        evidence.measure("rto_seconds", rto, "pass" if rto <= RTO_LIMIT_SECONDS else "fail")
        return checked

    @runbook_step
    def rebuild_replica(plan: dict[str, Any], result: dict[str, Any], params: dict[str, Any]) -> list[str]:
        """Rebuild every node that is not a streaming replica as one of the new primary."""
        evidence = current_evidence()
        nodes = DatabaseNodes.from_connection()
        source = nodes.node(result["new_primary"])
        rebuilt = []
        for node in nodes.nodes:
            if node == source or (nodes.role(node) == "replica" and nodes.streaming(node)):
                continue
            if params["dry_run"]:
                evidence.change(node.name, f"rebuild as a replica of {source.name}", applied=False)
                continue
            nodes.rebuild_replica(node, source)
            evidence.change(node.name, f"rebuilt as a streaming replica of {source.name}", applied=True)
            rebuilt.append(node.name)
        return rebuilt

    plan = confirm_loss()
    fenced = fence_lost_primary(plan)
    result = recover(plan)
    fenced >> result
    repointed = repoint_application(result)
    checked = verify(plan)
    repointed >> checked
    checked >> rebuild_replica(plan, result)
