"""matplotlib on its Agg backend (no display, safe in a worker), imported only when a task draws.

pyplot takes about two seconds to import; the modules that draw are imported by DAG files, which the DAG
processor and every task's start-up parse, so the import waits for the first figure.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType


def pyplot() -> ModuleType:
    """Return ``matplotlib.pyplot`` with the Agg backend chosen first."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def png_bytes(figure: Any) -> bytes:
    """Lay the figure out and render it as PNG (the caller closes it, however drawing ended)."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
