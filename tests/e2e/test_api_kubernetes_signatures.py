"""The REST API's signed change notes in Kubernetes mode: a signature does not survive a
delete and recreate, and a create's signature replayed later is not the tokens'."""

from __future__ import annotations

from typing import Any

import pytest

from alertplane.k8s.changes import CHANGE_SOURCE, CHANGED_AT, CHANGED_BY
from alertplane.kube.client import ApiError
from alertplane.kube.paths import api_path
from alertplane.kube.signing import SIGNATURE
from tests.support.api_env import ACME, alert_spec
from tests.support.api_k8s_env import ALERT, ALERTS, Env
from tests.support.operator_env import wait_for


@pytest.fixture
def env(kube_api: Env) -> Env:
    return kube_api


def _recreate(env: Env, name: str, spec: dict[str, Any], notes: dict[str, str]) -> None:
    """As a tenant could: delete the object, create it again (a new uid) as field manager
    `alertplane-api` with `notes` (copied signed annotations) and `spec`."""
    path = api_path(*ALERTS, "acme", name)
    env.cluster.api.request("DELETE", path)
    wait_for(lambda: env.cr(ALERT, name) is None, 20, "the object deleted")
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": ALERT,
        "metadata": {"name": name, "namespace": "acme", "annotations": notes},
        "spec": spec,
    }
    env.cluster.api.request("POST", api_path(*ALERTS, "acme"), doc, AS_API)


AS_API = {"fieldManager": "alertplane-api"}


def _audit_after_delete(env: Env, name: str, rows: int) -> list[Any]:
    def check() -> list[Any] | None:
        audit = env.audit(name)
        deleted = max(i for i, a in enumerate(audit) if a[0] == "delete")
        after = audit[deleted + 1 :]
        return after if len(after) >= rows else None

    got: list[Any] = wait_for(check, 20, "the recreated object's audit")
    return got


def test_signatures_do_not_survive_delete_and_recreate(env: Env) -> None:
    """A tenant keeps the API's signed annotations of generation N, deletes the object,
    creates it again (new uid), edits it to the same spec at generation N and writes the
    annotations back as `alertplane-api`: not the token's (the uid is signed)."""
    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Replay"), headers=ACME)
    assert r.status_code == 201, r.text
    first = env.cr(ALERT, "acme-replay")
    assert first is not None
    warning = alert_spec("Replay", severity="warning")
    r = c.put("/customers/acme/alerts/Replay?wait=true", json=warning, headers=ACME)
    assert r.status_code == 200, r.text
    second = env.cr(ALERT, "acme-replay")
    assert second is not None and second["metadata"]["generation"] == 2
    copied = second["metadata"]["annotations"]

    _recreate(env, "acme-replay", {**first["spec"]}, {})

    def replayed() -> dict[str, Any] | None:
        # Re-read each try: the operator adds its finalizer and status meanwhile (409).
        again = env.cr(ALERT, "acme-replay")
        assert again is not None and again["metadata"]["uid"] != second["metadata"]["uid"]
        replay = {k: v for k, v in again.items() if k != "status"}
        meta = {k: v for k, v in again["metadata"].items() if k != "managedFields"}
        replay["metadata"] = meta
        meta["annotations"] = {**(meta.get("annotations") or {}), **copied}
        replay["spec"] = second["spec"]
        try:
            path = api_path(*ALERTS, "acme", "acme-replay")
            out: dict[str, Any] = env.cluster.api.request("PUT", path, replay, AS_API)
        except ApiError as exc:
            if exc.status == 409:
                return None
            raise
        return out

    out = wait_for(replayed, 20, "the replayed annotations written")
    assert out["metadata"]["generation"] == 2
    got = _audit_after_delete(env, "acme-replay", 2)
    assert got[1] == ("update", 2, "alertplane-api", "kubernetes"), got


def test_a_create_signature_replayed_later_is_not_the_tokens(env: Env) -> None:
    """A create is signed before its uid exists: the operator believes it only near the
    creationTimestamp the API server sets, so a create's annotations copied onto the
    name created again later are not the token's (here: signed 2 minutes ago, as the
    API signs; a fresh one is, as a control)."""
    from datetime import UTC, datetime, timedelta

    from alertplane.kube.signing import sign
    from tests.support.api_k8s_env import ATTRIBUTION_KEY

    c = env.client
    r = c.post("/customers/acme/alerts?wait=true", json=alert_spec("Recreated"), headers=ACME)
    assert r.status_code == 201, r.text
    cr = env.cr(ALERT, "acme-recreated")
    assert cr is not None

    def create_notes(ago: timedelta) -> dict[str, str]:
        """The API's annotations of a create of this spec made `ago`."""
        at = (datetime.now(UTC) - ago).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        notes = {CHANGED_BY: "acme-team", CHANGE_SOURCE: "api", CHANGED_AT: at}
        signature = sign(ATTRIBUTION_KEY, namespace="acme", name="acme-recreated",
                         actor="acme-team", source="api", changed_at=at, generation=1,
                         spec=cr["spec"])  # fmt: skip
        return {**notes, SIGNATURE: signature}

    _recreate(env, "acme-recreated", cr["spec"], create_notes(timedelta(minutes=2)))
    assert _audit_after_delete(env, "acme-recreated", 1) == [
        ("create", 1, "alertplane-api", "kubernetes")
    ]
    _recreate(env, "acme-recreated", cr["spec"], create_notes(timedelta(0)))
    assert _audit_after_delete(env, "acme-recreated", 1) == [("create", 1, "acme-team", "api")]
