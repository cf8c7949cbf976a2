"""The drill's safety catch: it runs only where the environment says it is a drill target.

The sandbox (and any staging copy meant for drills) writes the connection ``novacron_drill`` with the extra
``drill_allowed: true``. Production has no such connection, so a drill started there, by hand or by the
schedule, fails here before the writer starts or any fault is injected.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from novacron_runbooks import connections


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
