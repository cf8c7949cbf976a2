"""NovaCron Runbooks: the NovaCron SRE team's runbooks as Airflow DAGs, and the machinery they share."""

from __future__ import annotations

__version__ = "0.1.0"
