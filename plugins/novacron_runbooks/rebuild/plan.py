"""Decisions of a rebuild, kept pure: which release to bring back, on which colour, since when it is down.

Where the last good release comes from, in order (the first that answers wins, and the plan says which):

1. the ``image`` param: a person who knows better, e.g. from the last deployment's run report;
2. the deployment history ConfigMap ``novacron-api-releases`` (its newest good release), when it survived;
3. what a surviving colour still runs with ready pods (the objects that are left are newer than any file);
4. the kept manifests' image: the release ``include/k8s/novacron-api.yaml`` was last reviewed with. This can
   be older than what ran; the run reports of deployment, rollback and hotfix (report store,
   ``runbook_reports/<dag>/<run>``) name every image they released, and the plan tells the person to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from novacron_runbooks.release.cluster import COLOURS, colour_deployment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from novacron_runbooks.release.history import Release

KEPT_FALLBACK_NOTE = (
    "the deployment history and every colour are gone: using the kept manifests' image, which may be older "
    "than the last release; check the newest deployment/rollback run report and rerun with the `image` "
    "param if it differs"
)


@dataclass(frozen=True)
class LastGood:
    """The release a recovery brings back and where it will serve."""

    image: str
    colour: str
    source: str
    revision: int | None = None


def choose_release(
    *,
    override: str,
    live: Release | None,
    service_colour: str | None,
    running: Mapping[str, str],
    kept_image: str,
) -> LastGood:
    """Pick the release and colour to recover (see the module docstring for the order).

    :param live: the history's newest good release, None when the history is empty or gone.
    :param service_colour: the colour the Service selects, None when the Service is gone.
    :param running: colour -> image of the colours that still have ready pods.
    """
    known = service_colour if service_colour in COLOURS else None
    default_colour = known or (live.colour if live and live.colour in COLOURS else None) or "blue"
    if override:
        serving = next((c for c, image in sorted(running.items()) if image == override), default_colour)
        return LastGood(override, serving, "the image param")
    if live is not None:
        # a colour that still runs the live release serves it at once, without a rollout
        serving = next((c for c, image in sorted(running.items()) if image == live.image), default_colour)
        return LastGood(live.image, serving, f"deployment history, revision {live.revision}", live.revision)
    if running:
        colour = known if known is not None and known in running else sorted(running)[0]
        return LastGood(running[colour], colour, f"what {colour_deployment(colour)} still runs")
    return LastGood(kept_image, default_colour, "kept manifests")


def objects_to_create(
    rendered: list[dict[str, Any]], present: set[tuple[str, str]], *, skip_kinds: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Return the rendered objects that are missing, config first (the pods read it), the Service last."""
    order = {"ConfigMap": 0, "Deployment": 1, "HorizontalPodAutoscaler": 2, "Service": 3}
    missing = [
        obj
        for obj in rendered
        if (obj["kind"], obj["metadata"]["name"]) not in present and obj["kind"] not in skip_kinds
    ]
    return sorted(missing, key=lambda obj: order.get(obj["kind"], 9))


def outage_start(alert: Mapping[str, Any], run_after: datetime) -> tuple[datetime, str]:
    """When the outage began, for the RTO: the alert's ``starts_at`` when the run carries one, else the run.

    An alert time after the run's own start (clock skew between Alertmanager and Airflow) is not believed.
    """
    raw = str(alert.get("starts_at") or "")
    if raw:
        started = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        if started <= run_after:
            return started, f"alert {alert.get('alertname') or ''} started".replace("  ", " ")
    return run_after, "run started"
