"""Emergency rollback: traffic back on the last good release, verified, timed against the 5-minute budget.

::

    find_release >> restore_traffic >> gate_recovered >> record_rollback

``find_release`` reads the deployment history kept in the cluster (so it works after an Airflow database
loss). When the target release still runs on the idle colour (the deployment runbook keeps the old colour up
for a while after a switch) the rollback is a selector switch; otherwise its image is rolled out on the idle
colour first. The time to recover is measured from the trigger to the gate's green verdict and reported
against the index's 5-minute budget.

Started by a person, by CI (``ci/trigger_runbook.py``), or by an incident runbook that holds the deploy lock
(its ``parent_run`` param hands the lock over).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowSkipException

from novacron_runbooks.catalog import catalog_runbook
from novacron_runbooks.dagkit.evidence import current_evidence, runbook_step
from novacron_runbooks.dagkit.factory import runbook_dag
from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.release import actions
from novacron_runbooks.release.cluster import ReleaseCluster, colour_deployment, other_colour
from novacron_runbooks.release.gates import image_version, release_error_gate, release_gate_values
from novacron_runbooks.release.history import Release, ReleaseHistory
from novacron_runbooks.sensors.prometheus import PrometheusGateSensor

RUNBOOK = catalog_runbook("rollback")
ERROR_CEILING = RUNBOOK.threshold("error_rate").value
GATE_WINDOW_SECONDS = 15
RECOVERED = release_error_gate(
    "recovered",
    ERROR_CEILING,
    count=2,
    interval_seconds=4,
)
"""Two measurements of the restored release's own error ratio; it has no old traffic to wait out."""
PLAN = "{{ ti.xcom_pull(task_ids='find_release')['%s'] }}"


def choose_target(history: ReleaseHistory, wanted: str) -> tuple[str, Release | None]:
    """Resolve ``target_revision`` to an image (and its history record); refuse what the history lacks."""
    if wanted == "previous":
        found = history.previous_good()
        if found is None:
            raise ParamError(
                "target_revision",
                "the deployment history has no earlier good release to go back to; "
                "give a revision number or an image",
            )
        return found.image, found
    if wanted.isdigit():
        record = history.get(int(wanted))
        if record is None:
            known = ", ".join(str(r.revision) for r in history.records()[-10:]) or "none"
            raise ParamError("target_revision", f"revision {wanted} is not in the history (latest: {known})")
        if record.result in ("failed", "aborted", "rolled-back"):
            raise ParamError(
                "target_revision",
                f"revision {wanted} ({record.image}) ended {record.result}: not a good release",
            )
        return record.image, record
    return wanted, None


with runbook_dag(RUNBOOK.name, max_active_runs=1) as rb:

    @runbook_step(retries=1)
    def find_release(params: dict[str, Any]) -> dict[str, Any]:
        """Find the release to restore and where it still runs; refuse an unknown target before changing."""
        evidence = current_evidence()
        cluster = ReleaseCluster()
        history = ReleaseHistory(cluster)
        active = cluster.active_colour()
        idle = other_colour(active)
        live = cluster.require(colour_deployment(active))
        image, record = choose_target(history, params["target_revision"])
        if image == live.image:
            raise AirflowSkipException(f"{image} already serves traffic on {active}; nothing to roll back")
        standby = cluster.require(colour_deployment(idle))
        instant = standby.image == image and standby.ready > 0
        live_record = history.live()
        plan = {
            "active": active,
            "idle": idle,
            "bad_image": live.image,
            "bad_revision": live_record.revision if live_record and live_record.image == live.image else None,
            "image": image,
            "revision": record.revision if record else None,
            "replicas": max(live.replicas, 1),
            "instant": instant,
            # a dry run switches nothing: its gate measures the release serving now
            "version": image_version(live.image if params["dry_run"] else image),
            "gate_delay_seconds": actions.verdict_delay_seconds(),
        }
        how = "switch back (still running)" if instant else "redeploy its image first"
        evidence.note(f"restore {image} on {idle} ({how}); {live.image} on {active} is replaced")
        return plan

    @runbook_step
    def restore_traffic(plan: dict[str, Any], params: dict[str, Any]) -> str:
        """Bring the target release up on the idle colour if needed, then switch the Service to it."""
        dry_run = bool(params["dry_run"])
        cluster = ReleaseCluster()
        standby = colour_deployment(plan["idle"])
        actions.roll_out(
            cluster,
            standby,
            plan["image"],
            plan["replicas"],
            cause=f"rollback by {actions.run_holder(get_current_context())}",
            revision=plan["revision"],
            dry_run=dry_run,
        )
        actions.wait_ready(cluster, standby, timeout=240, dry_run=dry_run)
        actions.switch_traffic(cluster, plan["idle"], dry_run)
        return datetime.now(tz=UTC).isoformat()

    @runbook_step
    def record_rollback(plan: dict[str, Any], params: dict[str, Any]) -> None:
        """Write the rollback to the history, scale the bad release to zero, report the time to recover."""
        context = get_current_context()
        evidence = current_evidence()
        recovered_at = datetime.now(tz=UTC)
        triggered_at = context["dag_run"].run_after
        seconds = (recovered_at - triggered_at).total_seconds()
        if params["dry_run"]:
            evidence.note(f"dry run: would record the rollback; this plan took {seconds:.1f} s")
            evidence.change("deployment history", f"record {plan['image']} restored", applied=False)
            return
        evidence.metric("time_to_recover_seconds", round(seconds, 2))
        cluster = ReleaseCluster()
        history = ReleaseHistory(cluster)
        if plan["bad_revision"] is not None:
            history.finish(plan["bad_revision"], "rolled-back", note=f"by {actions.run_holder(context)}")
        holder = actions.run_holder(context)
        history.record_for_run(
            holder,
            RUNBOOK.name,
            image=plan["image"],
            colour=plan["idle"],
            result="restored",
            reason=params.get("reason") or "",
            replaced=plan["bad_revision"],
        )
        evidence.change("deployment history", f"{plan['image']} restored on {plan['idle']}", applied=True)
        actions.roll_out(
            cluster,
            colour_deployment(plan["active"]),
            plan["bad_image"],
            0,
            cause=f"rolled back by {holder}",
            revision=None,
            dry_run=False,
        )

    plan = find_release()
    switched = restore_traffic(plan)
    gate = PrometheusGateSensor(
        task_id="gate_recovered",
        gate=RECOVERED,
        values=release_gate_values(PLAN % "version", GATE_WINDOW_SECONDS),
        overrides={"initial_delay_seconds": PLAN % "gate_delay_seconds"},
        notify_channel=RUNBOOK.owner.slack_channel,
        retries=0,
    )
    switched >> gate >> record_rollback(plan)
