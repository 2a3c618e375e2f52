"""deploy/argocd/health.lua on status samples of every phase, run by a real Lua 5.1 (lupa).

Argo CD runs health checks in gopher-lua, a Lua 5.1: the script gets the object as the
global `obj` (JSON numbers become Lua numbers, absent fields nil) and returns a table
with `status` and `message`. lupa's lua51 module runs the same language.
"""

from __future__ import annotations

from typing import Any

import pytest
from lupa import lua51

from tests.support.paths import ROOT

ARGOCD = ROOT / "deploy" / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
KINDS = ("CustomerAlert", "CustomerReceiver")


def health(obj: dict[str, Any]) -> dict[str, str]:
    lua = lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT)
    return {str(k): str(v) for k, v in result.items()}


def cond(kind: str, status: str, reason: str, message: str = "") -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }


def obj(kind: str, status: dict[str, Any] | None, generation: int = 3) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "acme-x", "namespace": "acme", "generation": generation},
        "spec": {"customerId": "acme"},
    }
    if status is not None:
        out["status"] = status
    return out


def status(phase: str, *conditions: dict[str, str], observed: int = 3) -> dict[str, Any]:
    return {
        "observedGeneration": observed,
        "phase": phase,
        "conditions": list(conditions),
        "renderedTo": ["rules/acme.yml"],
        "lastSyncTime": "2025-01-01T00:00:00Z",
    }


VALID = cond("Valid", "True", "Validated")
RELOADED = cond("Synced", "True", "Reloaded")
PROBLEM = 'spec.expr: selector up{} has no customer_id="acme" matcher'

CASES: dict[str, tuple[dict[str, Any] | None, str, str]] = {
    # name: (status, expected health, expected message (substring))
    "no status": (None, "Progressing", "Waiting for alertplane"),
    "empty status": ({}, "Progressing", "Waiting for alertplane"),
    "synced": (status("Synced", VALID, RELOADED), "Healthy", "Live in Prometheus"),
    "synced, written": (
        status("Synced", VALID, cond("Synced", "True", "Written", "written to rules/acme.yml")),
        "Healthy",
        "written to rules/acme.yml",
    ),
    "synced for an older generation": (
        status("Synced", VALID, RELOADED, observed=2),
        "Progressing",
        "generation 3",
    ),
    "no observedGeneration": (
        {k: v for k, v in status("Synced", VALID, RELOADED).items() if k != "observedGeneration"},
        "Progressing",
        "generation 3",
    ),
    "pending": (
        status("Pending", VALID, cond("Synced", "False", "Pending", "waiting for the reload")),
        "Progressing",
        "waiting for the reload",
    ),
    "pending, no message": (
        status("Pending", VALID, cond("Synced", "False", "Pending")),
        "Progressing",
        "Waiting for the next sync",
    ),
    "invalid": (
        status("Invalid", cond("Valid", "False", "Invalid", PROBLEM), RELOADED),
        "Degraded",
        PROBLEM,
    ),
    "invalid for an older generation": (
        status("Invalid", cond("Valid", "False", "Invalid", PROBLEM), observed=2),
        "Progressing",
        "generation 3",
    ),
    "invalid, no conditions": (
        {"observedGeneration": 3, "phase": "Invalid"},
        "Degraded",
        "failed validation",
    ),
    "failed": (
        status(
            "Failed",
            VALID,
            cond("Synced", "False", "ReloadFailed", "POST /-/reload: connection refused"),
        ),
        "Degraded",
        "connection refused",
    ),
    "disabled": (
        status("Disabled", VALID, RELOADED),
        "Healthy",
        "Disabled (spec.enabled: false)",
    ),
    "unknown phase": (status("Exploded"), "Unknown", "Exploded"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_health(case: str, kind: str) -> None:
    sample, want, message = CASES[case]
    got = health(obj(kind, sample))
    assert got["status"] == want, got
    assert message in got["message"], got


def test_every_phase_is_covered() -> None:
    from alertplane.crds import PHASES

    phases = {c[0]["phase"] for c in CASES.values() if c[0] and "phase" in c[0]}
    assert set(PHASES) <= phases


def test_object_without_generation_uses_phase() -> None:
    sample = obj("CustomerAlert", status("Synced", VALID, RELOADED))
    del sample["metadata"]["generation"]
    assert health(sample)["status"] == "Healthy"


def argocd_cm_snippet() -> str:
    """The argocd-cm the README shows: health.lua under one key per kind."""
    body = "".join(
        f"    {line}" if line.strip() else line for line in SCRIPT.splitlines(keepends=True)
    )
    head = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\n"
        "  labels:\n    app.kubernetes.io/part-of: argocd\ndata:\n"
    )
    keys = "".join(
        f"  resource.customizations.health.alertplane.io_{kind}: |\n{body}" for kind in KINDS
    )
    return head + keys


def test_readme_embeds_current_script() -> None:
    snippet = argocd_cm_snippet()
    readme = (ARGOCD / "README.md").read_text()
    assert f"```yaml\n{snippet}```\n" in readme, (
        "deploy/argocd/README.md does not embed the current health.lua; replace its argocd-cm "
        f"block with:\n\n{snippet}"
    )


def test_snippet_parses_back_to_the_script() -> None:
    import yaml

    cm = yaml.safe_load(argocd_cm_snippet())
    for kind in KINDS:
        assert cm["data"][f"resource.customizations.health.alertplane.io_{kind}"] == SCRIPT
