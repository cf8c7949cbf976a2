"""Cross-field rules the JSON Schema cannot express.

Each rule is a small named function taking the raw (defaults-merged) definition and yielding
``(field, message)`` for every problem, so the loader can name the field of each one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

Problem = tuple[str, str]
Rule = Callable[[Mapping[str, Any], str], Iterator[Problem]]

_CATEGORY_NEEDS = {
    "incident_response": ("severity", "trigger", "response_time"),
    "disaster_recovery": ("severity", "rto", "rpo"),
}


def name_matches_file(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    if defn.get("name") != stem:
        yield "name", f"must equal the file name {stem!r} (it is the DAG id), got {defn.get('name')!r}"


def category_fields_present(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    for field in _CATEGORY_NEEDS.get(defn.get("category", ""), ()):
        if field not in defn:
            yield field, f"is required for category {defn['category']!r}"


def mutating_has_lock_target(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    if defn.get("mutating") and not defn.get("lock_target"):
        yield "lock_target", "a mutating runbook must name the target its lock protects"
    if not defn.get("mutating") and defn.get("lock_target"):
        yield "lock_target", "only mutating runbooks take a lock"


def critical_pages(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    if "critical" in defn.get("severity", ()) and not defn.get("page_pagerduty"):
        yield "page_pagerduty", "must be true where the severity includes critical"


def durations_ordered(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    for field in ("estimated_time", "response_time", "rto"):
        duration = defn.get(field) or {}
        low, high = duration.get("min_minutes"), duration.get("max_minutes")
        if low is not None and high is not None and low > high:
            yield f"{field}.min_minutes", f"{low} is greater than max_minutes {high}"


def escalation_ladder_ordered(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    ladder = defn.get("escalation") or []
    levels = [rung.get("level") for rung in ladder]
    if levels != sorted(levels) or len(set(levels)) != len(levels):
        yield "escalation", f"levels must be unique and ascending, got {levels}"
    previous = -1.0
    for i, rung in enumerate(ladder):
        after = rung.get("after_minutes")
        if after is None:
            continue
        if after < previous:
            yield f"escalation[{i}].after_minutes", f"{after} comes before the previous level's {previous}"
        previous = after
        until = rung.get("until_minutes")
        if until is not None and until <= after:
            yield f"escalation[{i}].until_minutes", f"{until} must be after after_minutes {after}"


def review_dates_ordered(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    review = defn.get("review") or {}
    if str(review.get("next_review", "")) < str(review.get("last_reviewed", "")):
        yield "review.next_review", "is before review.last_reviewed"


def param_defaults_valid(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    """Check defaults and examples against their own schema: a bad default breaks the trigger form."""
    for pname, spec in (defn.get("params") or {}).items():
        schema = {k: v for k, v in spec.items() if k not in {"title", "description", "examples", "secret"}}
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except re.error as exc:
                yield f"params.{pname}.pattern", f"is not a valid regular expression: {exc}"
                continue
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        if "default" in spec:
            for error in validator.iter_errors(spec["default"]):
                yield f"params.{pname}.default", error.message
        for i, example in enumerate(spec.get("examples", [])):
            for error in validator.iter_errors(example):
                yield f"params.{pname}.examples[{i}]", error.message


def reserved_params_unused(defn: Mapping[str, Any], stem: str) -> Iterator[Problem]:
    for reserved in ("dry_run", "reason"):
        if reserved in (defn.get("params") or {}):
            yield f"params.{reserved}", "is a common param every runbook gets; do not redefine it"


RULES: tuple[Rule, ...] = (
    name_matches_file,
    category_fields_present,
    mutating_has_lock_target,
    critical_pages,
    durations_ordered,
    escalation_ladder_ordered,
    review_dates_ordered,
    param_defaults_valid,
    reserved_params_unused,
)
