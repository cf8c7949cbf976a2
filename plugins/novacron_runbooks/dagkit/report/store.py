"""Where run reports are stored, so both the Airflow UI and a CI caller can fetch them.

Reports go to ``NOVACRON_REPORTS_URL`` through Airflow's object storage (``s3://...``, ``gs://...`` or a
shared ``file://`` volume in a distributed deployment); the default is ``$AIRFLOW_HOME/runbook_reports``. The
API server's report endpoint (see :mod:`novacron_runbooks.plugin`) reads the same location.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from airflow.sdk import ObjectStoragePath

REPORT_FILES = {"markdown": "report.md", "junit": "junit.xml", "json": "report.json"}
ATTACHMENTS = "files"
"""Sub-folder of a run's report folder holding its attachments (plots), linked from ``report.md``."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def reports_base_url() -> str:
    configured = os.environ.get("NOVACRON_REPORTS_URL")
    if configured:
        return configured.rstrip("/")
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return f"file://{home / 'runbook_reports'}"


def safe_segment(value: str) -> str:
    """Make a dag id or run id safe as one path segment (run ids carry ``:`` and ``+``)."""
    cleaned = _UNSAFE.sub("_", value)
    if cleaned in {"", ".", ".."}:
        raise ValueError(f"unusable path segment {value!r}")
    return cleaned


def report_dir(dag_id: str, run_id: str) -> ObjectStoragePath:
    return ObjectStoragePath(reports_base_url()) / safe_segment(dag_id) / safe_segment(run_id)


def write_report(dag_id: str, run_id: str, contents: dict[str, str]) -> dict[str, str]:
    """Write each rendered form (keys of :data:`REPORT_FILES`); return their URLs."""
    folder = report_dir(dag_id, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    urls = {}
    for kind, text in contents.items():
        path = folder / REPORT_FILES[kind]
        path.write_text(text, encoding="utf-8")
        urls[kind] = str(path)
    return urls


def read_report(dag_id: str, run_id: str, kind: str) -> str | None:
    path = report_dir(dag_id, run_id) / REPORT_FILES[kind]
    return path.read_text(encoding="utf-8") if path.exists() else None


def write_attachment(dag_id: str, run_id: str, name: str, data: bytes) -> str:
    """Store a file beside the report (e.g. a PNG plot); return its path relative to the report."""
    folder = report_dir(dag_id, run_id) / ATTACHMENTS
    folder.mkdir(parents=True, exist_ok=True)
    filename = safe_segment(name)
    (folder / filename).write_bytes(data)
    return f"{ATTACHMENTS}/{filename}"


def read_attachment(dag_id: str, run_id: str, name: str) -> bytes | None:
    path = report_dir(dag_id, run_id) / ATTACHMENTS / safe_segment(name)
    return path.read_bytes() if path.exists() else None
