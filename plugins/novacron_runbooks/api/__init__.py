"""HTTP endpoints the project adds to Airflow's own API server (mounted by the plugin)."""

from __future__ import annotations
