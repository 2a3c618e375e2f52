"""The committed CRDs (crds/) against a real kube-apiserver + etcd (tests/support/k8s_env.py).

One API server per test process (conftest's `crd_kube`, shared with the adversarial schema
tests, which only dry-run). Objects the server refuses are sent with
`--dry-run=server --validate=strict`, so they are checked exactly as a real create would
be (schema, CEL, unknown fields) without leaving anything behind.
"""

from __future__ import annotations

import copy
import json
import ssl
import urllib.request
from typing import Any

import pytest
import yaml

from alertplane.validate import parse_document
from tests.support.crds import ALERT, NAMES, RECEIVER, RECORDING, server_dry_run
from tests.support.k8s_env import KubeEnv
from tests.support.paths import ROOT

EXAMPLES = ROOT / "examples" / "customers"


@pytest.fixture(scope="module")  # `examples` (module-scoped) creates objects with it
def kube(crd_kube: KubeEnv) -> KubeEnv:
    return crd_kube


@pytest.fixture(scope="module")
def examples(kube: KubeEnv) -> list[dict[str, Any]]:
    """Every example object, created for real. The API server outlives the module (a test
    process may set this fixture up again), so earlier copies go first."""
    kube.kubectl("delete", "--ignore-not-found", "--wait", "-f", str(EXAMPLES))
    kube.kubectl("create", "--validate=strict", "-f", str(EXAMPLES))
    return [
        doc
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]


def with_spec(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            obj["spec"].pop(key, None)
        else:
            obj["spec"][key] = value
    return obj


def get(kube: KubeEnv, kind: str, name: str, ns: str = "crd-test") -> dict[str, Any]:
    out = kube.kubectl("get", kind, name, "-n", ns, "-o", "json").stdout
    result: dict[str, Any] = json.loads(out)
    return result


def table(kube: KubeEnv, plural: str) -> dict[str, Any]:
    """The server-side Table for a kind across namespaces: what `kubectl get` prints."""
    req = urllib.request.Request(
        f"{kube.server}/apis/alertplane.io/v1alpha1/{plural}",
        headers={
            "Authorization": f"Bearer {kube.token}",
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io",
        },
    )
    ctx = ssl.create_default_context(cafile=str(kube.ca_file))
    with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
        result: dict[str, Any] = json.load(resp)
    return result


def rows(tbl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = [c["name"] for c in tbl["columnDefinitions"]]
    return {
        f"{r['object']['metadata']['namespace']}/{r['cells'][0]}": dict(
            zip(names, r["cells"], strict=True)
        )
        for r in tbl["rows"]
    }


# -- admission -----------------------------------------------------------------------------


def test_crds_are_established_with_their_names(kube: KubeEnv) -> None:
    for name in NAMES:
        crd = json.loads(kube.kubectl("get", "crd", name, "-o", "json").stdout)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", conditions
        assert conditions.get("NamesAccepted") == "True", conditions
    resources = kube.kubectl("api-resources", "--api-group=alertplane.io", "-o", "wide").stdout
    assert "calert" in resources and "crecv" in resources
    assert "alertplane" in resources  # the category


def test_every_example_is_accepted(kube: KubeEnv, examples: list[dict[str, Any]]) -> None:
    names = kube.kubectl("get", "alertplane", "-A", "-o", "name").stdout.split()
    want = {f"{d['kind'].lower()}.alertplane.io/{d['metadata']['name']}" for d in examples}
    assert set(names) == want
    stored = get(kube, "customeralert", "acme-high-error-rate", "acme")
    example = next(d for d in examples if d["metadata"]["name"] == "acme-high-error-rate")
    # Stored as written (PromQL untouched) plus the schema's defaults.
    assert stored["spec"] == {**example["spec"], "enabled": True, "autoInject": False}


def test_valid_objects_pass_server_dry_run(kube: KubeEnv) -> None:
    for obj in (
        ALERT,
        RECEIVER,
        # null means "not set", as in the models: the other half of a secret pair may be null.
        with_spec(RECEIVER, slack=[{"apiURL": None, "apiURLSecretRef": {"name": "s", "key": "k"}}]),
        with_spec(RECEIVER, slack=None, pagerduty=[{"routingKey": "abc"}]),
        with_spec(ALERT, urgency=None, labels={"_private": "x", "Team2": "y"}),
        RECORDING,
        with_spec(RECORDING, record=":leading:colon", labels={"reason": "cpu"}),
    ):
        code, out = server_dry_run(kube, obj)
        assert code == 0, out


REFUSED: dict[str, tuple[dict[str, Any], list[str]]] = {
    "severity not in the enum": (
        with_spec(ALERT, severity="page"),
        ['spec.severity: Unsupported value: "page"', '"critical", "warning", "info"'],
    ),
    "customerId with capitals": (
        with_spec(ALERT, customerId="Acme"),
        ['spec.customerId: Invalid value: "Acme"', "should match"],
    ),
    "customerId too long": (
        with_spec(ALERT, customerId="a" * 64),
        ["spec.customerId: Too long", "63"],
    ),
    "alertName on two lines": (
        with_spec(ALERT, alertName="probe\nfailed"),
        ["spec.alertName", "should match"],
    ),
    "duration in words": (
        with_spec(ALERT, **{"for": "two minutes"}),
        ["spec.for", "should match"],
    ),
    "empty expr": (with_spec(ALERT, expr=""), ["spec.expr", "at least 1 chars"]),
    # expr is optional since alerts may be written from a template instead (CEL rule).
    "expr missing": (
        with_spec(ALERT, expr=None),
        ["spec: Invalid value: one of expr or template is required"],
    ),
    "reserved label": (
        with_spec(ALERT, labels={"customer_id": "globex"}),
        ["spec.labels: Forbidden: labels may not set customer_id, severity, category, urgency"],
    ),
    "label name with a dash": (
        with_spec(ALERT, labels={"my-team": "web"}),
        ["spec.labels", "label names use letters, digits and '_'"],
    ),
    "label name with __": (
        with_spec(ALERT, labels={"__name__": "x"}),
        ["spec.labels", "not starting with a digit or '__'"],
    ),
    "unknown spec field": (
        with_spec(ALERT, sevrity="warning"),
        ['unknown field "spec.sevrity"'],
    ),
    "snake_case field name": (
        with_spec(ALERT, customerId=None, customer_id="acme"),
        ['unknown field "spec.customer_id"'],
    ),
    "snake_case nested field name": (
        with_spec(RECEIVER, route={"group_by": ["service"]}),
        ['unknown field "spec.route.group_by"'],
    ),
    "unknown nested field": (
        with_spec(RECEIVER, slack=[{"apiURLSecretRef": {"name": "s", "key": "k"}, "url": "x"}]),
        ['unknown field "spec.slack[0].url"'],
    ),
    "receiver without a channel": (
        with_spec(RECEIVER, slack=None),
        ["spec: Required value: no notification channel", "spec.email, spec.slack"],
    ),
    "receiver with empty channel lists": (
        with_spec(RECEIVER, slack=[], email=[]),
        ["no notification channel"],
    ),
    "slack with both apiURL and apiURLSecretRef": (
        with_spec(
            RECEIVER,
            slack=[
                {"apiURL": "https://hooks.example", "apiURLSecretRef": {"name": "s", "key": "k"}}
            ],
        ),
        ["spec.slack[0]", "set exactly one of apiURLSecretRef (a Secret key, preferred) or apiURL"],
    ),
    "slack with neither": (
        with_spec(RECEIVER, slack=[{"channel": "#x"}]),
        ["spec.slack[0]", "set exactly one of apiURLSecretRef"],
    ),
    "pagerduty with both keys": (
        with_spec(
            RECEIVER,
            pagerduty=[{"routingKey": "k", "routingKeySecretRef": {"name": "s", "key": "k"}}],
        ),
        ["spec.pagerduty[0]", "set exactly one of routingKeySecretRef"],
    ),
    "route matching on customer_id": (
        with_spec(RECEIVER, route={"match": {"labels": {"customer_id": "globex"}}}),
        ["spec.route.match.labels: Forbidden", "routes are already limited to this customer"],
    ),
    "route severity not in the enum": (
        with_spec(RECEIVER, route={"match": {"severity": ["page"]}}),
        ['spec.route.match.severity[0]: Unsupported value: "page"'],
    ),
    "email without recipients": (
        with_spec(RECEIVER, email=[{"to": []}]),
        ["spec.email[0].to", "at least 1 items"],
    ),
    "record without a colon": (
        with_spec(RECORDING, record="http_requests_total"),
        ['spec.record: Invalid value: "http_requests_total"', "should match"],
    ),
    "record with a dash": (
        with_spec(RECORDING, record="job:errors-5m"),
        ["spec.record", "should match"],
    ),
    "recording rule setting customer_id": (
        with_spec(RECORDING, labels={"customer_id": "globex"}),
        [
            "spec.labels: Forbidden: labels may not set customer_id: alertplane sets it from "
            "spec.customerId"
        ],
    ),
    "secret ref without key": (
        with_spec(RECEIVER, slack=[{"apiURLSecretRef": {"name": "s"}}]),
        ["spec.slack[0].apiURLSecretRef.key: Required value"],
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_invalid_objects_are_refused_with_a_useful_message(kube: KubeEnv, case: str) -> None:
    obj, messages = REFUSED[case]
    code, out = server_dry_run(kube, obj)
    assert code != 0, f"accepted: {out}"
    for message in messages:
        assert message in out, out


@pytest.mark.parametrize("case", ["snake_case field name", "snake_case nested field name"])
def test_alertplane_validate_refuses_what_the_crds_refuse(case: str) -> None:
    # What validate accepts, kubectl apply must accept too (and the other way round).
    obj, _ = REFUSED[case]
    assert parse_document(obj)[0] is None


# -- kubectl explain, printer columns, status ------------------------------------------------


@pytest.mark.parametrize(
    "field, text",
    [
        ("customeralert.spec.expr", 'every selector must carry customer_id="<customerId>"'),
        ("customeralert.spec.severity", "critical, warning or info"),
        ("customeralert.spec.annotations", "runbookUrl: Runbook link"),
        ("customeralert.status.phase", "Invalid (the spec failed a check"),
        ("customerreceiver.spec.slack.apiURLSecretRef", "Secret key holding the webhook URL"),
        ("customerreceiver", "notification targets"),
    ],
)
def test_kubectl_explain_shows_the_model_descriptions(kube: KubeEnv, field: str, text: str) -> None:
    out = kube.kubectl("explain", field).stdout
    assert text in " ".join(out.split()), out


def test_printer_columns(kube: KubeEnv, examples: list[dict[str, Any]]) -> None:
    alerts = table(kube, "customeralerts")
    assert [c["name"] for c in alerts["columnDefinitions"] if c["priority"] == 0] == [
        "Name", "Customer", "Alert", "Severity", "Enabled", "Phase", "Age",
    ]  # fmt: skip
    by_name = rows(alerts)
    row = by_name["acme/acme-high-error-rate"]
    assert (row["Customer"], row["Alert"], row["Severity"], row["Enabled"]) == (
        "acme", "HighErrorRate", "critical", True,
    )  # fmt: skip
    assert row["Category"] == "application"
    assert row["Phase"] is None  # no status yet
    assert by_name["globex/globex-maintenance-window"]["Enabled"] is False

    receivers = rows(table(kube, "customerreceivers"))
    oncall = receivers["acme/acme-oncall"]
    assert (oncall["Customer"], oncall["Receiver"], oncall["Priority"]) == ("acme", "oncall", 10)
    assert oncall["Severity"] == '["critical"]'
    assert receivers["globex/globex-catch-all"]["Severity"] is None  # no filter: every severity

    # What a user types: the same columns, across namespaces.
    out = kube.kubectl("get", "customeralerts", "-A").stdout.splitlines()
    assert out[0].split() == [
        "NAMESPACE", "NAME", "CUSTOMER", "ALERT", "SEVERITY", "ENABLED", "PHASE", "AGE",
    ]  # fmt: skip
    line = next(ln.split() for ln in out if "acme-target-down" in ln)
    assert line[:6] == ["acme", "acme-target-down", "acme", "TargetDown", "critical", "true"]
    header = kube.kubectl("get", "crecv", "-A").stdout.splitlines()[0].split()
    assert header == ["NAMESPACE", "NAME", "CUSTOMER", "RECEIVER", "PRIORITY", "SEVERITY",
                      "PHASE", "AGE"]  # fmt: skip


STATUS = {
    "observedGeneration": 1,
    "phase": "Invalid",
    "conditions": [
        {
            "type": "Valid",
            "status": "False",
            "reason": "Invalid",
            "message": 'spec.expr: selector up{} has no customer_id="acme" matcher',
            "lastTransitionTime": "2025-01-01T00:00:00Z",
        },
        {
            "type": "Synced",
            "status": "False",
            "reason": "Pending",
            "message": "",
            "lastTransitionTime": "2025-01-01T00:00:00Z",
        },
    ],
    "renderedTo": ["rules/acme.yml"],
    "lastSyncTime": "2025-01-01T00:00:00Z",
}


def patch_status(kube: KubeEnv, name: str, status: dict[str, Any]) -> tuple[int, str]:
    proc = kube.kubectl(
        "patch", "customeralert", name, "-n", "crd-test", "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": status}), check=False,
    )  # fmt: skip
    return proc.returncode, proc.stderr + proc.stdout


def test_status_subresource(kube: KubeEnv) -> None:
    obj = copy.deepcopy(ALERT)
    obj["metadata"]["name"] = "status-probe"
    kube.kubectl("create", "-f", "-", input=json.dumps(obj))
    assert get(kube, "customeralert", "status-probe")["metadata"]["generation"] == 1

    code, out = patch_status(kube, "status-probe", STATUS)
    assert code == 0, out
    got = get(kube, "customeralert", "status-probe")
    assert got["metadata"]["generation"] == 1, "a status write must not bump generation"
    assert got["status"] == STATUS
    row = rows(table(kube, "customeralerts"))["crd-test/status-probe"]
    assert row["Phase"] == "Invalid"
    assert row["Message"] == STATUS["conditions"][0]["message"]

    # kopf's own bookkeeping survives; it is the only schemaless part.
    code, out = patch_status(kube, "status-probe", {"kopf": {"progress": {"h": {"retries": 1}}}})
    assert code == 0, out
    assert get(kube, "customeralert", "status-probe")["status"]["kopf"] == {
        "progress": {"h": {"retries": 1}}
    }

    # Anything else under status is pruned (kubectl warns about it), never stored.
    code, out = patch_status(kube, "status-probe", {"phaze": "Synced"})
    assert code == 0 and 'unknown field "status.phaze"' in out, out
    assert "phaze" not in get(kube, "customeralert", "status-probe")["status"]

    # A spec change bumps generation; status written through the main resource is ignored.
    kube.kubectl(
        "patch", "customeralert", "status-probe", "-n", "crd-test", "--type=merge",
        "-p", json.dumps({"spec": {"severity": "critical"}, "status": {"phase": "Synced"}}),
    )  # fmt: skip
    got = get(kube, "customeralert", "status-probe")
    assert got["metadata"]["generation"] == 2
    assert got["status"]["phase"] == "Invalid"


@pytest.mark.parametrize(
    "status, message",
    [
        ({"phase": "Exploded"}, 'status.phase: Unsupported value: "Exploded"'),
        ({"conditions": [{"type": "Valid", "status": "Yes"}]}, "status.conditions[0].status"),
        ({"conditions": [{"status": "True"}]}, "status.conditions[0].type: Required value"),
        ({"lastSyncTime": "yesterday"}, "status.lastSyncTime"),
        ({"observedGeneration": "7"}, "status.observedGeneration"),
    ],
)
def test_status_is_validated(kube: KubeEnv, status: dict[str, Any], message: str) -> None:
    name = "status-schema"
    obj = copy.deepcopy(ALERT)
    obj["metadata"]["name"] = name
    kube.kubectl("apply", "-f", "-", input=json.dumps(obj))
    code, out = patch_status(kube, name, status)
    assert code != 0, f"accepted: {out}"
    assert message in out, out
