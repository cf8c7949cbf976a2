"""Pure parts of the DR drill: the readiness score, the loss count, the targets read from the catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from novacron_runbooks.drill import scenarios
from novacron_runbooks.drill.child import verified_at
from novacron_runbooks.drill.readiness import DrillResult, freshness, margin, readiness
from novacron_runbooks.drill.writer import measure_loss

T0 = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


def result(rto: float = 600, rpo: float = 0, passed: bool = True) -> DrillResult:
    return DrillResult(passed, rto, 3600, rpo, 900)


class TestReadiness:
    def test_margin_and_freshness_shape_the_score(self):
        assert readiness(result(rto=0), 0) == 100.0
        assert readiness(result(rto=1800), 0) == 75.0  # half the RTO spent: 0.5 + 0.5 * 0.5
        assert readiness(result(rto=3600), 0) == 50.0  # exactly on target still passes
        assert readiness(result(rto=600, rpo=450), 0) == 75.0  # judged on the weaker objective (RPO)
        assert readiness(result(rto=1800), 31) == 75.0
        assert readiness(result(rto=1800), 46.5) == 37.5  # halfway through the second month
        assert readiness(result(rto=1800), 62) == 0.0

    def test_a_failed_or_missed_or_missing_drill_scores_zero(self):
        assert readiness(result(passed=False, rto=1), 0) == 0.0
        assert readiness(result(rto=3601), 0) == 0.0
        assert readiness(result(rpo=901), 0) == 0.0
        assert readiness(None, 0) == 0.0
        zero_target = DrillResult(True, 60, 900, 0.05, 0)  # a stateless or point-in-time RPO of 0
        assert readiness(zero_target, 0) == 0.0
        assert margin(0, 0) == 1.0

    def test_impossible_inputs_are_refused(self):
        with pytest.raises(ValueError, match="negative"):
            margin(-1, 10)
        with pytest.raises(ValueError, match="future"):
            freshness(-0.5)


class TestLoss:
    def acks(self, n: int) -> list[tuple[int, datetime]]:
        return [(seq, T0 + timedelta(milliseconds=50 * seq)) for seq in range(1, n + 1)]

    def test_nothing_lost(self):
        acks = self.acks(10)
        loss = measure_loss(acks, dict(acks))
        assert (loss.acknowledged, loss.lost, loss.lost_seconds, loss.first_lost_seq) == (10, 0, 0.0, None)

    def test_lost_tail_counts_from_the_newest_surviving_commit(self):
        acks = self.acks(100)
        kept = dict(acks[:80])  # rows 81-100 (the last second of acknowledged writes) are gone
        loss = measure_loss(acks, kept)
        assert (loss.lost, loss.first_lost_seq) == (20, 81)
        assert loss.lost_seconds == pytest.approx(1.0)  # row 80 at 4.0 s to row 100 at 5.0 s

    def test_a_hole_in_the_middle_is_lost_too(self):
        acks = self.acks(10)
        kept = {seq: at for seq, at in acks if seq != 5}
        loss = measure_loss(acks, kept)
        assert (loss.lost, loss.first_lost_seq, loss.lost_seconds) == (1, 5, pytest.approx(0.05))


def test_targets_come_from_the_dr_runbooks_catalog_entries():
    assert scenarios.targets("database_failure") == scenarios.Targets(3600.0, 900.0)
    assert scenarios.targets("service_failure") == scenarios.Targets(900.0, 0.0)
    assert scenarios.targets("data_corruption") == scenarios.Targets(10800.0, 0.0)  # point in time: 0 lost


def test_verified_end_is_the_step_that_declared_the_rto():
    def step(task_id: str, minute: int, metrics: dict | None = None) -> dict:
        end = (T0 + timedelta(minutes=minute)).isoformat()
        return {"task_id": task_id, "evidence": {"finished_at": end, "metrics": metrics or {}}}

    steps = [step("recover", 1), step("verify", 2, {"rto_seconds": 120.0}), step("rebuild_replica", 9)]
    steps.append(step("run_report", 10))
    assert verified_at(steps) == T0 + timedelta(minutes=2)
    undeclared = [step("recreate", 3), step("gate_serving", 4), step("release_lock", 5)]
    assert verified_at(undeclared) == T0 + timedelta(minutes=4)
    assert verified_at([{"task_id": "recover", "evidence": None}]) is None
