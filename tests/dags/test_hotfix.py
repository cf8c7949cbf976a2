"""The hotfix runbook: a second person's approval, the rolling update, the short gate, the automatic undo."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from dag_runner import respond_when_asked, run_dag, task_states
from release_state import SEED_IMAGE, history, load_dag, read_state, reset_release_state, resource_versions

from novacron_runbooks.dagkit.report.store import read_report
from novacron_runbooks.operators.hitl import APPROVAL_KEY, SecondPersonApprovalOperator

HOTFIX = "registry.novacron.io/novacron/api:1.4.3"
CONF = {
    "incident_id": "INC-4242",
    "justification": "login fails for every user since 09:00; the fix is one line",
    "gate_seconds": 10,
    "rollout_timeout_seconds": 60,
    "dry_run": False,
}


@pytest.fixture
def seeded(sandbox):
    # their gates judge one release's own requests: no need to wait for the service's error ratio to settle
    reset_release_state(healthy=False)
    yield sandbox
    reset_release_state(healthy=False)


def hotfix(image: str, answer: str | None, **conf):
    answered = respond_when_asked("hotfix", "approve", answer, user="second-sre") if answer else {}
    run = run_dag(load_dag("hotfix"), {**CONF, "image": image, **conf})
    if answer:
        assert answered.get("run_id") == run.run_id, answered
    return run


def report_json(run) -> dict:
    return json.loads(read_report("hotfix", run.run_id, "json"))


@pytest.mark.sandbox
def test_approved_hotfix_is_rolled_out_and_flagged_for_the_postmortem(seeded):
    run = hotfix(HOTFIX, "Approve")
    states = task_states(run)
    assert run.state == "success", states
    state = read_state()
    assert (state.active, state.active_image, state.ready["blue"]) == ("blue", HOTFIX, 3)
    last = history()[-1]
    assert (last.image, last.result, last.runbook) == (HOTFIX, "promoted", "hotfix")
    assert "postmortem: INC-4242" in last.notes
    report = report_json(run)
    assert report["approvals"][0]["by"] == "second-sre"
    assert "flagged for the postmortem of INC-4242" in read_report("hotfix", run.run_id, "markdown")


@pytest.mark.sandbox
def test_rejected_hotfix_changes_nothing(seeded):
    before = resource_versions()
    run = hotfix(HOTFIX, "Reject")
    states = task_states(run)
    assert states["rejected"] == "success"
    assert states["roll_out_hotfix"] == "skipped"
    assert resource_versions() == before
    assert report_json(run)["outcome"] == "rejected"
    assert run.state == "failed"  # a CI caller must not read a rejected hotfix as deployed


@pytest.mark.sandbox
def test_hotfix_failing_its_gate_is_undone(seeded):
    image = "registry.novacron.io/novacron/api:1.4.3-bad"
    run = hotfix(image, "Approve")
    states = task_states(run)
    assert states["roll_back_hotfix"] == "success", states
    state = read_state()
    assert (state.active_image, state.ready["blue"]) == (SEED_IMAGE, 3)
    assert history()[-1].result == "rolled-back"
    assert report_json(run)["outcome"] == "rolled-back"


@pytest.mark.sandbox
def test_hotfix_whose_pods_never_start_is_undone_at_once(seeded):
    image = "registry.novacron.io/novacron/api:1.4.3-crashloop"
    run = hotfix(image, "Approve")
    states = task_states(run)
    assert states["wait_hotfix_ready"] == "failed"
    assert states["undo_failed_rollout"] == "success"
    state = read_state()
    assert (state.active_image, state.ready["blue"]) == (SEED_IMAGE, 3)
    assert history()[-1].result == "failed"


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.mark.parametrize(
    ("requester", "responder", "expected"),
    [("alice", "alice", "Reject"), ("alice", "bob", "Approve"), (None, "bob", "Approve")],
)
def test_the_requester_cannot_approve_their_own_hotfix(monkeypatch, requester, responder, expected):
    operator = SecondPersonApprovalOperator(task_id="approve", subject="s", on_approve="go", on_reject="stop")
    taken: list[list[str]] = []
    monkeypatch.setattr(
        operator, "do_branch", lambda context, branches_to_execute: taken.append(branches_to_execute)
    )
    ti = _TI()
    context = {"dag_run": SimpleNamespace(triggering_user_name=requester), "ti": ti}
    event = {
        "chosen_options": ["Approve"],
        "params_input": {},
        "responded_at": __import__("datetime").datetime(2026, 11, 27),
        "responded_by_user": {"id": responder, "name": responder},
    }
    operator.execute_complete(context, event)
    assert ti.pushed[APPROVAL_KEY]["chosen_options"] == [expected]
    assert taken == [["go" if expected == "Approve" else "stop"]]
    if expected == "Reject":
        assert "cannot approve" in ti.pushed[APPROVAL_KEY]["refused"]
