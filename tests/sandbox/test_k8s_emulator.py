"""The Kubernetes API emulator, driven by the official clients over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from sandbox.aio import free_port

REPO = Path(__file__).resolve().parents[2]
NS = "novacron"


def start_emulator(state_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.k8s",
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
            "--ready-delay",
            "0.2",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "emulator did not start")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=10)


def wait_for(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_emulator(tmp_path_factory.mktemp("k8s"), port)
    yield f"http://127.0.0.1:{port}"
    assert stop(proc) == 0


@pytest.fixture(scope="module")
def kubeconfig(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "sandbox",
                "clusters": [{"name": "sandbox", "cluster": {"server": emulator}}],
                "users": [{"name": "sre", "user": {"token": "any-token"}}],
                "contexts": [
                    {"name": "sandbox", "context": {"cluster": "sandbox", "user": "sre", "namespace": NS}}
                ],
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def api(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture
def namespace(api: client.ApiClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name


def deployment(name: str, image: str, replicas: int = 2, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            **spec,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "MODE", "value": "a"}],
                        },
                        {"name": "sidecar", "image": "registry.example/sidecar:1"},
                    ]
                },
            },
        },
    }


def ready_pods(core: client.CoreV1Api, ns: str, selector: str) -> list[client.V1Pod]:
    pods = core.list_namespaced_pod(ns, label_selector=selector).items
    return [
        p for p in pods if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    ]


class TestDiscoveryAndSeed:
    def test_version_and_discovery(self, api: client.ApiClient) -> None:
        assert client.VersionApi(api).get_code().git_version.startswith("v1.")
        groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
        assert {"apps", "autoscaling", "coordination.k8s.io", "batch"} <= groups
        names = {r.name for r in client.AppsV1Api(api).get_api_resources().resources}
        assert {"deployments", "deployments/scale", "deployments/status"} <= names

    def test_seeded_objects(self, api: client.ApiClient) -> None:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        blue = apps.read_namespaced_deployment("novacron-api-blue", NS)
        assert blue.spec.template.spec.containers[0].image == "registry.novacron.io/novacron/api:1.4.2"
        assert blue.metadata.uid and blue.metadata.resource_version and blue.metadata.generation == 1
        assert apps.read_namespaced_deployment("novacron-api-green", NS).spec.replicas == 0
        assert core.read_namespaced_service("novacron-api", NS).spec.selector == {
            "app": "novacron-api",
            "color": "blue",
        }
        hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("novacron-api", NS)
        assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (3, 12)
        assert core.read_namespaced_config_map("novacron-api-config", NS).data["DATABASE_PORT"]
        wait_for(lambda: len(ready_pods(core, NS, "app=novacron-api,color=blue")) == 3)
        wait_for(
            lambda: apps.read_namespaced_deployment_status("novacron-api-blue", NS).status.ready_replicas == 3
        )

    def test_selectors(self, api: client.ApiClient) -> None:
        core = client.CoreV1Api(api)
        wait_for(lambda: len(ready_pods(core, NS, "app=novacron-api")) == 3)
        count = lambda sel: len(core.list_namespaced_pod(NS, label_selector=sel).items)  # noqa: E731
        assert count("app==novacron-api,color in (blue,red)") == 3
        assert count("color notin (blue)") == 3  # the dwcp agents have no color label
        assert count("app!=novacron-api") == 3
        assert count("color") == 3 and count("!color") == 3 and count("track") == 0
        running = core.list_namespaced_pod(NS, field_selector="status.phase=Running").items
        assert len(running) == 6
        one = running[0].metadata.name
        assert [
            p.metadata.name for p in core.list_namespaced_pod(NS, field_selector=f"metadata.name={one}").items
        ] == [one]
        assert len(core.list_pod_for_all_namespaces(field_selector="metadata.namespace!=novacron").items) == 0
        pod = next(p for p in running if p.metadata.name.startswith("novacron-api-blue-"))
        statuses = pod.status.container_statuses
        assert all(s.image_id and s.ready and s.restart_count == 0 for s in statuses)
        # kubernetes 36 returns str(bytes) for logs with preloading; read the raw body as callers should
        log = core.read_namespaced_pod_log(
            pod.metadata.name, NS, container="api", tail_lines=5, _preload_content=False
        ).data.decode()
        assert "image=registry.novacron.io/novacron/api:1.4.2" in log and len(log.splitlines()) == 5


class TestVerbs:
    def test_create_duplicate_invalid(self, api: client.ApiClient, namespace: str) -> None:
        apps = client.AppsV1Api(api)
        created = apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0"))
        assert created.metadata.namespace == namespace and created.metadata.creation_timestamp
        with pytest.raises(ApiException) as dup:
            apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0"))
        assert dup.value.status == 409 and json.loads(dup.value.body)["reason"] == "AlreadyExists"
        broken = deployment("broken", "x:1")
        del broken["spec"]["template"]
        with pytest.raises(ApiException) as bad:
            apps.create_namespaced_deployment(namespace, broken)
        assert bad.value.status == 422 and json.loads(bad.value.body)["reason"] == "Invalid"
        with pytest.raises(ApiException) as missing:
            apps.read_namespaced_deployment("nope", namespace)
        assert missing.value.status == 404 and json.loads(missing.value.body)["kind"] == "Status"

    def test_strategic_merge_keeps_sidecar_and_rolls(self, api: client.ApiClient, namespace: str) -> None:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0"))
        wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2)
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "registry.example/web:2.0",
                                "env": [{"name": "EXTRA", "value": "b"}],
                            }
                        ]
                    }
                }
            }
        }
        patched = apps.patch_namespaced_deployment("web", namespace, patch)
        containers = patched.spec.template.spec.containers
        assert [c.name for c in containers] == ["app", "sidecar"]
        assert containers[0].image == "registry.example/web:2.0"
        assert [e.name for e in containers[0].env] == ["MODE", "EXTRA"] and containers[0].ports[
            0
        ].container_port
        assert patched.metadata.generation == 2

        def rolled() -> bool:
            pods = ready_pods(core, namespace, "app=web")
            images = {p.spec.containers[0].image for p in core.list_namespaced_pod(namespace).items}
            status = apps.read_namespaced_deployment_status("web", namespace).status
            progressing = {c.type: c.reason for c in status.conditions or []}.get("Progressing")
            return (
                len(pods) == 2
                and images == {"registry.example/web:2.0"}
                and status.updated_replicas == 2
                and progressing == "NewReplicaSetAvailable"
            )

        wait_for(rolled)
        status = apps.read_namespaced_deployment("web", namespace).status
        assert status.observed_generation == 2
        reasons = {c.type: c.reason for c in status.conditions}
        assert reasons == {
            "Available": "MinimumReplicasAvailable",
            "Progressing": "NewReplicaSetAvailable",
        }, status
        assert len(apps.list_namespaced_replica_set(namespace).items) == 2
        pod = core.list_namespaced_pod(namespace).items[0]
        assert (
            pod.metadata.labels["pod-template-hash"] and pod.metadata.owner_references[0].kind == "ReplicaSet"
        )

    def test_json_and_merge_patch(self, emulator: str, api: client.ApiClient, namespace: str) -> None:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}}
        )
        core.patch_namespaced_config_map(
            "cfg",
            namespace,
            [{"op": "replace", "path": "/data/a", "value": "9"}, {"op": "remove", "path": "/data/b"}],
        )
        assert core.read_namespaced_config_map("cfg", namespace).data == {"a": "9"}
        req = urllib.request.Request(
            f"{emulator}/api/v1/namespaces/{namespace}/configmaps/cfg",
            method="PATCH",
            data=json.dumps({"data": {"c": "3", "a": None}}).encode(),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        urllib.request.urlopen(req, timeout=5).close()
        assert core.read_namespaced_config_map("cfg", namespace).data == {"c": "3"}

    def test_replace_conflict(self, api: client.ApiClient, namespace: str) -> None:
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0", 1))
        current = apps.read_namespaced_deployment("web", namespace)
        current.metadata.annotations = {"note": "first"}
        replaced = apps.replace_namespaced_deployment("web", namespace, current)
        assert int(replaced.metadata.resource_version) > int(current.metadata.resource_version)
        current.metadata.annotations = {"note": "stale"}
        with pytest.raises(ApiException) as stale:
            apps.replace_namespaced_deployment("web", namespace, current)
        assert stale.value.status == 409 and json.loads(stale.value.body)["reason"] == "Conflict"

    def test_scale_subresource_and_delete(self, api: client.ApiClient, namespace: str) -> None:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0", 1))
        scale = apps.read_namespaced_deployment_scale("web", namespace)
        assert scale.kind == "Scale" and scale.api_version == "autoscaling/v1" and scale.spec.replicas == 1
        assert scale.status.selector == "app=web"
        result = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 3}})
        assert result.kind == "Scale" and result.spec.replicas == 3
        assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 3
        wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 3)
        assert client.CoreV1Api(api).list_namespaced_endpoints(namespace).items == []
        apps.delete_namespaced_deployment("web", namespace)
        wait_for(lambda: not core.list_namespaced_pod(namespace).items)
        assert not apps.list_namespaced_replica_set(namespace).items

    def test_lease_lock(self, api: client.ApiClient, namespace: str) -> None:
        leases = client.CoordinationV1Api(api)
        body = {
            "metadata": {"name": "deploy-lock"},
            "spec": {"holderIdentity": "run-1", "leaseDurationSeconds": 60},
        }
        lease = leases.create_namespaced_lease(namespace, body)
        with pytest.raises(ApiException) as taken:
            leases.create_namespaced_lease(namespace, body)
        assert taken.value.status == 409
        lease.spec.holder_identity = "run-2"
        leases.replace_namespaced_lease("deploy-lock", namespace, lease)
        lease.spec.holder_identity = "run-3"
        with pytest.raises(ApiException) as stale:
            leases.replace_namespaced_lease("deploy-lock", namespace, lease)
        assert stale.value.status == 409
        stale_patch = {
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": "run-3"},
        }
        with pytest.raises(ApiException) as stale_p:
            leases.patch_namespaced_lease("deploy-lock", namespace, stale_patch)
        assert stale_p.value.status == 409
        assert leases.read_namespaced_lease("deploy-lock", namespace).spec.holder_identity == "run-2"


class TestWatch:
    def test_watch_with_timeout(self, api: client.ApiClient, namespace: str) -> None:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "before"}, "data": {"k": "v"}})

        def writer() -> None:
            time.sleep(0.3)
            core.create_namespaced_config_map(
                namespace, {"metadata": {"name": "during", "labels": {"x": "1"}}}
            )
            core.patch_namespaced_config_map("during", namespace, {"data": {"k": "v2"}})
            core.delete_namespaced_config_map("during", namespace)

        thread = threading.Thread(target=writer)
        started = time.monotonic()
        thread.start()
        events = [
            (e["type"], e["object"].metadata.name)
            for e in watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=2)
        ]
        thread.join()
        assert 1.5 < time.monotonic() - started < 4
        assert events == [
            ("ADDED", "before"),
            ("ADDED", "during"),
            ("MODIFIED", "during"),
            ("DELETED", "during"),
        ]
        labelled = list(
            watch.Watch().stream(
                core.list_namespaced_config_map, namespace, label_selector="x=1", timeout_seconds=1
            )
        )
        assert labelled == []

    def test_kubernetes_asyncio_read_and_watch(self, kubeconfig: Path) -> None:
        from kubernetes_asyncio import client as aclient
        from kubernetes_asyncio import config as aconfig
        from kubernetes_asyncio import watch as awatch

        async def scenario() -> tuple[str, list[str]]:
            api_client = await aconfig.new_client_from_config(config_file=str(kubeconfig))
            async with api_client:
                apps = aclient.AppsV1Api(api_client)
                blue = await apps.read_namespaced_deployment("novacron-api-blue", NS)
                seen = []
                async with awatch.Watch().stream(
                    apps.list_namespaced_deployment, NS, label_selector="app=novacron-api", timeout_seconds=1
                ) as stream:
                    async for event in stream:
                        seen.append(f"{event['type']}:{event['object'].metadata.name}")
                return blue.spec.template.spec.containers[0].image, seen

        image, seen = asyncio.run(scenario())
        assert image.endswith(":1.4.2")
        assert sorted(seen) == ["ADDED:novacron-api-blue", "ADDED:novacron-api-green"]


class TestControllers:
    def test_pullerror_never_ready(self, api: client.ApiClient, namespace: str) -> None:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment(
            namespace, deployment("bad", "registry.example/web:1.1-pullerror", 2, progressDeadlineSeconds=1)
        )

        def stuck() -> bool:
            pods = core.list_namespaced_pod(namespace).items
            reasons = {
                s.state.waiting.reason
                for p in pods
                for s in p.status.container_statuses or []
                if s.state and s.state.waiting
            }
            return len(pods) == 2 and reasons == {"ImagePullBackOff"}

        wait_for(stuck)
        assert all(p.status.phase == "Pending" for p in core.list_namespaced_pod(namespace).items)

        def deadline() -> bool:
            conds = apps.read_namespaced_deployment("bad", namespace).status.conditions or []
            return any(c.reason == "ProgressDeadlineExceeded" and c.status == "False" for c in conds)

        wait_for(deadline, timeout=6)
        assert not apps.read_namespaced_deployment("bad", namespace).status.ready_replicas
        reasons = {e.reason for e in core.list_namespaced_event(namespace).items}
        assert {"Failed", "ScalingReplicaSet", "SuccessfulCreate"} <= reasons

    def test_bad_rollout_keeps_old_pods(self, api: client.ApiClient, namespace: str) -> None:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0", 4))
        wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 4)
        apps.patch_namespaced_deployment(
            "web",
            namespace,
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "app", "image": "registry.example/web:2.0-crashloop"}]
                        }
                    }
                }
            },
        )
        time.sleep(1.5)
        ready = ready_pods(core, namespace, "app=web")
        assert len(ready) >= 3 and all(p.spec.containers[0].image.endswith(":1.0") for p in ready)
        crashing = [
            p
            for p in core.list_namespaced_pod(namespace).items
            if p.spec.containers[0].image.endswith("crashloop")
        ]
        assert crashing and all(p.status.phase == "Running" for p in crashing)
        assert crashing[0].status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"

    def test_admin_faults_and_kill(self, emulator: str, api: client.ApiClient, namespace: str) -> None:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0", 2))
        wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2)
        post(
            f"{emulator}/_emulator/faults", {"namespace": namespace, "deployment": "web", "mode": "crashloop"}
        )
        wait_for(lambda: not ready_pods(core, namespace, "app=web"))
        wait_for(
            lambda: all(
                p.status.container_statuses[0].restart_count >= 2
                for p in core.list_namespaced_pod(namespace).items
            ),
            timeout=8,
        )
        post(f"{emulator}/_emulator/faults", {"namespace": namespace, "deployment": "web", "mode": "none"})
        wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2)
        before = {p.metadata.name for p in core.list_namespaced_pod(namespace).items}
        killed = post(
            f"{emulator}/_emulator/kill-pods", {"namespace": namespace, "label_selector": "app=web"}
        )
        assert set(killed["killed"]) == before
        wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2)
        assert not before & {p.metadata.name for p in core.list_namespaced_pod(namespace).items}
        assert "Killing" in {e.reason for e in core.list_namespaced_event(namespace).items}

    def test_hpa_clamps_target(self, api: client.ApiClient, namespace: str) -> None:
        apps, hpas = client.AppsV1Api(api), client.AutoscalingV2Api(api)
        apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0", 1))
        hpas.create_namespaced_horizontal_pod_autoscaler(
            namespace,
            {
                "metadata": {"name": "web"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 2,
                    "maxReplicas": 4,
                },
            },
        )
        wait_for(lambda: apps.read_namespaced_deployment("web", namespace).spec.replicas == 2)
        apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 9}})
        wait_for(lambda: apps.read_namespaced_deployment("web", namespace).spec.replicas == 4)
        status = wait_for(
            lambda: hpas.read_namespaced_horizontal_pod_autoscaler_status("web", namespace).status
        )
        assert status.desired_replicas == 4


def test_airflow_kubernetes_hook(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SANDBOX_K8S",
        json.dumps(
            {"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig), "namespace": NS}}
        ),
    )
    hook = KubernetesHook(conn_id="sandbox_k8s")
    blue = hook.get_deployment_status("novacron-api-blue", namespace=NS)
    assert blue.metadata.labels == {"app": "novacron-api", "color": "blue"}
    assert blue.spec.replicas == 3


def test_state_survives_restart(tmp_path: Path) -> None:
    port = free_port()
    proc = start_emulator(tmp_path, port)
    url = f"http://127.0.0.1:{port}/api/v1/namespaces/novacron/configmaps"
    post(url, {"metadata": {"name": "kept"}, "data": {"x": "1"}})
    assert stop(proc) == 0
    assert (tmp_path / "k8s-state.json").exists()
    proc = start_emulator(tmp_path, port)
    try:
        with urllib.request.urlopen(f"{url}/kept", timeout=5) as resp:
            assert json.loads(resp.read())["data"] == {"x": "1"}
    finally:
        assert stop(proc) == 0
    assert os.path.getsize(tmp_path / "k8s-state.json") > 0


def test_rollback_reuses_replicaset(api: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("web", "registry.example/web:1.0", 1))
    wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 1)
    first = apps.list_namespaced_replica_set(namespace).items[0]
    image_patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "x/web:2.0"}]
    apps.patch_namespaced_deployment("web", namespace, image_patch)
    wait_for(lambda: len(apps.list_namespaced_replica_set(namespace).items) == 2)
    # kubectl rollout undo: the old ReplicaSet's template, hash label dropped, nulls included
    template = client.ApiClient().sanitize_for_serialization(first.spec.template)
    template["metadata"]["labels"].pop("pod-template-hash")
    template["metadata"]["creationTimestamp"] = None
    undo = [{"op": "replace", "path": "/spec/template", "value": template}]
    apps.patch_namespaced_deployment("web", namespace, undo)
    revision = "deployment.kubernetes.io/revision"
    read_first = lambda: apps.read_namespaced_replica_set(first.metadata.name, namespace)  # noqa: E731
    wait_for(lambda: read_first().metadata.annotations[revision] == "3")
    images = lambda: [p.spec.containers[0].image for p in core.list_namespaced_pod(namespace).items]  # noqa: E731
    wait_for(lambda: images() == ["registry.example/web:1.0"])
    assert len(apps.list_namespaced_replica_set(namespace).items) == 2
