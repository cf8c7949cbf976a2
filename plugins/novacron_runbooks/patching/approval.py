"""The security patch's approval: the hotfix's second person, with a window the CVE's severity sets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from novacron_runbooks.operators.hitl import SecondPersonApprovalOperator

if TYPE_CHECKING:
    from datetime import timedelta

    from airflow.sdk import Context


class SeverityApprovalOperator(SecondPersonApprovalOperator):
    """Approve / Reject by a second person, waiting as long as ``windows[params.severity]`` (default Reject).

    The window is a run's param, not the DAG's, so it is chosen when the request is written; the longest
    window stands in until then (and bounds a request whose severity is somehow unknown).
    """

    def __init__(self, *, windows: dict[str, timedelta], **kwargs: Any) -> None:
        super().__init__(response_timeout=max(windows.values()), **kwargs)
        self.windows = dict(windows)

    def execute(self, context: Context) -> Any:
        severity = str(context["params"].get("severity", ""))
        self.response_timeout = self.windows.get(severity, max(self.windows.values()))
        self.log.info("severity %s: approval window %s", severity, self.response_timeout)
        return super().execute(context)
