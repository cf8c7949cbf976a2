"""Run locks as Kubernetes ``coordination.k8s.io/v1`` Leases.

Why a Lease and not an Airflow pool: a pool slot is held by one task, but a deployment mutates its target
across many tasks; and the lock must be visible to people and tools outside Airflow (``kubectl get lease``)
and survive the loss of Airflow's database. A Lease gives an atomic create (409 when taken) and optimistic
concurrency on takeover (409 on a stale ``resourceVersion``), the same primitive Kubernetes controllers use
for leader election.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes.client import CoordinationV1Api

LEASE_PREFIX = "novacron-lock-"
MANAGED_BY = "novacron-runbooks"


@dataclass(frozen=True)
class LeaseState:
    """Who holds a lock, and until when."""

    holder: str
    renewed_at: datetime
    duration: timedelta
    resource_version: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.renewed_at + self.duration <= now


def lease_name(target: str) -> str:
    return f"{LEASE_PREFIX}{target}"


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _state(lease: Any) -> LeaseState | None:
    spec = lease.spec
    if spec is None or not spec.holder_identity:
        return None
    renewed = spec.renew_time or spec.acquire_time or datetime.now(tz=UTC)
    if renewed.tzinfo is None:
        renewed = renewed.replace(tzinfo=UTC)
    return LeaseState(
        holder=spec.holder_identity,
        renewed_at=renewed,
        duration=timedelta(seconds=spec.lease_duration_seconds or 0),
        resource_version=lease.metadata.resource_version,
    )


class LeaseLock:
    """Acquire, inspect and release a named lock in one namespace.

    :param api: a ``CoordinationV1Api`` (from ``KubernetesHook.api_client``).
    :param namespace: where the Lease objects live.
    """

    def __init__(self, api: CoordinationV1Api, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    def _body(
        self, target: str, holder: str, duration: timedelta, now: datetime, rv: str | None
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": lease_name(target),
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, "novacron.io/lock-target": target},
        }
        if rv is not None:
            metadata["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": int(duration.total_seconds()),
                "acquireTime": _micro_time(now),
                "renewTime": _micro_time(now),
            },
        }

    def inspect(self, target: str) -> LeaseState | None:
        from kubernetes.client.exceptions import ApiException

        try:
            lease = self.api.read_namespaced_lease(lease_name(target), self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return _state(lease)

    def try_acquire(
        self,
        target: str,
        holder: str,
        duration: timedelta,
        *,
        stale: bool = False,
        now: datetime | None = None,
    ) -> LeaseState:
        """Take the lock if it is free, expired, already ours, or declared ``stale`` by the caller.

        Returns the state after the attempt: its ``holder`` equals ``holder`` when the lock is ours.
        """
        from kubernetes.client.exceptions import ApiException

        now = now or datetime.now(tz=UTC)
        try:
            self.api.create_namespaced_lease(self.namespace, self._body(target, holder, duration, now, None))
            return LeaseState(holder, now, duration)
        except ApiException as exc:
            if exc.status != 409:
                raise
        current = self.inspect(target)
        if current is None:  # released between our create and read: try once more from the top
            return self.try_acquire(target, holder, duration, stale=stale, now=now)
        if current.holder != holder and not current.expired(now) and not stale:
            return current
        try:
            self.api.replace_namespaced_lease(
                lease_name(target),
                self.namespace,
                self._body(target, holder, duration, now, current.resource_version),
            )
        except ApiException as exc:
            if exc.status == 409:  # someone else won the takeover race
                return self.inspect(target) or current
            raise
        return LeaseState(holder, now, duration)

    def release(self, target: str, holder: str) -> bool:
        """Delete the lock if ``holder`` holds it; return whether it was released by this call."""
        from kubernetes.client.exceptions import ApiException

        current = self.inspect(target)
        if current is None or current.holder != holder:
            return False
        try:
            self.api.delete_namespaced_lease(
                lease_name(target),
                self.namespace,
                body={"preconditions": {"resourceVersion": current.resource_version}},
            )
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True
