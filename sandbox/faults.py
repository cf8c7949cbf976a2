"""Flip the NovaCron API stand-in's fault switches (the CLI, the tests, the drills and the benchmarks)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from sandbox.processes import SandboxError

if TYPE_CHECKING:
    from sandbox.layout import Layout


def set_fault(layout: Layout, body: dict[str, Any]) -> str:
    """POST switches (``{"error_rate": 0.2}``, ``{"clear": true}``) to the stand-in; return its answer."""
    request = urllib.request.Request(
        layout.url("standin") + "/_sandbox/faults",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our loopback URL
            return str(response.read().decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        reason = exc.read().decode(errors="replace")
        raise SandboxError(f"fault {sorted(body)}: the stand-in refused it: {reason}") from None
    except OSError as exc:
        url = layout.url("standin")
        raise SandboxError(f"fault: the stand-in at {url} is not reachable: {exc}") from None
