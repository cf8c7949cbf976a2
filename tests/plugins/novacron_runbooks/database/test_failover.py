"""The failover's decisions on their own: proof of loss, promote or restore, WAL positions, RPO bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from novacron_runbooks.database.failover import (
    LossSignals,
    ReplicaState,
    decide,
    last_transaction_in_log,
    newest_archived_end,
    parse_lsn,
    rpo_estimate_seconds,
    segment_end,
    unproven_loss,
)
from novacron_runbooks.database.salvage import salvageable
from novacron_runbooks.database.topology import outage_began

SEGMENT = 16 * 1024 * 1024
LOST = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class TestPositions:
    def test_lsn_and_segment_end_agree(self):
        assert parse_lsn("0/3000000") == 3 * SEGMENT
        assert segment_end("000000010000000000000002") == 3 * SEGMENT
        # segment numbers carry into the high word after 256 segments of 16 MiB
        assert segment_end("000000020000000100000000") == parse_lsn("1/1000000")

    def test_newest_archive_end_takes_the_highest_segment(self):
        info = {"archive": [{"max": "000000010000000000000005"}, {"max": "000000020000000000000007"}]}
        assert newest_archived_end(info) == 8 * SEGMENT
        assert newest_archived_end({"archive": []}) is None

    def test_bad_segment_name_is_refused(self):
        with pytest.raises(ValueError, match="not a WAL segment"):
            segment_end("00000001;rm -rf")


class TestLossProof:
    def test_all_signals_down_prove_the_loss(self):
        assert unproven_loss(LossSignals(False, 0.0, None, host="stopped")) == []
        assert unproven_loss(LossSignals(False, None, None, host="stopped")) == []

    @pytest.mark.parametrize(
        ("signals", "doubt"),
        [
            (LossSignals(True, 0.0, None, host="stopped"), "answers"),
            (LossSignals(False, 1.0, None, host="stopped"), "still sees it up"),
            (LossSignals(False, None, "timeout", host="stopped"), "cannot be asked"),
            (LossSignals(False, 0.0, None, ["pg-b"], host="stopped"), "still stream"),
            (LossSignals(False, 0.0, None, host="running"), "postmaster still runs"),
            (LossSignals(False, 0.0, None, host="pg-a: SSH to 127.0.0.1:22 failed"), "cannot say"),
            (LossSignals(False, 0.0, None), "cannot say"),
        ],
        ids=[
            "connects",
            "pg_up-1",
            "prometheus-down",
            "replica-streams",
            "host-running",
            "host-unreachable",
            "host-not-asked",
        ],
    )
    def test_any_doubt_refuses(self, signals, doubt):
        assert any(doubt in reason for reason in unproven_loss(signals))


class TestDecision:
    def test_in_sync_replica_is_promoted(self):
        state = ReplicaState(
            "pg-b",
            receive_lsn=parse_lsn("0/5000100"),
            replay_lsn=parse_lsn("0/5000100"),
            last_replayed_at=LOST - timedelta(seconds=1),
        )
        decision = decide(state, archived_end=5 * SEGMENT, rpo_estimate=1.0, rpo_limit=900)
        assert decision.path == "promote" and decision.missing_bytes == 0

    def test_replica_behind_the_archive_is_not_promoted(self):
        state = ReplicaState(
            "pg-b",
            receive_lsn=parse_lsn("0/3000100"),
            replay_lsn=parse_lsn("0/3000100"),
            last_replayed_at=LOST - timedelta(hours=1),
        )
        decision = decide(state, archived_end=6 * SEGMENT, rpo_estimate=3600, rpo_limit=900)
        assert decision.path == "restore"
        assert decision.missing_bytes == 6 * SEGMENT - parse_lsn("0/3000100")

    def test_unreplayed_streamed_wal_means_restore(self):
        state = ReplicaState(
            "pg-b",
            receive_lsn=parse_lsn("0/5000200"),
            replay_lsn=parse_lsn("0/5000100"),
            last_replayed_at=None,
        )
        assert decide(state, archived_end=None, rpo_estimate=None, rpo_limit=900).path == "restore"

    def test_no_replica_means_restore(self):
        assert decide(None, archived_end=None, rpo_estimate=None, rpo_limit=900).path == "restore"

    def test_quiet_primary_still_promotes_a_complete_replica(self):
        state = ReplicaState(
            "pg-b",
            receive_lsn=parse_lsn("0/5000100"),
            replay_lsn=parse_lsn("0/5000100"),
            last_replayed_at=LOST - timedelta(hours=2),
        )
        decision = decide(state, archived_end=5 * SEGMENT, rpo_estimate=7200, rpo_limit=900)
        assert decision.path == "promote" and "cannot recover more" in decision.reasons[0]


def test_rpo_estimate_is_a_bound_never_negative():
    assert rpo_estimate_seconds(LOST, LOST - timedelta(seconds=3)) == 3.0
    assert rpo_estimate_seconds(LOST, LOST + timedelta(seconds=3)) == 0.0
    assert rpo_estimate_seconds(LOST, None) is None


def test_last_transaction_read_from_the_recovery_log():
    log = (
        "2026-11-27 12:00:01.5 UTC [9] LOG:  redo done at 0/5000100\n"
        "2026-11-27 12:00:01.5 UTC [9] LOG:  last completed transaction was at log time "
        "2026-11-27 11:59:58.123+00\n"
    )
    assert last_transaction_in_log(log) == "2026-11-27 11:59:58.123+00"
    assert last_transaction_in_log("nothing here") is None


class TestOutageStart:
    def test_the_alert_start_wins(self):
        run = SimpleNamespace(start_date=LOST + timedelta(minutes=2))
        assert outage_began({"starts_at": "2026-11-27T12:00:00Z"}, run) == LOST

    def test_without_an_alert_the_run_start(self):
        run = SimpleNamespace(start_date=LOST + timedelta(minutes=2))
        assert outage_began({}, run) == LOST + timedelta(minutes=2)


def test_salvage_takes_the_newest_timeline_from_the_replica_position():
    names = [
        "000000010000000000000004",
        "000000010000000000000005",
        "000000010000000000000006",
        "000000010000000000000003",
        "00000001000000000000000A.partial",
        "archive_status",
    ]
    assert salvageable(names, from_segment=5, segment_bytes=SEGMENT) == [
        "000000010000000000000005",
        "000000010000000000000006",
    ]
    assert salvageable([*names, "000000020000000000000005"], 5, SEGMENT) == ["000000020000000000000005"]
