"""The deployment history: which release ran on which colour, when, started by which run, with which result.

It lives in the cluster (ConfigMap ``novacron-api-releases``), next to what it describes, so a rollback still
knows the last good release after the Airflow metadata database is lost. Writes are read-modify-write with the
ConfigMap's ``resourceVersion`` as a precondition: two runbooks recording at once never lose a record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from novacron_runbooks.release.cluster import APP, ReleaseError

if TYPE_CHECKING:
    from collections.abc import Callable

    from novacron_runbooks.release.cluster import ReleaseCluster

CONFIGMAP = f"{APP}-releases"
DATA_KEY = "history.json"
KEEP = 100
"""Records kept; older ones are dropped (the run reports keep the full story)."""
WRITE_ATTEMPTS = 8

Result = Literal["deploying", "promoted", "adopted", "restored", "rolled-back", "aborted", "failed"]
GOOD: frozenset[str] = frozenset({"promoted", "adopted", "restored"})
"""Results that mean the release served traffic and was judged healthy."""


def utcnow_iso() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Release:
    """One entry of the history. ``result`` changes as the run goes; everything else is set once."""

    revision: int
    image: str
    colour: str
    runbook: str
    run: str
    started_at: str
    result: Result = "deploying"
    finished_at: str | None = None
    change_ticket: str = ""
    reason: str = ""
    replaced: int | None = None
    """The revision that served traffic before this one (what a rollback of this release goes back to)."""
    notes: list[str] = field(default_factory=list)

    @property
    def good(self) -> bool:
        return self.result in GOOD


class ReleaseHistory:
    """Read and append to the history ConfigMap."""

    def __init__(self, cluster: ReleaseCluster) -> None:
        self.cluster = cluster

    def _read(self) -> tuple[list[Release], str | None]:
        from kubernetes.client.exceptions import ApiException

        core, ns = self.cluster.core, self.cluster.namespace
        try:
            obj = self.cluster._plain(core.read_namespaced_config_map(CONFIGMAP, ns))
        except ApiException as exc:
            if exc.status == 404:
                return [], None
            raise ReleaseError(f"cannot read ConfigMap {ns}/{CONFIGMAP}: {exc.status} {exc.reason}") from exc
        raw = (obj.get("data") or {}).get(DATA_KEY) or "[]"
        try:
            records = [Release(**item) for item in json.loads(raw)]
        except (ValueError, TypeError) as exc:
            raise ReleaseError(
                f"ConfigMap {ns}/{CONFIGMAP} key {DATA_KEY} is not a release history: {exc}"
            ) from exc
        return records, obj["metadata"].get("resourceVersion")

    def records(self) -> list[Release]:
        """All kept records, oldest first."""
        return self._read()[0]

    def started_since(self, minutes: float) -> list[Release]:
        """Return the records started within the last ``minutes``, oldest first."""
        since = datetime.now(tz=UTC) - timedelta(minutes=minutes)
        return [r for r in self.records() if r.started_at and datetime.fromisoformat(r.started_at) >= since]

    def _write(self, records: list[Release], resource_version: str | None) -> None:
        core, ns = self.cluster.core, self.cluster.namespace
        data = {DATA_KEY: json.dumps([asdict(r) for r in records[-KEEP:]], indent=1)}
        metadata: dict[str, Any] = {"name": CONFIGMAP, "labels": {"app": APP}}
        if resource_version is None:
            core.create_namespaced_config_map(ns, {"metadata": metadata, "data": data})
            return
        metadata["resourceVersion"] = resource_version
        core.replace_namespaced_config_map(CONFIGMAP, ns, {"metadata": metadata, "data": data})

    def modify(self, change: Callable[[list[Release]], list[Release]]) -> list[Release]:
        """Apply ``change`` to the records and store them; retried on a concurrent write (409)."""
        from kubernetes.client.exceptions import ApiException

        for _ in range(WRITE_ATTEMPTS):
            records, version = self._read()
            updated = change(list(records))
            try:
                self._write(updated, version)
            except ApiException as exc:
                if exc.status == 409:  # stale resourceVersion, or created by someone else meanwhile
                    continue
                raise
            return updated
        raise ReleaseError(
            f"could not write {CONFIGMAP} after {WRITE_ATTEMPTS} attempts (concurrent writers)"
        )

    # -- queries --------------------------------------------------------------------------------------------
    def get(self, revision: int) -> Release | None:
        return next((r for r in self.records() if r.revision == revision), None)

    def live(self) -> Release | None:
        """Return the newest good release: the one that serves traffic if nothing changed behind our back."""
        return next((r for r in reversed(self.records()) if r.good), None)

    def previous_good(self) -> Release | None:
        """Return the last good release before the live one with a different image (``previous``)."""
        records = self.records()
        live = next((r for r in reversed(records) if r.good), None)
        if live is None:
            return None
        for record in reversed(records):
            if record.revision < live.revision and record.good and record.image != live.image:
                return record
        return None

    # -- writes ---------------------------------------------------------------------------------------------
    def append(self, **fields: Any) -> Release:
        """Add a record with the next revision number and return it."""
        created: list[Release] = []

        def add(records: list[Release]) -> list[Release]:
            revision = max((r.revision for r in records), default=0) + 1
            record = Release(revision=revision, started_at=utcnow_iso(), **fields)
            created[:] = [record]
            return [*records, record]

        self.modify(add)
        return created[0]

    def record_for_run(self, run: str, runbook: str, **fields: Any) -> Release:
        """Return the record ``run`` of ``runbook`` already wrote, or append it: a retried task writes one."""
        mine = [r for r in self.records() if r.run == run and r.runbook == runbook]
        return mine[-1] if mine else self.append(run=run, runbook=runbook, **fields)

    def finish(self, revision: int, result: Result, note: str | None = None) -> Release:
        """Set a record's result (idempotent: finishing twice with the same result changes nothing)."""
        found: list[Release] = []

        def set_result(records: list[Release]) -> list[Release]:
            out = []
            for record in records:
                if record.revision == revision:
                    notes = [*record.notes, note] if note and note not in record.notes else record.notes
                    unchanged = record.result == result and record.finished_at is not None
                    finished_at = record.finished_at if unchanged else utcnow_iso()
                    record = replace(record, result=result, finished_at=finished_at, notes=notes)
                    found[:] = [record]
                out.append(record)
            if not found:
                raise ReleaseError(f"revision {revision} is not in the deployment history")
            return out

        self.modify(set_result)
        return found[0]
