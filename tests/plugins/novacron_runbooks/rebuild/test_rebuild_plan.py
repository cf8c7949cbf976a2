"""The rebuild's decisions without a cluster: the release and colour, what to create, the outage start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.rebuild import manifests
from novacron_runbooks.rebuild.application import target_cluster
from novacron_runbooks.rebuild.children import child_conf, child_run_id, platform_rpo
from novacron_runbooks.rebuild.plan import choose_release, objects_to_create, outage_start
from novacron_runbooks.release.history import Release

OLD, LIVE, OTHER = (f"registry.novacron.io/novacron/api:{tag}" for tag in ("1.4.2", "1.5.0", "1.6.0"))
DB = manifests.DatabaseAddress("10.0.0.5", 6432)


def live(image: str = LIVE, colour: str = "green") -> Release:
    return Release(revision=7, image=image, colour=colour, runbook="deployment", run="ci/7", started_at="")


class TestChooseRelease:
    def choose(self, **kw):
        args = {"override": "", "live": None, "service_colour": None, "running": {}, "kept_image": OLD}
        return choose_release(**{**args, **kw})

    def test_history_wins_over_the_kept_manifests_and_keeps_its_colour(self):
        got = self.choose(live=live(), running={})
        assert (got.image, got.colour, got.revision) == (LIVE, "green", 7)
        assert "revision 7" in got.source

    def test_a_colour_still_running_the_live_release_serves_it_without_a_rollout(self):
        got = self.choose(live=live(colour="blue"), service_colour="blue", running={"green": LIVE})
        assert (got.image, got.colour) == (LIVE, "green")

    def test_the_service_colour_wins_when_nothing_runs_the_live_release(self):
        assert self.choose(live=live(), service_colour="blue").colour == "blue"

    def test_without_history_what_survives_is_newer_than_any_file(self):
        got = self.choose(service_colour="green", running={"blue": OTHER, "green": LIVE})
        assert (got.image, got.colour) == (LIVE, "green")
        assert "novacron-api-green" in got.source

    def test_kept_manifests_are_the_last_resort_and_say_so(self):
        got = self.choose()
        assert (got.image, got.colour, got.source) == (OLD, "blue", "kept manifests")

    def test_the_image_param_overrides_everything(self):
        got = self.choose(override=OTHER, live=live(), running={"blue": OTHER})
        assert (got.image, got.colour, got.source) == (OTHER, "blue", "the image param")


def test_kept_manifests_render_one_serving_colour_and_the_runbooks_database():
    docs = manifests.load_kept(manifests.API_MANIFESTS)
    assert manifests.kept_api_image(docs) == OLD
    rendered = manifests.render_api(docs, namespace="dr", image=LIVE, colour="green", database=DB)
    assert {obj["metadata"]["namespace"] for obj in rendered} == {"dr"}
    green = manifests.find(rendered, "Deployment", "novacron-api-green")
    blue = manifests.find(rendered, "Deployment", "novacron-api-blue")
    images = {c["name"]: c["image"] for c in green["spec"]["template"]["spec"]["containers"]}
    assert images["api"] == LIVE and images["log-shipper"].endswith("log-shipper:0.9.1")
    assert (green["spec"]["replicas"], blue["spec"]["replicas"]) == (3, 0)
    assert manifests.find(rendered, "Service", "novacron-api")["spec"]["selector"]["color"] == "green"
    hpa = manifests.find(rendered, "HorizontalPodAutoscaler", "novacron-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "novacron-api-green"
    config = manifests.find(rendered, "ConfigMap", "novacron-api-config")["data"]
    assert (config["DATABASE_HOST"], config["DATABASE_PORT"]) == ("10.0.0.5", "6432")
    assert docs[1]["metadata"].get("namespace") is None, "rendering must not change the loaded documents"


def test_only_missing_objects_are_created_config_first_service_left_for_the_switch():
    rendered = manifests.render_api(
        manifests.load_kept(manifests.API_MANIFESTS), namespace="n", image=LIVE, colour="blue", database=DB
    )
    present = {("Deployment", "novacron-api-green"), ("ConfigMap", "novacron-api-config")}
    missing = objects_to_create(rendered, present, skip_kinds=("Service",))
    assert [(o["kind"], o["metadata"]["name"]) for o in missing] == [
        ("Deployment", "novacron-api-blue"),
        ("HorizontalPodAutoscaler", "novacron-api"),
    ]
    everything = {(o["kind"], o["metadata"]["name"]) for o in rendered}
    assert objects_to_create(rendered, everything) == []


@pytest.mark.parametrize(
    ("alert", "expected_source"),
    [
        ({}, "run started"),
        ({"alertname": "ApiDown", "starts_at": "2026-11-27T10:00:00Z"}, "alert ApiDown started"),
        ({"alertname": "Skewed", "starts_at": "2026-11-27T12:30:00+00:00"}, "run started"),
    ],
    ids=["by-hand", "alert", "alert-after-the-run"],
)
def test_outage_start_prefers_the_alert_unless_it_is_after_the_run(alert, expected_source):
    run_after = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    started, source = outage_start(alert, run_after)
    assert source == expected_source
    expected = run_after - timedelta(hours=2) if "alert " in expected_source else run_after
    assert started == expected


def test_children_get_the_common_params_and_a_run_id_derived_from_the_parent():
    params = {"reason": "INC-1", "alert": {}, "dry_run": True, "target_cluster": "current"}
    conf = child_conf(params, "dr_complete_recovery/manual__1", switch_traffic=False)
    assert conf == {
        "reason": "INC-1",
        "alert": {},
        "dry_run": True,
        "parent_run": "dr_complete_recovery/manual__1",
        "switch_traffic": False,
    }
    assert child_run_id("manual__1", "dr_service_failure") == "manual__1__services"
    assert child_run_id("manual__1", "dr_database_failure") == "manual__1__database"


def test_the_rebuilds_rpo_is_the_database_childs_and_never_a_guess():
    assert platform_rpo(False, {}) == 0.0, "the primary never went away"
    assert platform_rpo(True, {"rto_seconds": 300.0, "rpo_seconds": 12.5}) == 12.5
    assert platform_rpo(True, {"rto_seconds": 300.0}) is None, "a child without an RPO leaves it unknown"


def test_a_standby_without_its_connection_is_refused_naming_the_field(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NOVACRON_K8S_STANDBY", raising=False)
    with pytest.raises(ParamError, match="'target_cluster': standby needs the Airflow connection"):
        target_cluster("standby")
