"""Load and validate the runbook catalog from ``include/runbooks``.

Validation runs in three passes so every problem names its file and field: the JSON Schema, the cross-field
rules of :mod:`novacron_runbooks.catalog.rules`, then rules across the whole catalog (related runbooks exist,
an alert maps to one runbook). Loading reads only local files and is cached, so DAG files may call it at parse
time without touching the network or the metadata database.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

from novacron_runbooks.catalog.errors import CatalogError
from novacron_runbooks.catalog.model import (
    Catalog,
    Duration,
    EscalationLevel,
    IndexInfo,
    Owner,
    RecoveryPoint,
    Review,
    Runbook,
    Threshold,
)
from novacron_runbooks.catalog.rules import RULES
from novacron_runbooks.paths import include_dir, runbooks_dir

if TYPE_CHECKING:
    from collections.abc import Mapping

INDEX_FILE = "_index.yaml"
SCHEMA_FILE = "schema.json"
INHERITED = ("owner", "review", "escalation")
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            # libyaml's parser where PyYAML has it: every DAG file's parse loads the whole catalog, and the
            # pure-Python parser took about 0.2 s for it; the constructor (safe types only) is the same
            return yaml.load(handle, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader either way
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.parent.name}/{path.name}", "(yaml)", f"is not valid YAML: {exc}") from exc


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def _jsonable(value: Any) -> Any:
    """YAML gives dates as ``date``; the schema checks them as ISO strings."""
    return json.loads(json.dumps(value, default=str))


def validate_definition(
    raw: Any, source: str, defaults: Mapping[str, Any], schema: Mapping[str, Any]
) -> None:
    """Raise :class:`CatalogError` for the first problem in one definition, naming file and field."""
    if not isinstance(raw, dict):
        raise CatalogError(source, "(root)", "must be a mapping of fields")
    merged = _jsonable({**{key: defaults[key] for key in INHERITED if key in defaults}, **raw})
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(merged), key=lambda e: (list(e.path), e.message))
    if errors:
        first = errors[0]
        raise CatalogError(source, _field_path(first.absolute_path), first.message)
    stem = Path(source).stem
    for rule in RULES:
        for field, message in rule(merged, stem):
            raise CatalogError(source, field, message)


def _duration(raw: Mapping[str, Any] | None) -> Duration | None:
    return None if raw is None else Duration(**raw)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _build(raw: Mapping[str, Any], defaults: Mapping[str, Any], source: str, page: str) -> Runbook:
    owner = raw.get("owner", defaults["owner"])
    review = raw.get("review", defaults["review"])
    ladder = raw.get("escalation", defaults["escalation"])
    trigger = raw.get("trigger") or {}
    return Runbook(
        name=raw["name"],
        title=raw["title"],
        index_entry=raw["index_entry"],
        category=raw["category"],
        purpose=raw["purpose"],
        risk_level=raw["risk"]["level"],
        risk_text=raw["risk"]["text"],
        mutating=raw["mutating"],
        steps=tuple(raw["steps"]),
        owner=Owner(**owner),
        review=Review(
            last_reviewed=_as_date(review["last_reviewed"]),
            next_review=_as_date(review["next_review"]),
            cadence=review["cadence"],
        ),
        escalation=tuple(EscalationLevel(**rung) for rung in ladder),
        source_file=source,
        page=page,
        when_to_use=raw.get("when_to_use"),
        trigger_text=trigger.get("text"),
        trigger_alerts=tuple(trigger.get("alerts", ())),
        severity=tuple(raw.get("severity", ())),
        response_time=_duration(raw.get("response_time")),
        estimated_time=_duration(raw.get("estimated_time")),
        rto=_duration(raw.get("rto")),
        rpo=None if raw.get("rpo") is None else RecoveryPoint(**raw["rpo"]),
        scenarios=tuple(raw.get("scenarios", ())),
        tools=tuple(raw.get("tools", ())),
        scope=tuple(raw.get("scope", ())),
        frequency=raw.get("frequency"),
        manual_trigger=raw.get("manual_trigger"),
        validation=raw.get("validation"),
        escalate=raw.get("escalate", False),
        page_pagerduty=raw.get("page_pagerduty", False),
        lock_target=raw.get("lock_target"),
        thresholds={key: Threshold(**spec) for key, spec in sorted((raw.get("thresholds") or {}).items())},
        params=dict(raw.get("params") or {}),
        related=tuple(raw.get("related", ())),
    )


def _index_info(raw: Mapping[str, Any]) -> IndexInfo:
    return IndexInfo(
        title=raw["title"],
        version=str(raw["version"]),
        last_updated=_as_date(raw["last_updated"]),
        next_review=_as_date(raw["next_review"]),
        declared_total=int(raw["declared_total"]),
        listed_total=int(raw["listed_total"]),
        discrepancies=tuple(raw.get("discrepancies", ())),
        review_cycle=dict(raw.get("review_cycle", {})),
        contacts=dict(raw.get("contacts", {})),
    )


def _check_catalog(runbooks: Mapping[str, Runbook], index: IndexInfo) -> None:
    owners_of_alert: dict[str, str] = {}
    for runbook in runbooks.values():
        for i, related in enumerate(runbook.related):
            if related not in runbooks:
                raise CatalogError(runbook.source_file, f"related[{i}]", f"names unknown runbook {related!r}")
        for alert in runbook.trigger_alerts:
            if alert in owners_of_alert:
                raise CatalogError(
                    runbook.source_file,
                    "trigger.alerts",
                    f"alert {alert!r} already starts runbook {owners_of_alert[alert]!r}",
                )
            owners_of_alert[alert] = runbook.name
    if len(runbooks) != index.listed_total:
        raise CatalogError(
            INDEX_FILE,
            "index.listed_total",
            f"says {index.listed_total} but {len(runbooks)} definitions exist",
        )


def _load_definition(path: Path, defaults: Mapping[str, Any], schema: Mapping[str, Any]) -> Runbook:
    source = f"{path.parent.name}/{path.name}"
    raw = _read_yaml(path)
    validate_definition(raw, source, defaults, schema)
    page_path = path.parent / "pages" / f"{path.stem}.md"
    page = page_path.read_text(encoding="utf-8") if page_path.exists() else ""
    return _build(raw, defaults, source, page)


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load every ``<name>.yaml`` in the directory; raise :class:`CatalogError` on the first problem."""
    directory = directory or runbooks_dir()
    index_raw = _read_yaml(directory / INDEX_FILE)
    schema = json.loads((directory / SCHEMA_FILE).read_text(encoding="utf-8"))
    runbooks: dict[str, Runbook] = {}
    for path in sorted(directory.glob("*.yaml")):
        if not path.name.startswith("_"):
            runbook = _load_definition(path, index_raw["defaults"], schema)
            runbooks[runbook.name] = runbook
    index = _index_info(index_raw["index"])
    _check_catalog(runbooks, index)
    return Catalog(index=index, runbooks=runbooks)


@functools.cache
def default_catalog() -> Catalog:
    """Return the catalog of this deployment, loaded once per process."""
    return load_catalog()


def catalog_names() -> frozenset[str]:
    """Return the names of the catalog's runbooks (its definition files), without loading them."""
    return frozenset(p.stem for p in runbooks_dir().glob("*.yaml") if not p.name.startswith("_"))


@functools.cache
def catalog_runbook(name: str) -> Runbook:
    """One runbook of the catalog, validated against the schema, without loading the other 22.

    Every task start parses its DAG file, and a DAG file needs only its own definition: loading and
    validating the whole catalog there cost more than the rest of the parse. The catalog-wide checks (related
    names exist, one runbook per alert, the index's totals) run wherever the whole catalog is loaded: the
    catalog check of ``make test``, the DAG integrity tests, the alert bridge and the review runbooks.
    """
    if default_catalog.cache_info().currsize:  # already loaded whole in this process
        return default_catalog().get(name)
    if name not in catalog_names():
        raise KeyError(f"no runbook named {name!r} in the catalog")
    directory = runbooks_dir()
    index_raw = _read_yaml(directory / INDEX_FILE)
    schema = json.loads((directory / SCHEMA_FILE).read_text(encoding="utf-8"))
    return _load_definition(directory / f"{name}.yaml", index_raw["defaults"], schema)


@functools.cache
def scheduled_job(name: str) -> Runbook:
    """Load a scheduled job that is not an index runbook (``include/scheduled/<name>.yaml``).

    The review cycle, DR drill and game day come from the index's own sections rather than its runbook list;
    they use the same schema so they share the runbook machinery, but they are not counted in the catalog.
    """
    directory = runbooks_dir()
    index_raw = _read_yaml(directory / INDEX_FILE)
    schema = json.loads((directory / SCHEMA_FILE).read_text(encoding="utf-8"))
    return _load_definition(include_dir() / "scheduled" / f"{name}.yaml", index_raw["defaults"], schema)
