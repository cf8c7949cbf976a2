"""Prometheus alert rules of the runbook index, generated from the catalog so thresholds live in one place.

``python -m novacron_runbooks.alerts render`` writes ``include/alerts/novacron-runbooks.yml``;
``python -m novacron_runbooks.alerts check`` fails when the committed file no longer matches the catalog.
"""

from __future__ import annotations
