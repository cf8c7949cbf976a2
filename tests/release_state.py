"""Put the sandbox cluster's release objects back to the seed state between release tests, and read them.

Seed state: Service on blue, blue runs ``api:1.4.2`` with 3 replicas, green has 0, no canary, no history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.dag_processing.dagbag import DagBag
from kubernetes.client.exceptions import ApiException

from novacron_runbooks.hooks.kubernetes import cluster_hook
from novacron_runbooks.hooks.prometheus import PrometheusHook
from novacron_runbooks.release.cluster import CANARY, ReleaseCluster
from novacron_runbooks.release.gates import API_JOB, SERVICE_ERROR_RATIO
from novacron_runbooks.release.history import CONFIGMAP, ReleaseHistory
from sandbox.connections import RUNBOOK_VARIABLES
from sandbox.layout import REPO_ROOT

if TYPE_CHECKING:
    from airflow.sdk import DAG

SEED_IMAGE = "registry.novacron.io/novacron/api:1.4.2"
GOOD_IMAGE = "registry.novacron.io/novacron/api:1.5.0"
BAD_IMAGE = "registry.novacron.io/novacron/api:1.5.0-bad"
PREFLIGHT_WINDOW = RUNBOOK_VARIABLES["novacron_preflight_window"]


@dataclass(frozen=True)
class ReleaseState:
    """What users get now: the Service's colour and each colour's image and readiness."""

    active: str
    images: dict[str, str]
    ready: dict[str, int]
    replicas: dict[str, int]
    canary: bool

    @property
    def active_image(self) -> str:
        return self.images[self.active]


def read_state() -> ReleaseState:
    cluster = ReleaseCluster()
    workloads = {c: cluster.require(f"novacron-api-{c}") for c in ("blue", "green")}
    return ReleaseState(
        active=cluster.active_colour(),
        images={c: w.image for c, w in workloads.items()},
        ready={c: w.ready for c, w in workloads.items()},
        replicas={c: w.replicas for c, w in workloads.items()},
        canary=cluster.workload(CANARY) is not None,
    )


def resource_versions() -> dict[str, str]:
    """What a release runbook may change, as versions: equal snapshots mean nothing was changed.

    Deployments by ``generation`` (it moves on spec changes only; controllers keep writing status), the
    Service, the autoscaler and the history ConfigMap by ``resourceVersion``.
    """
    cluster = ReleaseCluster()
    ns = cluster.namespace
    found = {}
    for name in ("novacron-api-blue", "novacron-api-green", CANARY):
        try:
            found[name] = str(cluster.apps.read_namespaced_deployment(name, ns).metadata.generation)
        except ApiException:
            found[name] = "absent"
    found["service"] = cluster.core.read_namespaced_service("novacron-api", ns).metadata.resource_version
    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler("novacron-api", ns)
    found["autoscaler"] = str(hpa.spec.scale_target_ref.name)
    try:
        found[CONFIGMAP] = cluster.core.read_namespaced_config_map(CONFIGMAP, ns).metadata.resource_version
    except ApiException:
        found[CONFIGMAP] = "absent"
    return found


def reset_release_state(timeout: float = 60, healthy: bool = True) -> None:
    """Seed state again, then wait until blue is ready and the service's error ratio is back under 1%."""
    cluster_hook.cache_clear()
    cluster = ReleaseCluster()
    cluster.delete(CANARY)
    cluster.set_image("novacron-api-blue", SEED_IMAGE, "test reset")
    cluster.scale("novacron-api-blue", 3)
    # blue serves before the Service points at it: a Service with no ready pods behind it answers 503, and
    # those errors would sit in the next test's preflight window
    cluster.wait_rolled_out("novacron-api-blue", timeout)
    cluster.switch_service("blue")
    cluster.retarget_autoscaler("novacron-api-blue")
    cluster.set_image("novacron-api-green", SEED_IMAGE, "test reset")
    cluster.scale("novacron-api-green", 0)
    try:
        cluster.core.delete_namespaced_config_map(CONFIGMAP, cluster.namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
    if healthy:  # runbooks with a preflight on the whole service's error rate need the last minute clean
        wait_service_healthy(max(timeout, 120))


def wait_service_healthy(timeout: float = 90, window: str = PREFLIGHT_WINDOW) -> float:
    """Wait until the service's error ratio over ``window`` is well under 1% (the runbooks' preflight window).

    Only a ratio that includes a scrape taken after this call began counts: requests that failed just before
    it are in the stand-in's counters but not yet in Prometheus, and a ratio without them would pass too soon.
    """
    hook = PrometheusHook()
    began = time.time()
    deadline = time.monotonic() + timeout
    last: float | None = None
    while time.monotonic() < deadline:
        scraped = hook.query(f'max(timestamp(up{{job="{API_JOB}"}}))').first_finite()
        last = service_error_ratio(window) if scraped is not None and scraped > began else None
        if last is not None and last < 0.005:  # headroom: the runbook's own preflight must see it under 1%
            return last
        time.sleep(2)
    raise AssertionError(f"service error ratio over {window} still {last} after {timeout} s")


def service_error_ratio(window: str = PREFLIGHT_WINDOW) -> float:
    """Return the whole service's error ratio over ``window`` as Prometheus has it now (NaN: no requests)."""
    query = SERVICE_ERROR_RATIO.replace("$service", '"novacron-api"').replace("$window", window)
    values = PrometheusHook().query(query).values
    return float(values[0]) if values else float("nan")


def promote_bad_release(keep_old_colour: bool) -> None:
    """Stage what a deployment whose defect slipped through leaves: the bad release live on green."""
    cluster = ReleaseCluster()
    releases = ReleaseHistory(cluster)
    adopted = releases.append(image=SEED_IMAGE, colour="blue", runbook="adopted", run="", result="adopted")
    bad = releases.append(
        image=BAD_IMAGE, colour="green", runbook="deployment", run="ci/1", replaced=adopted.revision
    )
    cluster.set_image("novacron-api-green", BAD_IMAGE, "bad release", bad.revision)
    cluster.scale("novacron-api-green", 3)
    cluster.wait_rolled_out("novacron-api-green", 60)
    cluster.switch_service("green")
    cluster.retarget_autoscaler("novacron-api-green")
    releases.finish(bad.revision, "promoted")
    if not keep_old_colour:
        cluster.scale("novacron-api-blue", 0)


def history() -> list[Any]:
    return ReleaseHistory(ReleaseCluster()).records()


def load_dag(dag_id: str) -> DAG:
    """Load one DAG file of the project's dags folder (fresh, so each test gets its own objects)."""
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)
