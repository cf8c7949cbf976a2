"""Airflow plugin of the NovaCron runbooks: report endpoints and the Alertmanager webhook in the API server.

The importable code lives in the ``novacron_runbooks`` package (ignored by the plugin scanner through
``.airflowignore``); this file only registers it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from novacron_runbooks.api.app import URL_PREFIX, create_app


class NovacronRunbooksPlugin(AirflowPlugin):
    """Mounts ``/novacron`` (run reports, the Alertmanager webhook) on the API server."""

    name = "novacron_runbooks"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "NovaCron Runbooks"}]
