"""The run lock as a Kubernetes Lease, against the sandbox's Kubernetes API emulator."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from novacron_runbooks.hooks.kubernetes import coordination_api, namespace
from novacron_runbooks.hooks.lease import LeaseLock, lease_name

pytestmark = pytest.mark.sandbox
HOUR = timedelta(hours=1)


@pytest.fixture
def lock(sandbox) -> LeaseLock:
    return LeaseLock(coordination_api(), namespace())


@pytest.fixture
def target() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


class TestLeaseLock:
    def test_first_caller_gets_the_lock_and_a_second_is_refused(self, lock, target):
        assert lock.try_acquire(target, "deployment/run-1", HOUR).holder == "deployment/run-1"
        state = lock.try_acquire(target, "hotfix/run-2", HOUR)
        assert state.holder == "deployment/run-1"
        lease = coordination_api().read_namespaced_lease(lease_name(target), namespace())
        assert lease.spec.holder_identity == "deployment/run-1"
        assert lease.spec.lease_duration_seconds == 3600

    def test_reacquire_by_the_holder_is_idempotent(self, lock, target):
        lock.try_acquire(target, "rollback/run-1", HOUR)
        assert lock.try_acquire(target, "rollback/run-1", HOUR).holder == "rollback/run-1"

    def test_expired_lock_is_taken_over(self, lock, target):
        long_ago = datetime.now(tz=UTC) - timedelta(hours=3)
        lock.try_acquire(target, "canary/crashed", HOUR, now=long_ago)
        assert lock.try_acquire(target, "rollback/run-9", HOUR).holder == "rollback/run-9"

    def test_stale_holder_is_taken_over_when_the_caller_says_so(self, lock, target):
        lock.try_acquire(target, "canary/finished", HOUR)
        assert lock.try_acquire(target, "rollback/run-9", HOUR).holder == "canary/finished"
        assert lock.try_acquire(target, "rollback/run-9", HOUR, stale=True).holder == "rollback/run-9"

    def test_only_the_holder_releases(self, lock, target):
        lock.try_acquire(target, "scale_up/run-1", HOUR)
        assert lock.release(target, "scale_down/run-2") is False
        assert lock.inspect(target).holder == "scale_up/run-1"
        assert lock.release(target, "scale_up/run-1") is True
        assert lock.inspect(target) is None
        assert lock.release(target, "scale_up/run-1") is False

    def test_concurrent_callers_get_exactly_one_winner(self, lock, target):
        winners: list[str] = []
        barrier = threading.Barrier(6)

        def contend(holder: str) -> None:
            barrier.wait()
            if lock.try_acquire(target, holder, HOUR).holder == holder:
                winners.append(holder)

        threads = [threading.Thread(target=contend, args=(f"runbook/run-{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(winners) == 1
        assert lock.inspect(target).holder == winners[0]
