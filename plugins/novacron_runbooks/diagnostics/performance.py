"""The rules that turn the performance panels' newest values into findings and a next runbook."""

from __future__ import annotations

from novacron_runbooks.diagnostics.findings import Finding


def panel_findings(
    latest: dict[str, dict[str, float | None]], cpu: float, latency: float, pool: float
) -> list[Finding]:
    """Judge the newest value of each panel's series against the thresholds (``None``: no data).

    Where the time goes decides the next runbook: a request p95 over the threshold with the database
    taking half of it or more is a database problem, otherwise the application's.
    """
    found: list[Finding] = []
    for name, values in latest.items():
        known = {label: v for label, v in values.items() if v is not None}
        if not known:
            found.append(
                Finding("warning", f"{name}: no data", "Prometheus returned no samples in the window")
            )
    for pod, cores in latest.get("cpu", {}).items():
        if cores is not None and cores > cpu:
            found.append(
                Finding("critical", f"{pod} CPU {cores:.2f} cores", f"over {cpu:g} of its limit", "scale_up")
            )
    split = latest.get("latency", {})
    request, database = split.get("request p95"), split.get("database p95")
    if request is not None and request > latency:
        db_share = (database or 0.0) / request if request else 0.0
        runbook = "database_issues" if db_share >= 0.5 else "debug_api"
        found.append(
            Finding(
                "critical",
                f"request p95 {request * 1000:.0f} ms",
                f"over {latency * 1000:.0f} ms; the database accounts for {db_share:.0%} of it",
                runbook,
            )
        )
    in_use = latest.get("pool", {}).get("pool")
    if in_use is not None and in_use > pool:
        found.append(
            Finding("critical", f"database pool {in_use:.0%} in use", f"over {pool:.0%}", "database_issues")
        )
    return found
