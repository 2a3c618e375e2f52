"""Hypothesis fuzzing of everything between bytes on disk and a verdict.

Garbage text, random documents and mutated valid manifests go through
`manifests.load_text` → `core.evaluate(tools=False)` → `render`, and through the CLI's
`main()`. Nothing may raise; every problem is one line with a field/source and a hint;
the CLI exits 0 or 1 (2 for usage) and never prints a traceback or an internal error;
whatever validation accepts, the renderer can render.
"""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.cli import main
from alertplane.core import evaluate
from alertplane.errors import Source
from alertplane.manifests import Document, load_text
from alertplane.render import render
from alertplane.render.platform import PlatformConfig
from alertplane.validate import parse_documents
from tests.support.factories import alert, receiver

EXAMPLES = int(os.environ.get("ALERTPLANE_FUZZ_EXAMPLES", "200"))  # raise it to hunt locally
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SMTP = PlatformConfig.model_validate(
    {"alertmanager": {"global": {"smtp_smarthost": "m:25", "smtp_from": "a@b.example"}}}
)

# Text a user might type, plus the characters YAML and Go templates care about.
YAML_CHARS = st.sampled_from([*":-[]{}#&*!|>'\"%@`,? \t\n", "---\n", "{{", "}}", "\\"])
yamlish = st.lists(st.one_of(YAML_CHARS, st.text(max_size=5)), max_size=60).map("".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet="\x00\x07\x1b\x85\u2028\ufeff\U0001f600 é", max_size=10),
    st.just("x" * 5000),
    st.sampled_from(["critical", "acme", "5m", "{{ if }}", 'up{customer_id="acme"}', "..."]),
)
keys = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=" \n\t\x00.:-_aZ9", max_size=4),
    st.sampled_from(["customer_id", "severity", "__name__", "runbook_url", "Summary", "..."]),
    st.integers(),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


def deep(depth: int) -> Any:
    out: Any = "x"
    for _ in range(depth):
        out = [out]
    return out


def check(text: str) -> None:
    """The pipeline's invariants on one input text."""
    loaded = load_text(text, "f.yaml")
    outcome = evaluate(loaded.documents, SMTP, tools=False, earlier=loaded.problems)
    for problem in outcome.problems:
        line = str(problem)
        assert "\n" not in line and "\r" not in line, line
        assert problem.hint, line
        assert problem.obj is not None or problem.source is not None, line
    assert outcome.ok == (not outcome.problems)
    rendered = render(outcome.valid, SMTP)  # whatever validation accepts can be rendered
    for text_out in rendered.files().values():
        yaml.safe_load(text_out)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    check(text)


@FUZZ
@given(yamlish)
def test_yaml_shaped_garbage(text: str) -> None:
    check(text)


@FUZZ
@given(st.lists(values, min_size=1, max_size=3))
def test_random_documents(docs: list[Any]) -> None:
    check(yaml.safe_dump_all(docs, allow_unicode=True))
    # Also straight from Python objects (what the API and the store hand to the core).
    parse_documents([Document(source=Source("f.yaml", 1, 1), data=d) for d in docs])


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key/index path in a manifest, to mutate one of them."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


BASES = [
    alert(),
    alert(
        urgency="high",
        labels={"team": "a"},
        annotations={"runbookUrl": "https://r", "description": "d", "x": "y"},
        keepFiringFor="5m",
        **{"for": "1m"},
    ),
    receiver(),
    receiver(
        email=[{"to": ["a@b.example"], "subjectTemplate": "s", "sendResolved": True}],
        slack=[{"apiURLSecretRef": {"name": "n", "key": "k"}, "channel": "#c"}],
        pagerduty=[{"routingKey": "k", "severity": "info", "description": "d"}],
        route={
            "priority": 1,
            "match": {"severity": ["critical"], "category": ["application"], "labels": {"a": "b"}},
            "groupBy": ["alertname"],
            "groupWait": "1s",
            "continue": True,
        },
    ),
]
MUTATION = st.sampled_from(["set", "delete", "rename", "wrap", "deep"])


@FUZZ
@given(st.sampled_from(range(len(BASES))), st.data())
def test_mutated_manifests(base: int, data: st.DataObject) -> None:
    doc = copy.deepcopy(BASES[base])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths), label="path")
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        how = data.draw(MUTATION, label="how")
        if how == "set":
            parent[last] = data.draw(values, label="value")
        elif how == "delete":
            del parent[last]
        elif how == "rename" and isinstance(parent, dict):
            parent[data.draw(keys, label="key")] = parent.pop(last)
        elif how == "wrap":
            parent[last] = [parent[last]]
        else:
            parent[last] = deep(data.draw(st.integers(1, 150), label="depth"))
    check(yaml.safe_dump(doc, allow_unicode=True))


@settings(
    max_examples=max(EXAMPLES // 3, 1), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(text=st.one_of(st.text(max_size=200), yamlish, values.map(yaml.safe_dump)))
def test_cli_validate_never_fails_badly(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code = main(["validate", "--no-tools", "-f", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert "Traceback" not in out + err and "internal error" not in err
    assert (code == 0) == (out == "")


ARGS = st.sampled_from(
    ["validate", "render", "-f", "-", "--out", "OUT", "FILE", "--no-tools", "--bogus",
     "--platform-config", "--filename", "x/y", ""]
)  # fmt: skip


@settings(
    max_examples=max(EXAMPLES // 3, 1), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(argv=st.lists(ARGS, max_size=6), stdin=st.text(max_size=50))
def test_cli_arguments_never_fail_badly(
    argv: list[str],
    stdin: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump(alert(annotations={})))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    argv = [{"OUT": str(tmp_path / "out"), "FILE": str(manifest)}.get(a, a) for a in argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, err)
    assert "Traceback" not in out + err and "internal error" not in err
