"""The service-down remediation policy of RUNBOOKS.md, on hand-made outages."""

from __future__ import annotations

from novacron_runbooks.incident.outage import Outage, choose

LIVE = {"novacron-api-green": {"image": "api:1.5.0", "replicas": 3, "ready": 0}}
RECENT = [{"revision": 4, "image": "api:1.5.0", "colour": "green", "result": "promoted"}]
CRASHING = [{"name": "novacron-api-green-1", "phase": "Running", "ready": False, "restarts": 4,
             "waiting": ["api: CrashLoopBackOff"]}]  # fmt: skip


def test_a_lost_service_or_deployment_is_rebuilt():
    assert choose(Outage(None, LIVE))[0] == "dr_service_failure"
    assert choose(Outage("green", {}))[0] == "dr_service_failure"
    assert choose(Outage("blue", LIVE))[0] == "dr_service_failure"  # the selected colour's Deployment is gone


def test_a_recent_release_with_stuck_pods_is_rolled_back_otherwise_restarted():
    remedy, why = choose(Outage("green", LIVE, CRASHING, RECENT))
    assert remedy == "rollback" and "CrashLoopBackOff" in why
    assert choose(Outage("green", LIVE, CRASHING, []))[0] == "restart"


def test_ready_pods_that_do_not_answer_go_to_people():
    ready = {"novacron-api-green": {"image": "api:1.5.0", "replicas": 3, "ready": 3}}
    assert choose(Outage("green", ready, [], RECENT))[0] is None
