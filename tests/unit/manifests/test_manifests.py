"""Reading manifests: files, directories, multi-document YAML, `kind: List`, stdin, and
every way a file can fail to be a manifest (each with its exact message)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import yaml

from alertplane.core import evaluate
from alertplane.errors import Source, UsageError
from alertplane.manifests import MAX_DEPTH, expand_paths, load_paths, load_text
from tests.support.factories import alert, receiver

ALERT_LINES = len(yaml.safe_dump(alert(), sort_keys=False).splitlines())
YAML_HINT = "fix the YAML syntax (indentation, quoting, ':' after keys)"
MAPPING_HINT = "each YAML document must have apiVersion, kind, metadata and spec"


def dump(*docs: object) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False)


def problems(text: str, name: str = "m.yaml") -> list[str]:
    loaded = load_text(text, name)
    return [
        str(p) for p in evaluate(loaded.documents, tools=False, earlier=loaded.problems).problems
    ]


def test_multi_document_text_keeps_document_numbers_and_start_lines() -> None:
    text = "# leading comment\n" + dump(alert(), receiver()) + "---\n"  # trailing empty doc
    loaded = load_text(text, "m.yaml")
    assert loaded.problems == []
    assert [d.data["kind"] for d in loaded.documents] == ["CustomerAlert", "CustomerReceiver"]
    assert [d.source for d in loaded.documents] == [
        Source("m.yaml", 1, 2),
        Source("m.yaml", 2, text.splitlines().index("---", 1) + 2),
    ]


def test_empty_documents_are_skipped() -> None:
    loaded = load_text("---\n---\n# only a comment\n---\n", "m.yaml")
    assert loaded.documents == [] and loaded.problems == []


def test_a_kubectl_list_is_expanded() -> None:
    text = dump({"apiVersion": "v1", "kind": "List", "items": [alert(), receiver()]})
    loaded = load_text(text)
    assert [d.data["kind"] for d in loaded.documents] == ["CustomerAlert", "CustomerReceiver"]
    assert problems(text) == []


def test_directories_are_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deep").mkdir()
    for rel in ("z.yaml", "a.yml", "b/c.yaml", "b/deep/d.yml", "notes.txt", "x.json", "y.yaml~"):
        (tmp_path / rel).write_text(dump(alert()))
    found = [Path(p).relative_to(tmp_path).as_posix() for p in expand_paths([str(tmp_path)])]
    assert found == ["a.yml", "b/c.yaml", "b/deep/d.yml", "z.yaml"]


def test_files_are_read_in_the_order_given_and_may_have_any_suffix(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text(dump(alert("acme")))
    (tmp_path / "two.yaml").write_text(dump(alert("globex")))
    loaded = load_paths([str(tmp_path / "two.yaml"), str(tmp_path / "one.txt")])
    assert [d.data["spec"]["customerId"] for d in loaded.documents] == ["globex", "acme"]


def test_stdin_is_read_for_dash() -> None:
    loaded = load_paths(["-"], stdin=io.StringIO(dump(alert(), receiver())))
    assert [d.source for d in loaded.documents] == [
        Source("<stdin>", 1, 1),
        Source("<stdin>", 2, ALERT_LINES + 2),
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.yaml", "{p}/missing.yaml: no such file or directory"),
        (lambda p: p, "{p}: no .yaml or .yml files in this directory"),
    ],
    ids=["missing", "empty-directory"],
)
def test_a_path_that_holds_no_manifests_is_a_usage_error(
    tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(UsageError) as err:
        load_paths([str(path)])
    assert str(err.value) == message.format(p=tmp_path) + "; check the path given to -f"


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("summary: caf\xe9\n".encode("latin-1"))
    loaded = load_paths([str(path)])
    assert [str(p) for p in loaded.problems] == [
        f"{path}: file is not UTF-8 text; save it as UTF-8"
    ]


BROKEN = [
    (
        "unclosed-flow",
        "kind: CustomerAlert\nspec: [\n",
        f"m.yaml:3 (document 1): invalid YAML, column 1: did not find expected node content; "
        f"{YAML_HINT}",
    ),
    (
        "bad-indentation",
        "kind: CustomerAlert\nspec:\n    a: 1\n  b: 2\n",
        f"m.yaml:4 (document 1): invalid YAML, column 3: did not find expected key; {YAML_HINT}",
    ),
    (
        "colon-in-plain-value",
        "kind: CustomerAlert\nspec:\n  expr: a: b\n",
        "m.yaml:3 (document 1): invalid YAML, column 10: mapping values are not allowed in this "
        f"context; {YAML_HINT}",
    ),
    (
        "tab-indentation",
        "kind: CustomerAlert\n\tfoo: 1\n",
        "m.yaml:2 (document 1): invalid YAML, column 1: found a tab character that violates "
        f"indentation; {YAML_HINT}",
    ),
    (
        "unclosed-quote",
        "kind: CustomerAlert\nspec: 'abc\n",
        "m.yaml:3 (document 1): invalid YAML, column 1: found unexpected end of stream; "
        + YAML_HINT,
    ),
    (
        "undefined-alias",
        "kind: *nope\n",
        f"m.yaml:1 (document 1): invalid YAML, column 7: found undefined alias; {YAML_HINT}",
    ),
    (
        "python-tag",
        "kind: !!python/object:os.system x\n",
        "m.yaml:1 (document 1): invalid YAML, column 7: could not determine a constructor for "
        f"the tag 'tag:yaml.org,2002:python/object:os.system'; {YAML_HINT}",
    ),
    (
        "unhashable-key",
        "{[1]: 2}\n",
        f"m.yaml:1 (document 1): invalid YAML, column 2: found unhashable key; {YAML_HINT}",
    ),
    (
        "control-character",
        "kind: CustomerAlert\nspec: \x07\n",
        "m.yaml:2: invalid YAML: unacceptable character #x0007: control characters are not "
        "allowed; fix the YAML syntax",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_yaml_names_file_and_line(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_documents_before_broken_yaml_are_kept() -> None:
    text = dump(alert()) + "---\nkind: [\n"
    loaded = load_text(text, "m.yaml")
    assert len(loaded.documents) == 1
    assert [str(p) for p in loaded.problems] == [
        f"m.yaml:{ALERT_LINES + 3} (document 2): invalid YAML, column 1: did not find expected "
        f"node content; {YAML_HINT}"
    ]


def test_a_byte_order_mark_is_fine() -> None:
    assert problems("\ufeff" + dump(alert())) == []


def test_deep_nesting_is_refused_before_the_parser_can_overflow_the_stack() -> None:
    # libyaml's C composer recurses per level and crashes the process around 30,000.
    start = time.monotonic()
    text = dump(alert()) + "---\nspec: " + "[" * 200_000 + "]" * 200_000 + "\n"
    assert problems(text) == [
        f"m.yaml:{ALERT_LINES + 2} (document 2): nesting deeper than {MAX_DEPTH} levels; "
        "flatten the document; a manifest needs only a few levels"
    ]
    assert time.monotonic() - start < 10


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1  # plus the top-level mapping
    loaded = load_text("a: " + "[" * depth + "]" * depth)
    assert loaded.problems == [] and len(loaded.documents) == 1
    loaded = load_text("a:\n" + "".join(" " * i + "-\n" for i in range(depth)))
    assert loaded.problems == [] and len(loaded.documents) == 1
    assert [str(p) for p in load_text("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH).problems] == [
        f"<input>:1 (document 1): nesting deeper than {MAX_DEPTH} levels; flatten the "
        "document; a manifest needs only a few levels"
    ]


def test_many_shallow_documents_are_not_mistaken_for_deep_ones() -> None:
    text = dump(*[alert(name=f"A{i}") for i in range(300)])
    assert len(load_text(text).documents) == 300


NOT_MANIFESTS = [
    ("list", "- a\n- b\n", f"expected a Kubernetes object (a mapping), got a list; {MAPPING_HINT}"),
    (
        "number",
        "42\n",
        f"expected a Kubernetes object (a mapping), got the number 42; {MAPPING_HINT}",
    ),
    (
        "string",
        "hello\n",
        f"expected a Kubernetes object (a mapping), got the string 'hello'; {MAPPING_HINT}",
    ),
    ("bool", "true\n", f"expected a Kubernetes object (a mapping), got a boolean; {MAPPING_HINT}"),
    (
        "missing-kind",
        "apiVersion: alertplane.io/v1alpha1\n",
        "kind: missing kind; set kind to one of CustomerAlert, CustomerReceiver, "
        "CustomerRecordingRule",
    ),
    (
        "kind-typo",
        "kind: CustomerReciever\n",
        "kind: unknown kind 'CustomerReciever'; did you mean CustomerReceiver?",
    ),
    (
        "foreign-kind",
        "kind: PrometheusRule\n",
        "kind: unknown kind 'PrometheusRule'; alertplane reads CustomerAlert, CustomerReceiver "
        "and CustomerRecordingRule",
    ),
    (
        "kind-number",
        "kind: 7\n",
        "kind: unknown kind 7; alertplane reads CustomerAlert, CustomerReceiver and "
        "CustomerRecordingRule",
    ),
    (
        "list-item",
        "kind: List\nitems: [7]\n",
        f"expected a Kubernetes object (a mapping), got the number 7; {MAPPING_HINT}",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in NOT_MANIFESTS], ids=[c[0] for c in NOT_MANIFESTS]
)
def test_a_document_that_is_no_manifest_is_named_by_file_and_line(text: str, expected: str) -> None:
    assert problems("# header\n" + text) == [f"m.yaml:2 (document 1): {expected}"]


def test_problems_come_in_document_order_within_a_file() -> None:
    text = dump({"kind": "Nope"}, alert(severity="x"), [1], receiver(webhook=[]))
    assert [p.split(":")[0] for p in problems(text)] == [
        "m.yaml",
        "CustomerAlert acme/acme-higherrorrate",
        "m.yaml",
        "CustomerReceiver acme/acme-oncall",
    ]


def test_problems_come_in_file_order(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: [\n")
    (tmp_path / "b.yaml").write_text(dump(receiver(webhook=[])))
    (tmp_path / "c.yaml").write_text(dump(alert(severity="x")))
    loaded = load_paths([str(tmp_path)])
    outcome = evaluate(loaded.documents, tools=False, earlier=loaded.problems)
    assert [p.split(":")[0] for p in map(str, outcome.problems)] == [
        f"{tmp_path}/a.yaml",
        "CustomerReceiver acme/acme-oncall",
        "CustomerAlert acme/acme-higherrorrate",
    ]


def test_undecodable_stdin_is_reported_not_raised() -> None:
    # sys.stdin decodes with surrogateescape: bad bytes arrive as lone surrogates.
    loaded = load_paths(["-"], stdin=io.StringIO("kind: \udcff\n"))
    assert [str(p) for p in loaded.problems] == [
        "<stdin>: input is not UTF-8 text; save it as UTF-8"
    ]


def test_a_name_with_a_newline_cannot_split_the_line() -> None:
    doc = alert()
    doc["metadata"] = {"name": "a\nb", "namespace": "acme"}
    assert problems(dump(doc)) == [
        "CustomerAlert acme/'a\\nb': metadata.name: 'a\\nb' is not a valid object name; use "
        "lower-case letters, digits, '-' and '.' (e.g. 'acme-high-error-rate')"
    ]


def test_yaml_only_types_get_the_same_messages() -> None:
    text = dump(receiver(route={"priority": "9" * 5000})).replace(
        "url: http://127.0.0.1:9097/acme/oncall", "url: !!binary /w=="
    )
    assert problems(text) == [
        "CustomerReceiver acme/acme-oncall: spec.webhook[0].url: expected a string, got bytes; "
        "quote it",
        "CustomerReceiver acme/acme-oncall: spec.route.priority: expected an integer, got a "
        "string; write an integer here",
    ]
