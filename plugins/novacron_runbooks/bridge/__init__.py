"""The Alertmanager bridge: from a webhook notification to one validated runbook run per alert group.

``payload`` checks the webhook's shape, ``labels`` what an alert may carry into a run, ``policy`` the
circuit breaker on automatic remediation, ``note`` what is written on a run, and ``runs`` the metadata
database work; ``novacron_runbooks.api.alertmanager`` is the HTTP endpoint in front of them.
"""

from __future__ import annotations
