"""Human decisions that leave a record for the run report.

The provider's ``HITLBranchOperator`` returns only the branch it took, so who chose what, and when, would be
lost to the report; this subclass keeps the response as an XCom the report reads (:data:`APPROVAL_KEY`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator, HITLOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

APPROVAL_KEY = "novacron_approval"


def approval_record(response: Any) -> dict[str, Any]:
    """Keep the JSON-friendly part of a HITL response: options, who and when."""
    return {
        "chosen_options": list(response["chosen_options"]),
        "responded_by_user": response.get("responded_by_user"),
        "responded_at": str(response.get("responded_at")),
    }


class RecordedHITLBranchOperator(HITLBranchOperator):
    """``HITLBranchOperator`` that also records the response (options, person, time) for the run report."""

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        response = HITLOperator.execute_complete(self, context=context, event=event)
        context["ti"].xcom_push(key=APPROVAL_KEY, value=approval_record(response))
        branches = [self.options_mapping.get(option, option) for option in response["chosen_options"]]
        self.hitl_summary_extra["branches_to_execute"] = branches
        return self.do_branch(context=context, branches_to_execute=branches)


class SecondPersonApprovalOperator(RecordedHITLBranchOperator):
    """Approve / Reject where the person who triggered the run cannot approve it (four-eyes rule).

    HITL's ``assigned_users`` can name who may answer but not "anyone but the requester", so the rule is
    applied to the answer: an approval by the requester counts as the safe default, Reject, and says why.
    """

    APPROVE, REJECT = "Approve", "Reject"

    def __init__(self, *, on_approve: str, on_reject: str, **kwargs: Any) -> None:
        super().__init__(
            options=[self.APPROVE, self.REJECT],
            defaults=[self.REJECT],
            options_mapping={self.APPROVE: on_approve, self.REJECT: on_reject},
            **kwargs,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        response = HITLOperator.execute_complete(self, context=context, event=event)
        record = approval_record(response)
        requester = getattr(context["dag_run"], "triggering_user_name", None)
        user = record.get("responded_by_user") or {}
        responder = user.get("name") or user.get("id")
        if self.APPROVE in record["chosen_options"] and requester and responder == requester:
            record["chosen_options"] = [self.REJECT]
            record["refused"] = f"{responder} triggered this run and cannot approve it: a second person must"
            self.log.warning("%s", record["refused"])
        context["ti"].xcom_push(key=APPROVAL_KEY, value=record)
        branches = [self.options_mapping[option] for option in record["chosen_options"]]
        self.hitl_summary_extra["branches_to_execute"] = branches
        return self.do_branch(context=context, branches_to_execute=branches)
