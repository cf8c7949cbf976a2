"""Evidence each runbook step leaves for the run report.

A step wrapped with :func:`runbook_step` gets an :class:`Evidence` record (reachable from anywhere in the step
through :func:`current_evidence`) and pushes it to XCom under :data:`EVIDENCE_KEY` whether the step succeeds,
skips or fails, so the report can show what a failed step measured and changed before it failed.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from airflow.sdk import get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

EVIDENCE_KEY = "novacron_evidence"
_current: contextvars.ContextVar[Evidence | None] = contextvars.ContextVar("novacron_evidence", default=None)

F = TypeVar("F", bound=Callable[..., Any])


def utcnow() -> datetime:
    return datetime.now(tz=UTC)


@dataclass
class Evidence:
    """What one step observed and did."""

    step: str
    started_at: str
    finished_at: str | None = None
    outcome: str = "running"
    error: str | None = None
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    verdict: str | None = None
    """A decision the step took for the run: ``proceed``, ``rollback``, ``freeze``, ``hold``."""
    attachments: list[dict[str, str]] = field(default_factory=list)
    """Files stored beside the report (plots), as ``{"path": "files/<name>", "caption": ...}``."""

    def note(self, text: str) -> None:
        self.notes.append(text)

    def measure(
        self,
        name: str,
        value: Any,
        verdict: str,
        query: str | None = None,
        at: str | None = None,
        **extra: Any,
    ) -> None:
        """Record one measurement (a gate sample, a row count, a health check) with its verdict."""
        when = at or utcnow().isoformat()
        self.measurements.append(
            {"name": name, "value": value, "verdict": verdict, "query": query, "at": when, **extra}
        )

    def change(self, target: str, action: str, applied: bool, **detail: Any) -> None:
        """Record a change to the platform; ``applied=False`` is the dry-run plan of it."""
        self.changes.append({"target": target, "action": action, "applied": applied, **detail})

    def attach(self, name: str, data: bytes, caption: str) -> str:
        """Store ``data`` (a PNG plot, say) beside the run's report and link it from the step's evidence."""
        from novacron_runbooks.dagkit.report.store import write_attachment

        dag_run = get_current_context()["dag_run"]
        path = write_attachment(dag_run.dag_id, dag_run.run_id, f"{self.step}-{name}", data)
        self.attachments.append({"path": path, "caption": caption})
        return path

    def metric(self, name: str, value: float) -> None:
        """Record a figure the report compares with a target (``rto_seconds``, ``rpo_seconds``, ...)."""
        self.metrics[name] = value


def current_evidence() -> Evidence:
    """Return the evidence record of the running step."""
    evidence = _current.get()
    if evidence is None:
        raise RuntimeError("current_evidence() is only available inside a @runbook_step")
    return evidence


def runbook_step(python_callable: F | None = None, **task_kwargs: Any) -> Any:
    """Turn a function into a runbook task that always leaves its evidence, like ``@task``.

    :param task_kwargs: passed to ``@task`` (``task_id``, ``retries``, ``trigger_rule``, ...).
    """

    def decorate(fn: F) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            context = get_current_context()
            ti = context["ti"]
            evidence = Evidence(
                step=ti.task_id,
                started_at=utcnow().isoformat(),
                dry_run=bool(context["params"].get("dry_run", False)),
            )
            token = _current.set(evidence)
            try:
                result = fn(*args, **kwargs)
                evidence.outcome = "success"
                return result
            except AirflowSkipException as exc:
                evidence.outcome = "skipped"
                evidence.error = str(exc)
                raise
            except Exception as exc:
                evidence.outcome = "failed"
                evidence.error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                evidence.finished_at = utcnow().isoformat()
                _current.reset(token)
                ti.xcom_push(key=EVIDENCE_KEY, value=asdict(evidence))

        return task(wrapper, **task_kwargs)

    if python_callable is not None:
        return decorate(python_callable)
    return decorate
