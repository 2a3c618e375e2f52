"""YAML and JSON bodies that expand, nest or convert without bound are refused, with the
file (or body) and line, at every door that reads manifests: CLI validate/render/apply,
API /validate and /import (YAML and JSON), the admission webhook's handler.

The 11-byte `a: &a [*a]` and "billion laughs" hung `/validate` and `/import` for ever (a
dozen exhausted the worker pool); a 100,000-digit integer was a 500. Every call here runs
with a generous timeout so that a hang fails the test instead of stalling the suite;
timings never decide pass/fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.manifests import MAX_DEPTH, MAX_DOCUMENTS, load_text
from tests.support.api_env import ACME, ApiEnv, api_env
from tests.support.factories import alert
from tests.support.paths import ROOT

T = TypeVar("T")
OPERATOR = ROOT / "operator"
ALERT = yaml.safe_dump(alert("acme"), sort_keys=False)


def laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def with_labels(value: str) -> str:
    """The valid alert with `spec.labels` replaced by `value` (a YAML flow node)."""
    return ALERT + f"  labels: {value}\n"


ALIAS = "YAML aliases (*name) are not accepted"
ALIAS_HINT = (
    "write the value out where the alias is; an alias can make a small document expand "
    "without bound"
)
DEEP = f"nesting deeper than {MAX_DEPTH} levels"
GIANT = "1" * 100_000
TOO_LONG = "an integer with 100000 digits is longer than can be read"

# name → (body, (document, line, message) of the one problem every door must report)
N = len(ALERT.splitlines())  # the lines of the valid alert; what is appended follows it
EXPR_LINE = 1 + next(i for i, line in enumerate(ALERT.splitlines()) if "expr:" in line)

# name → (body, (document, line, message) of the one problem every door must report)
BOMBS: dict[str, tuple[str, tuple[int, int, str]]] = {
    "self-reference": ("a: &a [*a]", (1, 1, ALIAS)),
    "billion laughs": (laughs(), (1, 2, ALIAS)),
    "alias in a manifest": (f"x: &x {{team: a}}\n---\n{with_labels('*x')}", (2, N + 3, ALIAS)),
    "merge key": (f"defaults: &m {{team: a}}\n{ALERT}  labels:\n    <<: *m\n", (1, N + 3, ALIAS)),
    "deep nesting": ("[" * 10_000 + "]" * 10_000, (1, 1, DEEP)),
    "giant integer": (
        ALERT + f"  for: {GIANT}\n",
        (
            1,
            N + 1,
            f"invalid YAML, column 8: {TOO_LONG}",
        ),
    ),
    "giant integer expr": (
        ALERT.replace("  expr: ", f"  expr: {GIANT}\n  x: "),
        (1, EXPR_LINE, TOO_LONG),
    ),
    "impossible date": (
        ALERT + "  for: 2001-13-45\n",
        (1, N + 1, "invalid YAML, column 8: cannot read '2001-13-45': month must be in 1..12"),
    ),
    "too many documents": (
        "a: 1\n---\n" * (MAX_DOCUMENTS + 5),
        (MAX_DOCUMENTS + 1, 2 * MAX_DOCUMENTS + 1, f"more than {MAX_DOCUMENTS} documents"),
    ),
}


def in_time(fn: Callable[[], T], seconds: float = 300) -> T:
    """`fn()`, failing (not hanging) if it does not answer within `seconds`."""
    out: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no answer within {seconds:.0f} s"
    if errors:
        raise errors[0]
    return out[0]


def _matches(problem: str, name: str) -> None:
    document, line, message = BOMBS[name][1]
    assert message in problem, problem
    if line:
        assert f":{line} (document {document})" in problem, problem


# -- the loader ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", BOMBS)
def test_the_loader_names_file_line_and_reason(name: str) -> None:
    loaded = in_time(lambda: load_text(BOMBS[name][0], "bomb.yaml"))
    assert len(loaded.problems) == 1, loaded.problems
    _matches(str(loaded.problems[0]), name)
    if BOMBS[name][1][2] == ALIAS:
        assert loaded.problems[0].hint == ALIAS_HINT


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["team", "tier", "zone", "owner"]), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=3),
    st.booleans(),
)
def test_an_alias_anywhere_is_refused_at_its_line(keys: list[str], at: int, flow: bool) -> None:
    """Aliases placed in random spots of a real manifest: always refused, at their line."""
    at = min(at, len(keys) - 1)
    lines = ALERT.splitlines()
    labels = ["  labels:"]
    for i, key in enumerate(keys):
        if i == 0:
            labels.append(f"    {key}{i}: &v{i} value")
        elif i == at:
            labels.append(f"    {key}{i}: {'[*v0]' if flow else '*v0'}")
        else:
            labels.append(f"    {key}{i}: v")
    if at == 0:
        labels.append("    again: *v0")
    text = "\n".join([*lines, *labels]) + "\n"
    alias_line = next(n for n, line in enumerate(text.splitlines(), 1) if "*v0" in line)
    loaded = load_text(text, "x.yaml")
    assert [str(p).split(": ", 1)[0] for p in loaded.problems] == [
        f"x.yaml:{alias_line} (document 1)"
    ]
    assert loaded.problems[0].message == ALIAS


def test_what_looks_like_an_anchor_but_is_text_is_still_read() -> None:
    # The fast path only skips texts without a possible anchor; these must load unchanged.
    text = with_labels('{a: "x &y", b: "https://x/?q=1&r=2", c: "5.*"}')
    loaded = load_text(text)
    assert loaded.problems == []
    assert loaded.documents[0].data["spec"]["labels"]["a"] == "x &y"


# -- CLI doors (real processes: a hang is a timeout, a crash a negative code) -----------
@pytest.mark.parametrize("command", ["validate", "render", "apply"])
@pytest.mark.parametrize(
    "name", ["self-reference", "billion laughs", "giant integer", "deep nesting"]
)
def test_cli_doors(command: str, name: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMBS[name][0], encoding="utf-8")
    extra = {
        "validate": [],
        "render": ["--out", str(tmp_path / "out")],
        "apply": ["--db", f"sqlite:///{tmp_path / 'a.db'}", "--actor", "mallory"],
    }[command]
    run = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", command, "-f", str(bomb), *extra],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(OPERATOR)},
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 1, (run.returncode, output[-2000:])
    assert "Traceback" not in output
    _matches(output, name)
    assert str(bomb) in output


# -- API doors ----------------------------------------------------------------------------
@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'api.db'}", tmp_path) as env:
        yield env


YAML_BODY = {**ACME, "content-type": "application/yaml"}
JSON_BODY = {**ACME, "content-type": "application/json"}


@pytest.mark.parametrize("name", BOMBS)
def test_api_validate_and_import(api: ApiEnv, name: str) -> None:
    body = BOMBS[name][0]
    r = in_time(lambda: api.client.post("/validate", content=body, headers=YAML_BODY))
    assert r.status_code == 200 and r.json()["valid"] is False, r.text[:500]
    [problem] = r.json()["problems"]
    _matches(problem["text"].replace("body:", ":"), name)
    r = in_time(lambda: api.client.post("/import", content=body, headers=YAML_BODY))
    assert r.status_code == 422, r.text[:500]
    [problem] = r.json()["problems"]
    _matches(problem["text"].replace("body:", ":"), name)
    assert api.client.get("/healthz").status_code == 200


JSON_BOMBS = {
    "deep arrays": ("[" * 100_000 + "]" * 100_000, DEEP),
    "deep but parseable": (
        '{"kind": "CustomerAlert", "spec": ' + "[" * 500 + "]" * 500 + "}",
        DEEP,
    ),
    "giant integer": (
        '{"kind": "CustomerAlert",\n "spec": {"for": ' + GIANT + "}}",
        "body:2: an integer with 100000 digits is longer than can be read",
    ),
    "too many documents": ("[" + ",".join(["{}"] * (MAX_DOCUMENTS + 1)) + "]", "more than"),
}


@pytest.mark.parametrize("name", JSON_BOMBS)
def test_api_json_bodies(api: ApiEnv, name: str) -> None:
    body, expected = JSON_BOMBS[name]
    for path, status in (("/validate", 200), ("/import", 422)):
        r = in_time(lambda p=path: api.client.post(p, content=body, headers=JSON_BODY))
        assert r.status_code == status, r.text[:500]
        [problem] = r.json()["problems"]
        assert expected in problem["text"], problem


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"alertName": ' + GIANT + "}"],
    ids=["deep", "giant integer"],
)
def test_api_object_routes_refuse_json_bombs(api: ApiEnv, body: str) -> None:
    r = in_time(lambda: api.client.post("/customers/acme/alerts", content=body, headers=JSON_BODY))
    assert r.status_code == 422, r.text[:500]
    assert r.json()["problems"][0]["message"] == "the body could not be parsed"


def test_api_bodies_are_bounded_while_read(api: ApiEnv) -> None:
    limit = 16 * 1024 * 1024
    too_big = b"#" * (limit + 1)
    answer = {
        "detail": f"the body is larger than {limit} bytes",
        "problems": [
            {
                "path": "",
                "message": f"the body is larger than {limit} bytes",
                "hint": "send fewer objects per request",
                "text": f"the body is larger than {limit} bytes; send fewer objects per request",
            }
        ],
    }
    for path in ("/validate", "/import", "/customers/acme/alerts"):
        r = api.client.post(path, content=too_big, headers=YAML_BODY)  # Content-Length
        assert (r.status_code, r.json()) == (413, answer)

        def chunked() -> Iterator[bytes]:  # no Content-Length: counted while read
            for _ in range(17):
                yield b"#" * (1024 * 1024)

        r = api.client.post(path, content=chunked(), headers=YAML_BODY)
        assert (r.status_code, r.json()) == (413, answer)
    # Under the limit, a big (10 MB) body is read and judged.
    r = in_time(lambda: api.client.post("/validate", content=b"#" * (10 << 20), headers=YAML_BODY))
    assert r.status_code == 200


def test_api_a_huge_single_document_answers(api: ApiEnv) -> None:
    body = with_labels("{team: " + "x" * (8 << 20) + "}")
    r = in_time(lambda: api.client.post("/validate", content=body, headers=YAML_BODY))
    assert r.status_code == 200


# -- the webhook's handler: admission bodies are JSON the API server already decoded ----
def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"labels": _nested(900)}, DEEP),
        ({"annotations": {"description": _nested(900)}}, DEEP),
        ({"for": 10**4000}, "spec.for: "),
        ({"labels": {"team": ["x" * (4 << 20)]}}, "spec.labels.team: "),
    ],
    ids=["deep labels", "deep annotation", "huge integer", "huge string"],
)
def test_webhook_handler_denies_without_crashing(spec: dict[str, Any], problem: str) -> None:
    import kopf

    from alertplane.k8s.handlers import Handlers
    from alertplane.k8s.state import ClusterState
    from alertplane.render.platform import PlatformConfig

    handlers = Handlers(ClusterState(), Any, PlatformConfig(), False, Any)  # type: ignore[arg-type]
    body = alert("acme")
    body["spec"].update(spec)
    with pytest.raises(kopf.AdmissionError) as denied:
        in_time(lambda: handlers.admit(body, {"username": "mallory"}, operation="CREATE"))
    assert str(denied.value).startswith(f"CustomerAlert acme/acme-higherrorrate: {problem}")
