"""A seed of objects for the API's authorization and schema tests, and the reset back to it."""

from __future__ import annotations

from typing import Any

from alertplane.errors import ObjectRef
from alertplane.validate import parse_document
from tests.support.api_env import (
    ApiEnv,
    alert_spec,
    receiver_spec,
    record_spec,
)

API = "alertplane.io/v1alpha1"


def manifest(kind: str, customer: str, spec: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": {"name": name, "namespace": customer},
        "spec": {"customerId": customer, **spec},
    }


SEED = [
    manifest("CustomerAlert", "acme", alert_spec(), "acme-higherrorrate"),
    manifest("CustomerReceiver", "acme", receiver_spec(), "acme-oncall"),
    manifest(
        "CustomerAlert", "globex", alert_spec("GlobexOnlyAlert", "globex"), "globex-only-alert"
    ),
    manifest("CustomerReceiver", "globex", receiver_spec("globex-pager"), "globex-pager"),
    manifest("CustomerRecordingRule", "acme", record_spec(), "acme-job-errors-rate5m"),
    manifest(
        "CustomerRecordingRule",
        "globex",
        record_spec("globex:only:rate5m", "globex"),
        "globex-only-record",
    ),
]


def reset(env: ApiEnv) -> None:
    """Back to the seed: extra objects removed, seed objects as first created."""
    seed_refs = {
        ObjectRef(m["kind"], m["metadata"]["namespace"], m["metadata"]["name"]) for m in SEED
    }
    extra = [s.ref for s in env.store.get() if s.ref not in seed_refs]
    if extra:
        env.store.delete(extra, "seed", "cli")
    objs = []
    for m in SEED:
        obj, problems = parse_document(m)
        assert obj is not None, problems
        objs.append(obj)
    env.store.apply(objs, "seed", "cli")
