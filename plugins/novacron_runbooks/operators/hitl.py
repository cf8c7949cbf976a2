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
