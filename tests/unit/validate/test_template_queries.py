"""The template tokenizer of validate/template_queries.py, shape by shape (Go's lexer rules:
delimiters, trim markers, comments, strings, raw strings, fields, parentheses)."""

from __future__ import annotations

import pytest

from alertplane.validate.template_queries import (
    MAX_PAREN_DEPTH,
    QueryCall,
    TemplateSyntaxError,
    check_template_queries,
    query_calls,
    unquote,
)
from tests.support.template_queries import CALLS, UNREADABLE

OK = '"up{customer_id=\\"acme\\"}"'


def literals(text: str) -> list[str | None]:
    return [c.literal for c in query_calls(text)]


# Refused here although Go parses them: too deep to parse safely, or a byte escape.
STRICTER = (
    "{{" + "(" * (MAX_PAREN_DEPTH + 1) + 'query "up"' + ")" * (MAX_PAREN_DEPTH + 1) + "}}",
    '{{ query "\\xff" }}',
)


@pytest.mark.parametrize(("text", "expected"), CALLS)
def test_calls(text: str, expected: list[str | None]) -> None:
    assert literals(text) == expected


@pytest.mark.parametrize("text", [*UNREADABLE, *STRICTER])
def test_unreadable_templates_raise(text: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        query_calls(text)
    (problem,) = check_template_queries("spec.labels.x", text, "acme")
    assert problem.path == "spec.labels.x"
    assert "cannot be read as a Go template" in problem.message


def test_trim_markers_need_a_blank() -> None:
    # `{{-3}}` is the number -3, `{{3 -}}` trims; neither hides the query after it.
    assert literals('{{-3}}{{ query "a" }}{{3 -}}{{ query "b" }}') == ["a", "b"]


def test_unquote_follows_go() -> None:
    assert unquote('"a\\"b"') == 'a"b'
    assert unquote('"\\101\\x41\\u0041\\U00000041"') == "AAAA"
    assert unquote("`a\\n\r`") == "a\\n"  # raw: no escapes, carriage returns dropped
    for bad in ('"\\ud800"', '"\\400"', '"\\x4"', '"\\\'"'):
        with pytest.raises(TemplateSyntaxError):
            unquote(bad)


def test_problems_name_the_field_and_the_selector() -> None:
    text = '{{ query "up" }}{{ query ' + OK + ' }}{{ query "x{customer_id=\\"globex\\"}" }}'
    problems = check_template_queries("spec.annotations.description", text, "acme")
    assert [p.text() for p in problems] == [
        'spec.annotations.description: template runs query "up": selector up{} has no '
        'customer_id="acme" matcher; add customer_id="acme" inside its braces',
        'spec.annotations.description: template runs query "x{customer_id=\\"globex\\"}": '
        'selector x{customer_id="globex"} selects customer "globex"; an alert of customer '
        'acme may only select customer_id="acme"',
    ]
    (bad,) = check_template_queries("spec.labels.team", "{{ query $labels.q }}", "acme")
    assert bad.text() == (
        "spec.labels.team: the template calls query with a computed argument $labels.q; "
        'write the query as one string literal, e.g. {{ query "up{customer_id=\\"acme\\"}" }}'
    )
    invalid = check_template_queries("spec.labels.t", '{{ query "up{" }}', "acme")
    assert [p.message.split(":")[0] for p in invalid] == ['template runs query "up{"']


def test_a_long_literal_is_shortened_in_the_message() -> None:
    name = "m" * 200
    (problem,) = check_template_queries("spec.labels.t", f'{{{{ query "{name}" }}}}', "acme")
    assert problem.message.startswith(f'template runs query "{name[:77]}...": selector')


def test_text_without_the_word_is_not_tokenized() -> None:
    # Broken syntax without `query` is promtool's to report, not this check's.
    assert check_template_queries("spec.labels.t", "{{ $labels.instance ", "acme") == []
    assert query_calls("{{ (((( }}") == []


def test_query_call_fields() -> None:
    assert query_calls('{{ query "up" | len }}') == [QueryCall("up")]


def test_shapes_from_the_prometheus_docs_and_mixins() -> None:
    # Prometheus' template examples and ceph-mixin, scoped to the customer: accepted.
    scoped = [
        "{{ with query \"some_metric{instance='i',customer_id='acme'}\" }}\n"
        "  {{ . | first | value | humanize }}\n{{ end }}",
        '{{ range query "ceph_mon_metadata{customer_id=\\"acme\\"}" }}\n'
        "  - {{ .Labels.hostname }}\n{{- end }}",
        '{{ range query "topk(3, sum by (code) (rate(errors_total{customer_id=\\"acme\\"}[5m])))"'
        " }}{{ .Labels.code }}: {{ .Value | humanize }}{{ end }}",
        '{{ query "up{customer_id=\\"acme\\"}" | first | value }}',
    ]
    for text in scoped:
        assert check_template_queries("spec.annotations.description", text, "acme") == [], text
    # The docs' computed query (printf ... | query): refused, whatever it would select.
    computed = (
        "{{ with printf \"node_memory_MemTotal{job='node',instance='%s'}\" .Labels.instance"
        " | query }}{{ . | first | value | humanize1024 }}B{{ end }}"
    )
    (problem,) = check_template_queries("spec.annotations.description", computed, "acme")
    assert problem.message == "the template pipes a computed value into query"
