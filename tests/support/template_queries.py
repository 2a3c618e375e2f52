"""Template shapes and the queries they hold: the tokenizer's unit cases, reused by the
adversarial tests."""

from __future__ import annotations

CALLS: list[tuple[str, list[str | None]]] = [
    # Calls in every place a pipeline starts.
    ('{{ query "up" }}', ["up"]),
    ('{{query "up"}}', ["up"]),
    ('{{- query "up" -}}', ["up"]),
    ('{{\nquery\t"up"\n}}', ["up"]),
    ('{{ range query "up" }}x{{ end }}', ["up"]),
    ('{{ if query "a" }}{{ else if query "b" }}{{ end }}', ["a", "b"]),
    ('{{ with $x := query "up" }}{{ $x }}{{ end }}', ["up"]),
    ('{{ range $i, $s := query "up" }}{{ end }}', ["up"]),
    ('{{ $x = query "up" }}', ["up"]),
    ('{{ printf "%v" (query "up") }}', ["up"]),
    ('{{ ((query "up")) }}', ["up"]),
    ('{{ (query "up").X }}', ["up"]),
    ('{{ query "up" | first | value }}', ["up"]),
    ('{{ template "x" query "up" }}', ["up"]),
    ('{{ define "x" }}{{ query "up" }}{{ end }}', ["up"]),
    ('{{ query `up{a="b"}` }}', ['up{a="b"}']),
    ('{{ query "\\u0075p\\x7b\\u007D" }}', ["up{}"]),
    ('{{ query "a\\tb\\\\" }}', ["a\tb\\"]),
    # Anything else that names query as a function.
    ('{{ "up" | query }}', [None]),
    ('{{ printf "%s" "up" | query }}', [None]),
    ('{{ "x" | query "up" }}', [None]),
    ('{{ $q := "up" }}{{ query $q }}', [None]),
    ("{{ query .Labels.q }}", [None]),
    ('{{ query (printf "up") }}', [None]),
    ('{{ query "a" "b" }}', [None]),
    ("{{ query }}", [None]),
    ("{{ query | }}", [None]),  # Go accepts a trailing pipe
    ('{{ call query "up" }}', [None]),
    ('{{ printf "%v" query }}', [None]),
    ("{{ query.X }}", [None]),
    ('{{ (query) "up" }}', [None]),
    ("{{ query `up`.X }}", [None]),
    # Only mentions.
    ('{{ "query \\"up\\"" }}', []),
    ('{{ `{{ query "up" }}` }}', []),
    ('{{/* query "up" }} */}}', []),
    ('{{- /* {{ query "up" }} */ -}}', []),
    ("{{ .Labels.query }} {{ $labels.query }} {{ .query }}", []),
    ('query "up" }} text', []),
    ("{{ 'q' }}query", []),
    ("{{ $query := 1 }}{{ $query }}", []),
    ('{{ "}}" }}{{ " -}}" }}', []),
    ("{{ queryX 1 }}{{ Xquery 1 }}", []),
    ("", []),
]


UNREADABLE = [
    '{{ query "up" ',  # unclosed action
    '{{ query "up }}',  # unterminated string
    '{{ query "u\np" }}',  # a newline in a quoted string
    "{{ query `up }}",  # unterminated raw string
    '{{/* query "up" }}',  # unclosed comment
    "{{/* query */ }}",  # space before the comment's }}: not a delimiter
    '{{ query"up" }}',  # operands need a space between them
    '{{ (query "up" }}',
    '{{ query "up") }}',
    '{{ query "\\q" }}',  # not a Go escape
    '{{ query "a" := 1 }}',
    "{{ query 1x }}",
    "{{ query @ }}",
]
