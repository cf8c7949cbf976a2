"""Parse the dags folder with the network, Variables and Connections forbidden; print a JSON verdict.

Run in a fresh interpreter by the integrity test so that no module was imported (and cached) before the
guards were in place.
"""

from __future__ import annotations

import json
import socket
import sys

touched: list[str] = []


def _forbid(what: str):
    def guard(*args: object, **kwargs: object) -> None:
        touched.append(what)
        raise RuntimeError(f"{what} at DAG parse time")

    return guard


socket.socket.connect = _forbid("network connect")  # type: ignore[method-assign]
socket.create_connection = _forbid("network connect")  # type: ignore[assignment]

from airflow.sdk import Connection, Variable  # noqa: E402
from airflow.sdk.bases.hook import BaseHook  # noqa: E402

Variable.get = _forbid("Variable.get")  # type: ignore[method-assign]
Connection.get = _forbid("Connection.get")  # type: ignore[method-assign]
BaseHook.get_connection = _forbid("BaseHook.get_connection")  # type: ignore[method-assign]

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"import_errors": bag.import_errors, "dags": sorted(bag.dag_ids), "touched": touched}))
