"""Prometheus' own PromQL parser as a test oracle: hack/promql-ast (built from the Go
module prometheus-operator v0.85.0 builds with) prints each expression's tree as JSON.

One long-lived process answers line by line, so a property test can ask it thousands of
times. Missing Go fails loudly (build.sh's message), never skips.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from typing import Any

from tests.support.paths import ROOT

TENANT = "customer_id"


@cache
def binary() -> str:
    done = subprocess.run(
        [str(ROOT / "hack/promql-ast/build.sh")], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, f"hack/promql-ast/build.sh failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip().splitlines()[-1]


class Oracle:
    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [binary()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def tree(self, expr: str) -> dict[str, Any]:
        """{"ast": ...} or {"error": "<Prometheus' message>"}."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(expr) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        assert line, f"promql-ast exited ({self._proc.poll()}) on {expr!r}"
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=60)


def with_tenant(tree: Any, customer: str) -> Any:
    """The tree with `customer_id="<customer>"` on every selector lacking it: what an
    injection must produce, in the oracle's terms."""
    if isinstance(tree, list):
        return [with_tenant(t, customer) for t in tree]
    if not isinstance(tree, dict):
        return tree
    out = {k: with_tenant(v, customer) for k, v in tree.items()}
    if tree.get("t") == "selector":
        matcher = f'{TENANT}="{customer}"'
        if matcher not in tree["matchers"]:
            out["matchers"] = sorted([*tree["matchers"], matcher])
    return out
