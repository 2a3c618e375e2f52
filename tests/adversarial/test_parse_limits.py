"""Deeply nested or huge PromQL never reaches the native parser: every door answers a
clear problem on `spec.expr` naming the limit, and no expression crashes the process.

The native promql-parser recurses per nesting level: ~5,000 levels overflowed an 8 MB
stack (SIGSEGV for `validate`, `render`, `apply`, `serve` and the operator), and its time
grows with the square of the depth. The worst inputs run in subprocesses, where a crash
is a negative return code instead of a dead test run. Timings never decide pass/fail.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.validate.promql import check_expr
from alertplane.validate.promql_limits import MAX_DEPTH, MAX_EXPR_CHARS, depth
from tests.support.api_env import ACME, ApiEnv, api_env
from tests.support.factories import alert
from tests.support.operator_env import wait_for
from tests.support.paths import ROOT
from tests.support.webhook import NS, kubectl_apply

SEL = 'up{customer_id="acme"}'
OPERATOR = ROOT / "operator"

# The shapes of the issue, each as deep as asked: (name, expression of n levels).
SHAPES: dict[str, Callable[[int], str]] = {
    "parens": lambda n: "(" * n + SEL + ")" * n,
    "unary": lambda n: "-" * n + SEL,
    "abs": lambda n: "abs(" * n + SEL + ")" * n,
    "sum by": lambda n: "sum by (job) (" * n + SEL + ")" * n,
    "plus chain": lambda n: " + ".join([SEL] * n),
    "or chain": lambda n: " or ".join([SEL] * n),
    "pow chain": lambda n: " ^ ".join([SEL] * n),
    "subqueries": lambda n: "max_over_time(" * (n // 2) + SEL + "[5m:])" * (n // 2),
    "mixture": lambda n: "-(abs(" * (n // 3) + SEL + "))" * (n // 3) + " + 1" * (n % 3),
}
# The issue's sizes: 9,000 unary minus, 10,000 parentheses, 6,000 abs(, 5,000-term chains.
WORST = {
    "unary": 9000,
    "parens": 10000,
    "abs": 6000,
    "plus chain": 5000,
    "or chain": 5000,
    "sum by": 3000,
    "pow chain": 5000,
    "subqueries": 3000,
    "mixture": 6000,
}
DEEP = f"nests {{}} levels deep; the limit is {MAX_DEPTH}"
LONG = f"characters long; the limit is {MAX_EXPR_CHARS}"


def refusal(expr: str) -> str:
    """The one problem check_expr must answer for an over-limit expression."""
    problems = check_expr(expr, "acme")
    assert len(problems) == 1, problems
    assert problems[0].path == "spec.expr"
    return problems[0].message


def over_limit(message: str) -> bool:
    return f" levels deep; the limit is {MAX_DEPTH} " in message or LONG in message


# -- the limits themselves ----------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_just_over_the_depth_limit_is_refused(shape: str) -> None:
    expr = SHAPES[shape](MAX_DEPTH + 3)
    assert len(expr) <= MAX_EXPR_CHARS
    message = refusal(expr)
    assert message.startswith("expression nests ") and message.endswith(
        f"levels deep; the limit is {MAX_DEPTH} (each parenthesis, function call, unary "
        "sign and chained binary operator is a level)"
    ), message


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_at_a_real_rules_depth_passes(shape: str) -> None:
    # Real rules nest at most 13 levels (benchmarks/README.md "Adversarial limits"): 3x that.
    assert check_expr(SHAPES[shape](44), "acme") == []


@pytest.mark.parametrize("shape", WORST)
def test_the_issues_inputs_are_refused_without_parsing(shape: str) -> None:
    expr = SHAPES[shape](WORST[shape])
    message = refusal(expr)
    assert over_limit(message), message
    if len(expr) <= MAX_EXPR_CHARS:
        assert message.startswith("expression nests "), message
    else:
        assert message == f"expression is {len(expr)} {LONG}"


def test_length_is_bounded_even_without_nesting() -> None:
    flat = SEL + " " * MAX_EXPR_CHARS
    assert refusal(flat) == f"expression is {len(flat)} {LONG}"
    assert check_expr(SEL + " " * (MAX_EXPR_CHARS - len(SEL)), "acme") == []


# -- the pre-parse measure bounds the real tree ---------------------------------------------
def ast_depth(node: Any) -> int:
    """Depth of promql-parser's tree (iterative: the trees here are small)."""
    children = {
        pp.BinaryExpr: ("lhs", "rhs"),
        pp.UnaryExpr: ("expr",),
        pp.ParenExpr: ("expr",),
        pp.AggregateExpr: ("param", "expr"),
        pp.SubqueryExpr: ("expr",),
    }
    deepest, stack = 0, [(node, 0)]
    while stack:
        current, level = stack.pop()
        if current is None:
            continue
        deepest = max(deepest, level)
        if isinstance(current, pp.Call):
            stack.extend((arg, level + 1) for arg in current.args)
        for attr in children.get(type(current), ()):
            stack.append((getattr(current, attr), level + 1))
    return deepest


def expressions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(
        [SEL, "1", f"rate({SEL[:-1]}}}[5m])", f'{SEL[:-1]},job=~"a|b"}}', "vector(0)"]
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.sampled_from(["+", "-", "*", "/", "^", "==", "> bool", "and", "or", "unless"])
        return st.one_of(
            inner.map(lambda e: f"({e})"),
            inner.map(lambda e: f"-{e}"),
            inner.map(lambda e: f"+ {e}"),
            inner.map(lambda e: f"abs({e})"),
            inner.map(lambda e: f"sum by (job) ({e})"),
            inner.map(lambda e: f"({e})[5m:1m]"),
            inner.map(lambda e: f"clamp_min({e}, 0)"),
            st.tuples(inner, binary, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(inner, binary, inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
            st.lists(inner, min_size=2, max_size=6).map(" or ".join),
        )

    return st.recursive(leaf, extend, max_leaves=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_the_token_measure_is_never_below_the_trees_depth(expr: str) -> None:
    try:
        tree = pp.parse(expr)  # small by construction: safe to parse directly here
    except ValueError:
        return  # not valid PromQL (e.g. a subquery of a scalar): the parser says so
    assert depth(expr) >= ast_depth(tree), expr


# -- one entry to the parser ---------------------------------------------------------------
def test_nothing_but_the_guarded_entry_calls_the_native_parser() -> None:
    callers = [
        str(path.relative_to(OPERATOR))
        for path in sorted((OPERATOR / "alertplane").rglob("*.py"))
        if "promql_parser" in path.read_text(encoding="utf-8")
    ]
    assert callers == ["alertplane/validate/promql.py"]


# -- no crash even if the measure were wrong (defence in depth) ---------------------------
_UNGUARDED = """
import sys
from alertplane.validate import promql, promql_limits
promql.check_size = lambda expr: None  # as if the token measure let everything through
{patch}
problems = promql.check_expr("abs(" * 2500 + 'up{{customer_id="acme"}}' + ")" * 2500, "acme")
print("answered", problems)
"""


def _run_on_small_stack(patch: str) -> subprocess.CompletedProcess[str]:
    """The script in a process whose main thread has a 1 MB stack (a 2,500-level tree
    needs ~4 MB), as threads of other runtimes may have."""

    def small_stack() -> None:
        resource.setrlimit(resource.RLIMIT_STACK, (1024 * 1024, resource.RLIM_INFINITY))

    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_UNGUARDED.format(patch=patch))],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=small_stack,
        env={**os.environ, "PYTHONPATH": str(OPERATOR)},
    )


def test_a_deep_tree_is_parsed_on_a_large_stack_not_the_callers() -> None:
    answered = _run_on_small_stack("")
    assert answered.returncode == 0, answered.stderr[-2000:]
    assert "answered []" in answered.stdout
    # The control: on the caller's 1 MB stack the same parse is killed, so the test above
    # would notice the large stack going away.
    crashed = _run_on_small_stack("promql.SMALL_EXPR = 10**9")
    assert crashed.returncode < 0, (crashed.returncode, crashed.stdout, crashed.stderr[-500:])


# -- every door ---------------------------------------------------------------------------
def _worst_documents() -> list[dict[str, Any]]:
    return [
        alert("acme", name=f"Worst{i}", expr=SHAPES[s](n)) for i, (s, n) in enumerate(WORST.items())
    ]


@pytest.fixture
def worst_file(tmp_path: Path) -> Path:
    path = tmp_path / "worst.yaml"
    path.write_text(yaml.safe_dump_all(_worst_documents(), width=10**9), encoding="utf-8")
    return path


def _problem_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "spec.expr:" in line]


@pytest.mark.parametrize("command", ["validate", "render", "apply"])
def test_cli_doors_refuse_the_worst_inputs_in_a_real_process(
    command: str, worst_file: Path, tmp_path: Path
) -> None:
    platform = tmp_path / "platform.yaml"
    platform.write_text(f"secretsDir: {tmp_path / 'secrets'}\n")
    extra = {
        "validate": [],
        "render": ["--out", str(tmp_path / "out")],
        "apply": ["--db", f"sqlite:///{tmp_path / 'a.db'}", "--actor", "mallory"],
    }[command]
    run = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", command, "-f", str(worst_file),
         "--platform-config", str(platform), *extra],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(OPERATOR)},
    )  # fmt: skip
    # Every door refuses them (apply too: one admission, tests/adversarial/test_door_agreement.py).
    assert run.returncode == 1, (run.returncode, run.stdout[-1000:], run.stderr[-2000:])
    assert "Traceback" not in run.stdout + run.stderr
    lines = _problem_lines(run.stdout + run.stderr)
    assert len(lines) == len(WORST), run.stdout + run.stderr
    assert all(over_limit(line) for line in lines), lines


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'api.db'}", tmp_path) as env:
        yield env


def test_api_doors_refuse_the_worst_inputs(api: ApiEnv) -> None:
    body = yaml.safe_dump_all(_worst_documents(), width=10**9)
    yaml_type = {**ACME, "content-type": "application/yaml"}
    r = api.client.post("/validate", content=body, headers=yaml_type)
    assert r.status_code == 200 and r.json()["valid"] is False
    problems = r.json()["problems"]
    assert [p["path"] for p in problems] == ["spec.expr"] * len(WORST)
    assert all(over_limit(p["message"]) for p in problems), problems
    r = api.client.post("/import", content=body, headers=yaml_type)
    assert r.status_code == 422
    assert [p["path"] for p in r.json()["problems"]] == ["spec.expr"] * len(WORST)
    for doc in _worst_documents()[:3]:
        r = api.client.post("/customers/acme/alerts", json=doc["spec"], headers=ACME)
        assert r.status_code == 422, r.text
        [problem] = r.json()["problems"]
        assert problem["path"] == "spec.expr" and over_limit(problem["message"])
    assert api.client.get("/customers/acme/alerts", headers=ACME).json() == {"items": []}
    assert api.client.get("/healthz").status_code == 200


def test_webhook_handler_denies_the_worst_inputs() -> None:
    import kopf

    from alertplane.k8s.handlers import Handlers
    from alertplane.k8s.state import ClusterState
    from alertplane.render.platform import PlatformConfig

    handlers = Handlers(ClusterState(), Any, PlatformConfig(), False, Any)  # type: ignore[arg-type]
    for doc in _worst_documents():
        with pytest.raises(kopf.AdmissionError) as denied:
            handlers.admit(doc, {"username": "mallory"}, operation="CREATE")
        assert "spec.expr: expression " in str(denied.value)
        assert over_limit(str(denied.value))


def test_promtool_takes_the_deepest_and_longest_allowed_rules_quickly(tmp_path: Path) -> None:
    """What passes the limits goes on to promtool: it must answer, not hang or crash."""
    from alertplane.validate.tools import tool_path

    at_limit = [SHAPES[s](MAX_DEPTH - 1) for s in SHAPES if s != "mixture"]
    at_limit.append(SEL + " " + "#" * (MAX_EXPR_CHARS - len(SEL) - 1))
    for expr in at_limit:
        assert check_expr(expr, "acme") == [], expr[:80]
    rules = [{"alert": f"A{i}", "expr": e} for i, e in enumerate(at_limit)]
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "g", "rules": rules}]}))
    run = subprocess.run(
        [tool_path("promtool"), "check", "rules", str(path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


# -- the admission webhook and the operator on a real API server ---------------------------
def _webhook_post(url: str, body: bytes) -> int:
    """POST straight to the webhook port (as anything in the cluster network could)."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    req = urllib.request.Request(
        url, data=body, headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=300, context=context) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_webhook_on_a_real_api_server_denies_and_survives(hooked: tuple[Any, str]) -> None:
    cluster, _ = hooked
    deep = alert(NS, name="Deep", expr=SHAPES["unary"](WORST["unary"]))

    def refused() -> str | None:
        out = kubectl_apply(cluster, deep)
        return out.stderr if out.returncode != 0 and "denied the request" in out.stderr else None

    stderr = wait_for(refused, 60, "the webhook's refusal")
    assert "spec.expr: expression nests 9000 levels deep; the limit is 64" in stderr
    assert cluster.get("CustomerAlert", NS, f"{NS}-deep") is None

    # Hostile admission reviews sent to the webhook port itself: each is answered.
    config = json.loads(
        cluster.env.kubectl("get", "validatingwebhookconfigurations", "-o", "json").stdout
    )
    url = next(
        hook["clientConfig"]["url"]
        for item in config["items"]
        for hook in item["webhooks"]
        if "customeralert" in hook["clientConfig"]["url"]
    )

    def review(obj: Any) -> bytes:
        request = {
            "uid": "u1", "operation": "CREATE", "userInfo": {"username": "mallory"},
            "resource": {"group": "alertplane.io", "version": "v1alpha1",
                         "resource": "customeralerts"},
            "kind": {"group": "alertplane.io", "version": "v1alpha1", "kind": "CustomerAlert"},
            "object": obj,
        }  # fmt: skip
        return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "request": request}).encode()  # fmt: skip

    nested = alert(NS, name="Nested")
    nested["spec"]["labels"] = json.loads("[" * 900 + "]" * 900)
    for body in (
        review(deep),
        review(nested),
        b"[" * 100_000 + b"]" * 100_000,
        review(alert(NS)).replace(b'"critical"', b"1" * 100_000),
        b" " * (2 << 20),
    ):
        assert _webhook_post(url, body) in {200, 400, 413, 500}
    # Still admitting (the operator process is alive) and still denying.
    assert kubectl_apply(cluster, alert(NS, name="After")).returncode == 0
    assert "expression nests" in (refused() or "")
