"""PromQL with typed placeholders, so runbook params and alert labels can never change a query's shape.

A gate's query is written once by the SRE team, but the values in it come from a trigger form or from the
labels of a firing alert, which anyone who can create a Kubernetes object or push a metric can influence.
Pasting such a value into PromQL text (``service="{service}"``) lets ``x"} or vector(1) #`` turn a failing
gate into a passing one. Here each placeholder declares what it may hold; a value is validated against its
kind and inserted in a form that PromQL can only read as that one token: a quoted string literal for label
values and regexes, a bare token from a closed character set for everything else.
"""

from __future__ import annotations

import math
import re
import unicodedata
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_LABEL_VALUE_CHARS = 256
MAX_LABEL_REGEX_CHARS = 1024
MAX_RE2_REPEAT = 1000
"""RE2 (and so Prometheus) refuses counted repetitions above 1000."""

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_DURATION = re.compile(r"[0-9]+(ms|s|m|h|d|w|y)")
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_PROMQL_KEYWORDS = frozenset(
    "and or unless atan2 by without on ignoring group_left group_right bool offset start end step inf nan "
    "sum avg count min max group stddev stdvar topk bottomk count_values quantile limitk limit_ratio".split()
)
"""Words the PromQL lexer does not read as a metric name when they stand bare."""

_RE2_UNSUPPORTED_GROUPS = {
    "(?=": "lookahead",
    "(?!": "negative lookahead",
    "(?<=": "lookbehind",
    "(?<!": "negative lookbehind",
    "(?P=": "named backreference",
    "(?>": "atomic group",
    "(?(": "conditional group",
    "(?#": "comment group",
}
_RE2_ESCAPE_LETTERS = frozenset("dDwWsSbBAntrfvax")
"""Letter escapes that mean the same in Python's ``re`` and in RE2; others are missing from one of them."""
_RE2_FLAGS = re.compile(r"\(\?([a-zA-Z-]*)[:)]")
_COUNTED_REPEAT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")


class PromQLInputError(ValueError):
    """A value for a placeholder was missing, unexpected or not of the placeholder's kind.

    :param field: the placeholder (param or alert label) that was refused.
    :param message: why, without repeating more of the value than a reader needs.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"param '{field}': {message}")
        self.field = field
        self.message = message


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


def quote(text: str) -> str:
    """Return ``text`` as a double-quoted PromQL string literal that decodes back to exactly ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def re2_problem(pattern: str) -> str | None:
    """Name a construct of ``pattern`` that Python's ``re`` accepts but RE2 (Prometheus) does not, if any.

    The scan is deliberately conservative: an unusual but valid pattern may be refused, never the reverse.
    """
    i, in_class = 0, False
    while i < len(pattern):
        char, rest = pattern[i], pattern[i + 1 :]
        if char == "\\":
            escaped = rest[:1]
            if escaped.isdigit():
                return f"backreference or octal escape \\{escaped}"
            if escaped.isalpha() and escaped not in _RE2_ESCAPE_LETTERS:
                return f"escape \\{escaped}"
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 1 + (rest[:1] == "^")
            i += pattern[i : i + 1] == "]"  # a ']' first in a class is a literal
            continue
        elif char == "(":
            for prefix, name in _RE2_UNSUPPORTED_GROUPS.items():
                if pattern.startswith(prefix, i):
                    return name
            flags = _RE2_FLAGS.match(pattern, i)
            if flags and set(flags[1]) - set("ims-"):
                return f"inline flag (?{flags[1]})"
        elif char in "*+?}" and rest[:1] == "+":
            return "possessive quantifier"
        elif char == "{" and (repeat := _COUNTED_REPEAT.match(pattern, i)):
            if any(int(bound) > MAX_RE2_REPEAT for bound in repeat.groups() if bound):
                return f"repetition count above {MAX_RE2_REPEAT}"
        i += 1
    return None


def literal_spans(text: str) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` spans of the string literals in PromQL ``text``, quotes included.

    PromQL has ``"..."`` and ``'...'`` with backslash escapes, raw ``\\`...\\``` strings, and ``#`` comments.
    """
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end + 1
            continue
        if char in "\"'`":
            j = i + 1
            while j < len(text) and text[j] != char:
                if text[j] == "\n" and char != "`":
                    break
                j += 2 if text[j] == "\\" and char != "`" else 1
            if j >= len(text) or text[j] != char:
                raise ValueError(f"unterminated string literal at offset {i}")
            spans.append((i, j + 1))
            i = j + 1
            continue
        i += 1
    return spans


def _label_value(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, not {type(value).__name__}")
    if len(value) > MAX_LABEL_VALUE_CHARS:
        raise ValueError(f"must be at most {MAX_LABEL_VALUE_CHARS} characters long")
    if _has_control_chars(value):
        raise ValueError(f"must not contain control characters, got {_shown(value)}")
    return quote(value)


def _label_regex(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, not {type(value).__name__}")
    if len(value) > MAX_LABEL_REGEX_CHARS:
        raise ValueError(f"must be at most {MAX_LABEL_REGEX_CHARS} characters long")
    if _has_control_chars(value):
        raise ValueError(f"must not contain control characters, got {_shown(value)}")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc}): {_shown(value)}") from None
    problem = re2_problem(value)
    if problem:
        raise ValueError(f"{problem} is not supported by Prometheus's regex engine (RE2): {_shown(value)}")
    return quote(value)


def _bare(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"must be {what}, got {_shown(value)}")
    return value


def _label_name(value: object) -> str:
    return _bare(value, _LABEL_NAME, "a label name ([a-zA-Z_][a-zA-Z0-9_]*)")


def _metric_name(value: object) -> str:
    name = _bare(value, _METRIC_NAME, "a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    if name.lower() in _PROMQL_KEYWORDS:
        raise ValueError(f"{name!r} is a PromQL keyword; select it with {{__name__=...}} instead")
    return name


def _identifier(value: object) -> str:
    return _bare(value, _IDENTIFIER, "an identifier ([a-z0-9][a-z0-9._-]{0,62})")


def _duration(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f"{int(value)}s"
    if isinstance(value, str) and _DURATION.fullmatch(value):
        return value
    raise ValueError(f"must be a duration such as 30s, 5m or 1h (or whole seconds), got {_shown(value)}")


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number, got {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be finite, got {value!r}")
    return repr(int(value)) if isinstance(value, int) else repr(float(value))


_CONVERTERS: dict[str, Callable[[object], str]] = {
    "label_value": _label_value,
    "label_regex": _label_regex,
    "label_name": _label_name,
    "metric_name": _metric_name,
    "duration": _duration,
    "number": _number,
    "identifier": _identifier,
}


class PromQLTemplate:
    """A PromQL query with $placeholders (string.Template syntax: PromQL itself never uses '$').

    Each placeholder has a kind; render() validates every value and inserts it safely. ``label_value`` and
    ``label_regex`` values are inserted as quoted string literals, so the template writes ``service=$service``
    (never ``"$service"``, which construction refuses); the other kinds are inserted bare and can only hold
    characters that end no token: ``identifier`` may also stand inside a literal, e.g. ``pod=~"${name}-.*"``.

    :param template: the PromQL text; ``$$`` stands for a literal ``$`` (``label_replace``'s ``"$$1"``).
    :param kinds: the kind of every placeholder, one of :attr:`KINDS`.
    :raises ValueError: a placeholder without a kind, a kind without a placeholder, an unknown kind, a quoted
        kind inside a string literal, or a malformed template.
    """

    KINDS = ("label_value", "label_regex", "label_name", "metric_name", "duration", "number", "identifier")

    def __init__(self, template: str, **kinds: str) -> None:
        self.template = template
        self._template = Template(template)
        self._kinds = dict(kinds)
        unknown = sorted(name for name, kind in kinds.items() if kind not in self.KINDS)
        if unknown:
            raise ValueError(f"unknown placeholder kind for {', '.join(unknown)}; kinds are {self.KINDS}")
        used = self._positions()
        if missing := sorted(set(used) - set(kinds)):
            raise ValueError(f"placeholders without a kind: {', '.join(missing)}")
        if unused := sorted(set(kinds) - set(used)):
            raise ValueError(f"kinds given for placeholders the query does not use: {', '.join(unused)}")
        spans = literal_spans(template)
        for name, offsets in used.items():
            if kinds[name] in ("label_value", "label_regex") and any(
                start < offset < end for offset in offsets for start, end in spans
            ):
                raise ValueError(f'${name} is quoted on insert: write label=${name}, not label="${name}"')

    def _positions(self) -> dict[str, list[int]]:
        """Map each placeholder to the offsets where it appears."""
        positions: dict[str, list[int]] = {}
        for match in self._template.pattern.finditer(self.template):
            if match["invalid"] is not None:
                raise ValueError(f"stray '$' at offset {match.start()} (write $$ for a literal '$')")
            name = match["named"] or match["braced"]
            if name is not None:
                positions.setdefault(name, []).append(match.start())
        return positions

    @property
    def placeholders(self) -> dict[str, str]:
        """Placeholder name → kind (a copy)."""
        return dict(self._kinds)

    def render(self, **values: object) -> str:
        """Return the query with every placeholder replaced by its validated, safely inserted value.

        :raises PromQLInputError: a value is missing, unexpected, or not of its placeholder's kind.
        """
        for name in self._kinds:
            if name not in values:
                raise PromQLInputError(name, "missing value")
        for name in values:
            if name not in self._kinds:
                expected = ", ".join(sorted(self._kinds)) or "none"
                raise PromQLInputError(name, f"not a placeholder of this query (placeholders: {expected})")
        inserted: dict[str, str] = {}
        for name, kind in self._kinds.items():
            try:
                inserted[name] = _CONVERTERS[kind](values[name])
            except (TypeError, ValueError) as exc:
                raise PromQLInputError(name, str(exc)) from None
        return self._template.substitute(inserted)

    def __repr__(self) -> str:
        kinds = "".join(f", {name}={kind!r}" for name, kind in self._kinds.items())
        return f"{type(self).__name__}({self.template!r}{kinds})"
