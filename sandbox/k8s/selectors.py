"""Label and field selectors.

Runbooks find pods by label (``app=novacron-api,color in (blue)``) and by phase (``status.phase=Running``);
ignoring a selector would return the wrong pods, so the full label grammar is implemented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.k8s.errors import ApiError

_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector."""

    key: str
    op: str  # "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        return self.key not in labels or labels[self.key] not in self.values


def _split(text: str) -> list[str]:
    """Split at commas outside parentheses (``a in (x,y),b`` has two clauses)."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse the string form used in ``?labelSelector=``."""
    reqs: list[Requirement] = []
    for clause in _split(text or ""):
        if m := _SET_RE.match(clause):
            values = frozenset(v.strip() for v in m.group(4).split(",") if v.strip())
            reqs.append(Requirement(m.group(2), m.group(3), values))
        elif m := _EQ_RE.match(clause):
            op = "notin" if m.group(2) == "!=" else "in"
            reqs.append(Requirement(m.group(1), op, frozenset([m.group(3)])))
        elif m := _EXISTS_RE.match(clause):
            reqs.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise ApiError(400, f"unable to parse requirement: {clause.strip()!r}")
    return reqs


def from_label_selector(selector: dict[str, Any] | None) -> list[Requirement]:
    """Translate a ``LabelSelector`` object (matchLabels + matchExpressions)."""
    if not selector:
        return []
    reqs = [Requirement(k, "in", frozenset([str(v)])) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in selector.get("matchExpressions") or []:
        reqs.append(Requirement(expr["key"], ops[expr["operator"]], frozenset(expr.get("values") or [])))
    return reqs


def from_map(selector: dict[str, str] | None) -> list[Requirement]:
    """Translate a plain map selector (a Service's ``spec.selector``)."""
    return [Requirement(k, "in", frozenset([str(v)])) for k, v in (selector or {}).items()]


def matches(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    """Tell whether every requirement holds."""
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


def to_string(selector: dict[str, Any] | None) -> str:
    """Render a ``LabelSelector`` in string form (``Scale.status.selector`` carries it)."""
    parts = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op = expr["operator"]
        if op in ("In", "NotIn"):
            parts.append(f"{expr['key']} {op.lower()} ({','.join(expr.get('values') or [])})")
        else:
            parts.append(expr["key"] if op == "Exists" else f"!{expr['key']}")
    return ",".join(parts)


FIELD_PATHS = {
    "metadata.name",
    "metadata.namespace",
    "status.phase",
    "spec.nodeName",
    "involvedObject.name",
    "involvedObject.kind",
    "type",
    "reason",
}


def parse_field_selector(text: str | None) -> list[tuple[str, bool, str]]:
    """Parse ``?fieldSelector=`` into (path, equal?, value) triples."""
    out: list[tuple[str, bool, str]] = []
    for clause in _split(text or ""):
        m = re.match(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$", clause)
        if not m or m.group(1) not in FIELD_PATHS:
            raise ApiError(400, f'field label not supported: "{clause.strip()}"')
        out.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return out


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def fields_match(fields: list[tuple[str, bool, str]], obj: dict[str, Any]) -> bool:
    """Tell whether every field clause holds."""
    return all((_field(obj, path) == value) == equal for path, equal, value in fields)
