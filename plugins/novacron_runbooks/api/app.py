"""The FastAPI app mounted at ``/novacron`` in Airflow's API server."""

from __future__ import annotations

from fastapi import FastAPI

from novacron_runbooks.api import alertmanager, reports

URL_PREFIX = "/novacron"


def create_app() -> FastAPI:
    app = FastAPI(
        title="NovaCron Runbooks",
        description="Run reports of the NovaCron runbooks and the Alertmanager bridge.",
    )
    app.include_router(reports.router)
    app.include_router(alertmanager.router)
    return app
