"""PromQL templates: every kind validates, hostile values stay one harmless token, and Prometheus agrees.

A small tokenizer of PromQL string literals (written from the PromQL lexer's rules, not from the module under
test) checks that a rendered label value is exactly one string literal that decodes back to the input, and
that nothing outside the literals changed. The last class sends rendered queries to the sandbox's Prometheus.
"""

from __future__ import annotations

import pytest

from novacron_runbooks.gates.promql import PromQLInputError, PromQLTemplate, literal_spans, quote
from novacron_runbooks.hooks.prometheus import PrometheusHook

HOSTILE = [
    'x"} or vector(1) #',
    'a\\"b',
    "a\\",
    "\\",
    '"',
    "'",
    "`",
    "$service",
    "${service}",
    '"} or vector(1) or up{a="',
    "1) or vector(1",
    "5m] or vector(1",
    "# comment",
    "ünïcødé 🚀",
    "",
]
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def tokenize(query: str) -> list[tuple[str, str]]:
    """Split PromQL into ("code", text), ("string", decoded value) and ("comment", text) tokens."""
    tokens: list[tuple[str, str]] = []
    code = ""
    i = 0
    while i < len(query):
        char = query[i]
        if char == "#":
            end = query.find("\n", i)
            end = len(query) if end < 0 else end
            tokens += [("code", code)] if code else []
            tokens.append(("comment", query[i:end]))
            code, i = "", end
            continue
        if char not in "\"'`":
            code += char
            i += 1
            continue
        tokens += [("code", code)] if code else []
        code, value, j = "", "", i + 1
        while True:
            assert j < len(query), f"unterminated string literal in {query!r}"
            current = query[j]
            if current == char:
                break
            assert not (current == "\n" and char != "`"), "newline inside a quoted string"
            if current == "\\" and char != "`":
                escaped = query[j + 1]
                if escaped == char:
                    value += char
                elif escaped == "x":
                    value += chr(int(query[j + 2 : j + 4], 16))
                    j += 2
                else:
                    assert escaped in _ESCAPES, f"invalid escape \\{escaped}"
                    value += _ESCAPES[escaped]
                j += 2
                continue
            value += current
            j += 1
        tokens.append(("string", value))
        i = j + 1
    return tokens + ([("code", code)] if code else [])


class TestTokenizer:
    def test_reads_literals_like_prometheus(self):
        assert tokenize("up{a=\"x\\\"y\", b='z\\'', c=`r\\aw`} # note") == [
            ("code", "up{a="),
            ("string", 'x"y'),
            ("code", ", b="),
            ("string", "z'"),
            ("code", ", c="),
            ("string", "r\\aw"),
            ("code", "} "),
            ("comment", "# note"),
        ]

    def test_naive_interpolation_is_caught(self):
        tokens = tokenize('up{service="' + 'x"} or vector(1) #' + '"}')
        assert [kind for kind, _ in tokens] == ["code", "string", "code", "comment"]


class TestLabelValue:
    template = PromQLTemplate("sum(rate(http_requests_total{service=$service}[5m]))", service="label_value")

    @pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
    def test_hostile_value_is_one_literal(self, value):
        rendered = self.template.render(service=value)
        assert tokenize(rendered) == [
            ("code", "sum(rate(http_requests_total{service="),
            ("string", value),
            ("code", "}[5m]))"),
        ]

    def test_rendered_text(self):
        assert self.template.render(service='x"} or vector(1) #') == (
            'sum(rate(http_requests_total{service="x\\"} or vector(1) #"}[5m]))'
        )
        assert (
            self.template.render(service='a\\"b') == 'sum(rate(http_requests_total{service="a\\\\\\"b"}[5m]))'
        )

    @pytest.mark.parametrize(
        "value",
        ["a\nb", "a\rb", "a\tb", "nul\x00", "del\x7f", "nel\x85", "lone\ud800surrogate", "x" * 257],
        ids=["newline", "cr", "tab", "nul", "del", "c1", "surrogate", "too-long"],
    )
    def test_control_characters_and_long_values_are_refused(self, value):
        with pytest.raises(PromQLInputError) as info:
            self.template.render(service=value)
        assert info.value.field == "service"

    def test_longest_allowed(self):
        assert tokenize(self.template.render(service="x" * 256))[1] == ("string", "x" * 256)

    @pytest.mark.parametrize("value", [1, None, b"api", ["api"]], ids=["int", "none", "bytes", "list"])
    def test_only_strings(self, value):
        with pytest.raises(PromQLInputError, match="must be a string"):
            self.template.render(service=value)

    def test_quote_round_trips(self):
        for value in HOSTILE:
            assert tokenize(quote(value)) == [("string", value)]


class TestLabelRegex:
    template = PromQLTemplate("up{job=~$jobs}", jobs="label_regex")

    @pytest.mark.parametrize(
        "value",
        [
            "api|worker",
            "5..",
            "(?i)API",
            "\\d+",
            "[a-z]+-canary",
            "(?:a|b)*?",
            'x"} or vector(1) #',
            "a{2,5}",
        ],
    )
    def test_valid_regex_is_one_literal(self, value):
        tokens = tokenize(self.template.render(jobs=value))
        assert tokens == [("code", "up{job=~"), ("string", value), ("code", "}")]

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("(a)\\1", "backreference"),
            ("(?P<n>a)(?P=n)", "backreference"),
            ("(?=x)", "lookahead"),
            ("(?!x)", "lookahead"),
            ("(?<=x)a", "lookbehind"),
            ("(?<!x)a", "lookbehind"),
            ("(?>a)", "atomic group"),
            ("a*+", "possessive"),
            ("a{1001}", "above 1000"),
            ("(?x)a b", "inline flag"),
            ("a\\Z", "escape \\\\Z"),
            ("\\u0041", "escape \\\\u"),
            ("[", "not a valid regular expression"),
            ("a\nb", "control characters"),
            ("x" * 1025, "at most 1024"),
        ],
    )
    def test_invalid_or_not_re2(self, value, reason):
        with pytest.raises(PromQLInputError, match=reason):
            self.template.render(jobs=value)

    def test_escaped_metacharacters_are_not_mistaken(self):
        for value in ["a\\++", "\\(?=x", "[(?=]", "[]a]+", "a\\{1001}"]:
            assert tokenize(self.template.render(jobs=value))[1] == ("string", value)


class TestBareKinds:
    @pytest.mark.parametrize(
        ("kind", "value", "rendered"),
        [
            ("label_name", "service", "service"),
            ("label_name", "__name__", "__name__"),
            ("metric_name", "job:http_requests:rate5m", "job:http_requests:rate5m"),
            ("duration", "5m", "5m"),
            ("duration", "100ms", "100ms"),
            ("duration", "1y", "1y"),
            ("duration", 300, "300s"),
            ("duration", 0, "0s"),
            ("number", 0.5, "0.5"),
            ("number", 1, "1"),
            ("number", -2, "-2"),
            ("number", 1e100, "1e+100"),
            ("identifier", "api-v2.canary_1", "api-v2.canary_1"),
            ("identifier", "a" * 63, "a" * 63),
        ],
    )
    def test_valid(self, kind, value, rendered):
        assert PromQLTemplate("$x", x=kind).render(x=value) == rendered

    @pytest.mark.parametrize(
        ("kind", "value"),
        [
            ("label_name", "1a"),
            ("label_name", "a-b"),
            ("label_name", "job:rate"),
            ("label_name", "service) or vector(1"),
            ("label_name", "service\n"),
            ("label_name", "ä"),
            ("label_name", ""),
            ("metric_name", "inf"),
            ("metric_name", "NaN"),
            ("metric_name", "or"),
            ("metric_name", "sum"),
            ("metric_name", 'up{job="x"}'),
            ("metric_name", "up or vector(1)"),
            ("duration", "5m] or vector(1"),
            ("duration", "5m\n"),
            ("duration", "5"),
            ("duration", "5M"),
            ("duration", "1h30m"),
            ("duration", "1.5m"),
            ("duration", "٥m"),
            ("duration", -1),
            ("duration", True),
            ("duration", 1.5),
            ("number", "1"),
            ("number", "1) or vector(1"),
            ("number", True),
            ("number", float("nan")),
            ("number", float("inf")),
            ("number", None),
            ("identifier", "a" * 64),
            ("identifier", "API"),
            ("identifier", "-api"),
            ("identifier", "a b"),
            ("identifier", "1) or vector(1"),
            ("identifier", "api\n"),
            ("identifier", 'api"'),
        ],
    )
    def test_invalid(self, kind, value):
        with pytest.raises(PromQLInputError) as info:
            PromQLTemplate("$x", x=kind).render(x=value)
        assert info.value.field == "x"
        assert str(info.value).startswith("param 'x': ")

    def test_hostile_values_never_reach_the_query(self):
        template = PromQLTemplate(
            "histogram_quantile($q, sum by (le, $by) "
            '(rate(${metric}_bucket{pod=~"${pod}-.*"}[$window]))) > $limit',
            q="number",
            by="label_name",
            metric="metric_name",
            pod="identifier",
            window="duration",
            limit="number",
        )
        good = {"q": 0.99, "by": "service", "metric": "http_duration_seconds", "pod": "api", "window": "5m"}
        assert template.render(**good, limit=0.25) == (
            "histogram_quantile(0.99, sum by (le, service) "
            '(rate(http_duration_seconds_bucket{pod=~"api-.*"}[5m]))) > 0.25'
        )
        for name in good:
            for value in HOSTILE:
                with pytest.raises(PromQLInputError):
                    template.render(**{**good, "limit": 1, name: value})


class TestTemplate:
    def test_placeholders(self):
        template = PromQLTemplate("up{a=$a} * $n", a="label_value", n="number")
        assert template.placeholders == {"a": "label_value", "n": "number"}
        template.placeholders["a"] = "number"
        assert template.placeholders["a"] == "label_value"

    def test_no_placeholders(self):
        assert PromQLTemplate("sum(up)").render() == "sum(up)"

    def test_repeated_placeholder(self):
        template = PromQLTemplate("up{a=$a} / up{b=$a}", a="label_value")
        assert template.render(a="x") == 'up{a="x"} / up{b="x"}'

    def test_dollar_escape_for_label_replace(self):
        template = PromQLTemplate(
            'label_replace(up{job=$job}, "host", "$$1", "instance", "(.*):.*")', job="label_value"
        )
        assert (
            template.render(job="api") == 'label_replace(up{job="api"}, "host", "$1", "instance", "(.*):.*")'
        )

    @pytest.mark.parametrize(
        ("template", "kinds", "message"),
        [
            ("up{a=$a}", {}, "without a kind: a"),
            ("up", {"a": "label_value"}, "does not use: a"),
            ("up{a=$a}", {"a": "string"}, "unknown placeholder kind for a"),
            ('label_replace(up, "h", "$1", "i", "(.*)")', {}, "stray '\\$'"),
            ('up{a="$a"}', {"a": "label_value"}, "quoted on insert"),
            ("up{a='${a}'}", {"a": "label_value"}, "quoted on insert"),
            ("up{a=~`$a`}", {"a": "label_regex"}, "quoted on insert"),
            ('up{a="x}', {"a": "label_value"}, "does not use"),
            ('up{a="x} + $a', {"a": "label_value"}, "unterminated string literal"),
        ],
    )
    def test_construction_errors(self, template, kinds, message):
        with pytest.raises(ValueError, match=message):
            PromQLTemplate(template, **kinds)

    def test_bare_kinds_may_stand_inside_literals(self):
        template = PromQLTemplate('up{pod=~"$name-.*", le="$n"}', name="identifier", n="number")
        assert template.render(name="api", n=0.5) == 'up{pod=~"api-.*", le="0.5"}'

    def test_missing_and_extra_values(self):
        template = PromQLTemplate("up{a=$a, b=$b}", a="label_value", b="label_value")
        with pytest.raises(PromQLInputError, match="param 'b': missing value") as info:
            template.render(a="x")
        assert (info.value.field, info.value.message) == ("b", "missing value")
        with pytest.raises(PromQLInputError, match="param 'c': not a placeholder") as info:
            template.render(a="x", b="y", c="z")
        assert info.value.field == "c"
        assert isinstance(info.value, ValueError)

    def test_literal_spans(self):
        text = 'up{a="x\\"y"} # "not a literal"\n + on() `raw`'
        assert [text[start:end] for start, end in literal_spans(text)] == ['"x\\"y"', "`raw`"]


@pytest.mark.sandbox
class TestPrometheusReadsTheLiteral:
    """Prometheus's parser reads the same single literal: ``absent()`` echoes an equality matcher's value."""

    @pytest.mark.parametrize("value", [v for v in HOSTILE if v], ids=range(len(HOSTILE) - 1))
    def test_label_value(self, sandbox, value):
        query = PromQLTemplate("absent(novacron_no_such_metric{service=$service})", service="label_value")
        result = PrometheusHook().query(query.render(service=value))
        assert [(s.labels, s.value) for s in result.samples] == [({"service": value}, 1.0)]

    def test_label_regex(self, sandbox):
        query = PromQLTemplate(
            'label_replace(label_replace(vector(1), "service", $value, "", ""), '
            '"matched", "yes", "service", $re)',
            value="label_value",
            re="label_regex",
        )
        value = 'x"} or vector(1) # \\ end'
        result = PrometheusHook().query(query.render(value=value, re='x"\\} or vector\\(1\\) # \\\\ e.*'))
        assert [s.labels for s in result.samples] == [{"service": value, "matched": "yes"}]
        result = PrometheusHook().query(query.render(value=value, re="(?i)X.*END"))
        assert result.samples[0].labels.get("matched") == "yes"
        result = PrometheusHook().query(query.render(value=value, re="x"))
        assert "matched" not in result.samples[0].labels
