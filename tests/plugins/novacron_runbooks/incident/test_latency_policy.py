"""The high-latency remediation policy of RUNBOOKS.md, on hand-made readings."""

from __future__ import annotations

from novacron_runbooks.catalog import default_catalog
from novacron_runbooks.incident.latency import Slowness, choose

RUNBOOK = default_catalog().get("high_latency")


def test_the_database_comes_first_then_cpu_then_people_with_the_slowest_endpoints():
    assert choose(Slowness(query_p95=1.4, max_cpu=0.95), RUNBOOK)[0] == "database_issues"
    assert choose(Slowness(query_p95=0.02, pool_usage=0.97), RUNBOOK)[0] == "database_issues"
    assert choose(Slowness(query_p95=0.02, pool_usage=0.1, max_cpu=0.95), RUNBOOK)[0] == "scale_up"
    remedy, why = choose(
        Slowness(query_p95=0.02, max_cpu=0.1, slowest_endpoints={"/api/v1/vms": 0.8}), RUNBOOK
    )
    assert remedy is None and "/api/v1/vms 800 ms" in why
