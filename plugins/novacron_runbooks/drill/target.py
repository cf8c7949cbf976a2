"""The drill's safety catch: it runs only where the environment says it is a drill target.

The sandbox (and any staging copy meant for drills) writes the connection ``novacron_drill`` with the extra
``drill_allowed: true``. Production has no such connection, so a drill started there, by hand or by the
schedule, fails here before the writer starts or any fault is injected.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from novacron_runbooks import connections
from novacron_runbooks.dagkit.params import ParamError

LATE_START = timedelta(hours=1)
"""A scheduled run this late is the catch-up run Airflow starts when the DAG is unpaused (catchup off runs
the latest past date at once): breaking an environment unannounced at unpause time is not an exercise."""


def require_drill_target(conn_id: str = connections.DRILL) -> dict[str, Any]:
    """Return the drill connection's extras; fail unless they carry ``drill_allowed: true`` exactly."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and the secrets backends' own errors
        raise AirflowFailException(
            f"refusing to drill: no connection {conn_id!r} marks this environment as a drill target ({exc})"
        ) from None
    extra = conn.extra_dejson
    if extra.get("drill_allowed") is not True:
        raise AirflowFailException(
            f"refusing to drill: connection {conn_id!r} does not carry drill_allowed: true "
            f"(found {extra.get('drill_allowed')!r})"
        )
    return dict(extra)


def late_scheduled_run(dag_run: Any) -> bool:
    """Tell a scheduled run starting long after its date: the DAG was just unpaused and Airflow caught up."""
    run_type = str(getattr(dag_run.run_type, "value", dag_run.run_type))
    due = getattr(dag_run, "run_after", None) or dag_run.logical_date
    return run_type == "scheduled" and due is not None and datetime.now(tz=UTC) - due > LATE_START


def start_exercise(scenarios: list[str], dag_run: Any, exercise: str) -> dict[str, Any]:
    """Check a drill's or game day's start: its scenarios, the drill target mark, not a catch-up run.

    Returns the drill connection's extras. ``exercise`` names it in the messages ("drill", "game day").
    """
    if not scenarios or len(set(scenarios)) != len(scenarios):
        raise ParamError("scenarios", f"must name each scenario at most once, and at least one: {scenarios}")
    extra = require_drill_target()
    if late_scheduled_run(dag_run):
        raise AirflowSkipException(
            f"scheduled run more than {LATE_START} late (the DAG was just unpaused): no {exercise} until the "
            f"next scheduled date; trigger one by hand to run it now"
        )
    return extra
