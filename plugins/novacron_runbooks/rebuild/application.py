"""Recovering the NovaCron API from its kept manifests and the last good release, in one cluster.

``survey`` reads what is left, ``build_plan`` decides (pure decisions live in :mod:`.plan`), and the DAG's
steps apply the plan one stage at a time: missing objects first, the Service (traffic) only after the smoke
check. Everything that still exists is left as it is, so a run against a healthy application changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from urllib3.exceptions import HTTPError

from novacron_runbooks import connections
from novacron_runbooks.dagkit.evidence import current_evidence
from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.hooks.database import connect_primary
from novacron_runbooks.hooks.kubernetes import cluster_hook, namespace
from novacron_runbooks.rebuild import manifests, objects
from novacron_runbooks.rebuild.plan import choose_release, objects_to_create
from novacron_runbooks.release import actions
from novacron_runbooks.release.cluster import (
    COLOURS,
    SERVICE,
    ReleaseCluster,
    ReleaseError,
    colour_deployment,
)
from novacron_runbooks.release.gates import image_version
from novacron_runbooks.release.history import ReleaseHistory

if TYPE_CHECKING:
    from novacron_runbooks.release.history import Release


def target_cluster(which: str) -> ReleaseCluster:
    """Return the cluster to recover into: the current one, or the standby its Airflow connection names."""
    if which == "current":
        return ReleaseCluster()
    conn_id = connections.KUBERNETES_STANDBY
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise ParamError(
            "target_cluster", f"standby needs the Airflow connection {conn_id!r}, which is not defined"
        ) from exc
    return ReleaseCluster(api_client=cluster_hook(conn_id).api_client, ns=namespace(conn_id))


def database_address() -> manifests.DatabaseAddress:
    """Return the address of the primary the runbooks' own connection reaches: the application must use it.

    The connection may list every node (libpq multi-host, ``target_session_attrs=read-write``), so the
    primary is asked where it listens; after a failover that is the promoted node, not the first one listed.
    With no primary answering, the connection's first node is the best guess, and the evidence says so.
    """
    import psycopg

    try:
        with connect_primary() as db:
            row = db.execute("SELECT host(inet_server_addr()), inet_server_port()").fetchone()
        if row and row[0] and row[1]:
            return manifests.DatabaseAddress(host=str(row[0]), port=int(row[1]))
    except psycopg.Error as exc:
        current_evidence().note(f"no primary answered ({exc}); the config gets the connection's first node")
    conn = BaseHook.get_connection(connections.DATABASE)
    return manifests.DatabaseAddress(host=str(conn.host), port=int(conn.port or 5432))


@dataclass(frozen=True)
class Survey:
    """What is left of the application in one cluster."""

    service_colour: str | None
    running: dict[str, str]
    """colour -> image of the colours with ready pods"""
    replicas: dict[str, int]
    """colour -> desired replicas of the colours whose Deployment exists"""
    live: Release | None


def read_live(cluster: ReleaseCluster) -> Release | None:
    """Return the history's newest good release; None when the ConfigMap is gone, empty or unreadable."""
    from kubernetes.client.exceptions import ApiException

    try:
        return ReleaseHistory(cluster).live()
    except (ReleaseError, ApiException, HTTPError, OSError):
        return None


def survey(cluster: ReleaseCluster, history_cluster: ReleaseCluster | None = None) -> Survey:
    """Read the Service's colour, the colours' Deployments and the history (from ``history_cluster``)."""
    service_colour = None
    if objects.exists(cluster, "Service", SERVICE):
        selected = (cluster.service().get("spec") or {}).get("selector") or {}
        service_colour = selected.get("color") if selected.get("color") in COLOURS else None
    running, replicas = {}, {}
    for colour in COLOURS:
        workload = cluster.workload(colour_deployment(colour))
        if workload is None:
            continue
        replicas[colour] = workload.replicas
        if workload.ready > 0:
            running[colour] = workload.image
    live = read_live(history_cluster or cluster)
    return Survey(service_colour, running, replicas, live)


def build_plan(cluster: ReleaseCluster, found: Survey, image_param: str) -> dict[str, Any]:
    """Decide the release, the colour and the objects to create; JSON-friendly for XCom and the report."""
    kept = manifests.load_kept(manifests.API_MANIFESTS)
    release = choose_release(
        override=image_param,
        live=found.live,
        service_colour=found.service_colour,
        running=found.running,
        kept_image=manifests.kept_api_image(kept),
    )
    rendered = manifests.render_api(
        kept,
        namespace=cluster.namespace,
        image=release.image,
        colour=release.colour,
        database=database_address(),
    )
    present = objects.present(cluster, rendered)
    create = objects_to_create(rendered, present, skip_kinds=("Service",))
    deployment = colour_deployment(release.colour)
    kept_replicas = int(manifests.find(rendered, "Deployment", deployment)["spec"]["replicas"])
    existing = cluster.workload(deployment)
    return {
        **asdict(release),
        "deployment": deployment,
        # what will serve: a surviving Deployment keeps its own image (it is newer than any record)
        "serving_image": existing.image if existing and existing.replicas > 0 else release.image,
        "replicas": kept_replicas,
        "scale_up": existing is not None and existing.replicas == 0,
        "create": create,
        "service": manifests.find(rendered, "Service", SERVICE),
        "service_exists": ("Service", SERVICE) in present,
        "service_colour": found.service_colour,
        "lost": [f"{obj['kind']}/{obj['metadata']['name']}" for obj in create]
        + ([] if ("Service", SERVICE) in present else [f"Service/{SERVICE}"]),
    }


def serving_version(plan: dict[str, Any]) -> str:
    return image_version(str(plan["serving_image"]))


def route_traffic(cluster: ReleaseCluster, plan: dict[str, Any], dry_run: bool) -> None:
    """Point the Service and the autoscaler at the plan's colour; create the Service when it is gone."""
    if not objects.exists(cluster, "Service", SERVICE):
        current_evidence().change(
            f"Service {SERVICE}", f"create, selecting {plan['colour']}", applied=not dry_run
        )
        if dry_run:
            return
        objects.create(cluster, plan["service"])
    actions.switch_traffic(cluster, plan["colour"], dry_run)


def changes_traffic(plan: dict[str, Any]) -> bool:
    """Whether applying ``plan`` changes what serves users (anything lost, scaled to zero, or switched)."""
    return bool(plan["lost"] or plan["scale_up"] or plan["service_colour"] != plan["colour"])


def smoke_check_rebuilt(
    plan: dict[str, Any], target: str, dry_run: bool, seconds: float, ceiling: float
) -> None:
    """Preview traffic to the rebuilt colour's own pods: every answer must come from the expected release."""
    workload = target_cluster(target).workload(plan["deployment"])
    if dry_run and (workload is None or workload.ready == 0):
        current_evidence().note(f"dry run: {plan['deployment']} has no ready pods to smoke-check yet")
        return
    actions.smoke_check(plan["deployment"], plan["version"], seconds, ceiling)
