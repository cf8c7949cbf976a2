"""Serve run reports from Airflow's API server, behind Airflow's own authentication.

A CI job that triggered a deploy with a token from ``/auth/token`` fetches the JUnit report with that same
token; an SRE in the UI (JWT cookie) opens the Markdown. Access follows Airflow's DAG-run read permission.
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import PlainTextResponse, Response

from novacron_runbooks.dagkit.report.store import ATTACHMENTS, REPORT_FILES, read_attachment, read_report

router = APIRouter(prefix="/reports", tags=["run reports"])

MEDIA_TYPES = {
    "markdown": "text/markdown; charset=utf-8",
    "junit": "application/xml",
    "json": "application/json",
}
_BY_FILENAME = {filename: kind for kind, filename in REPORT_FILES.items()}


@router.get(
    "/{dag_id}/{run_id}/{filename}",
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))],
    response_class=PlainTextResponse,
)
def get_report(
    dag_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]+$")],
    run_id: Annotated[str, Path(min_length=1, max_length=250)],
    filename: str,
) -> PlainTextResponse:
    """Return one stored form of a run's report (``report.md``, ``junit.xml`` or ``report.json``)."""
    kind = _BY_FILENAME.get(filename)
    if kind is None:
        raise HTTPException(404, f"unknown report file {filename!r}; one of {sorted(_BY_FILENAME)}")
    try:
        text = read_report(dag_id, run_id, kind)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if text is None:
        raise HTTPException(404, f"no report for {dag_id}/{run_id} yet (the run may still be going)")
    return PlainTextResponse(text, media_type=MEDIA_TYPES[kind])


@router.get(
    "/{dag_id}/{run_id}/" + ATTACHMENTS + "/{name}",
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))],
)
def get_attachment(
    dag_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]+$")],
    run_id: Annotated[str, Path(min_length=1, max_length=250)],
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]+\.png$")],
) -> Response:
    """Return a plot the report links (``files/<step>-<name>.png``)."""
    try:
        data = read_attachment(dag_id, run_id, name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if data is None:
        raise HTTPException(404, f"no attachment {name!r} for {dag_id}/{run_id}")
    return Response(data, media_type="image/png")
