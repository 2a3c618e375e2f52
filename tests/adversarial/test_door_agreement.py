"""Every door refuses the same objects with the same words (core.admit, one policy).

A table of hostile or broken alerts — isolation breaks, another customer's id, a label only
alertplane may set, bad names, schema errors, a duplicate name — is driven through every
door: `alertplane validate` and `apply` (exit 1, the line `validate` prints), the REST API
(POST, PUT, `/import`, `/validate`: 422 with the same problem), the console's form (the
problem on its field), and on a real API server the admission webhook (denied with the
same line) and the operator (an object that got in before the webhook was there is
`Invalid` with the same message). A hypothesis property adds generated objects for the
in-process doors. Nothing refused may be stored.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.cli import main
from alertplane.core import evaluate
from alertplane.errors import Source
from alertplane.manifests import Document
from tests.support.api_env import ACME, ACME_TOKEN, ADMIN, ApiEnv, alert_spec, api_env
from tests.support.console import alert_form, assert_page, client, field_errors, post
from tests.support.factories import alert
from tests.support.k8s_env import KubeEnv
from tests.support.operator_env import (
    Cluster,
    OperatorProcess,
    condition,
    wait_for,
    webhook_chart_operator,
)
from tests.support.problems import unplaced
from tests.support.processes import Postgres

NS = "acme"
EXISTING = "Existing"
ISOLATION_HINT = 'add customer_id="acme" inside its braces'


@dataclass(frozen=True)
class Case:
    id: str
    alert_name: str
    spec: dict[str, Any]  # overrides of the alert's spec
    text: str  # the one problem, as every door words it (Problem.text())
    form: dict[str, str] = field(default_factory=dict)  # the console fields that say it
    pinned: str = ""  # the console field the problem is shown on
    put: bool = True  # also as a PUT of the existing alert (the name stays that one)
    crd: str = ""  # set: the CRD schema (made from the same models) refuses it first, so
    # the API server's message, which names this, is what the webhook door answers


CASES = [
    Case(
        "no-matcher",
        "Leaky",
        {"expr": "up > 0"},
        f'spec.expr: selector up{{}} has no customer_id="acme" matcher; {ISOLATION_HINT}',
        {"expr": "up > 0"},
        "expr",
    ),
    Case(
        "foreign-customer",
        "Foreign",
        {"expr": 'rate(errors_total{customer_id="globex"}[5m]) > 1'},
        'spec.expr: selector errors_total{customer_id="globex"} selects customer "globex"; '
        'an alert of customer acme may only select customer_id="acme"',
        {"expr": 'rate(errors_total{customer_id="globex"}[5m]) > 1'},
        "expr",
    ),
    Case(
        "regex-matcher",
        "Regex",
        {"expr": 'up{customer_id=~"acme|globex"} == 0'},
        'spec.expr: selector up{customer_id=~"acme|globex"} matches customer_id with =~; '
        'use customer_id="acme" (equality); a customer may only select its own series',
        {"expr": 'up{customer_id=~"acme|globex"} == 0'},
        "expr",
    ),
    Case(
        "tenant-label",
        "Relabel",
        {"labels": {"customer_id": "globex"}},
        "spec.labels.customer_id: label 'customer_id' is set by alertplane; remove it; "
        "set spec.customerId",
        {"labels": "customer_id=globex"},
        "labels",
        crd="spec.labels: Forbidden: labels may not set customer_id",
    ),
    Case(
        "bad-name",
        "bad\tname",
        {},
        "spec.alertName: 'bad\\tname' contains a control character (U+0009) at character 4; "
        "remove it: an alert name is one line of text that displays as it is stored",
        {"alertName": "bad\tname"},
        "alertName",
        put=False,
        crd="spec.alertName",
    ),
    Case(
        "schema-enum",
        "Fatal",
        {"severity": "fatal"},
        "spec.severity: 'fatal' is not allowed; use one of 'critical', 'warning' or 'info'",
        {"severity": "fatal"},
        "severity",
        crd="spec.severity",
    ),
    Case(
        "schema-duration",
        "Forever",
        {"for": "5 minutes"},
        "spec.for: '5 minutes' is not a valid duration; use a Prometheus duration such as 30s, "
        "5m, 1h30m or 7d",
        {"for": "5 minutes"},
        "for",
        crd="spec.for",
    ),
    Case(
        "duplicate-name",
        EXISTING,
        {},
        "spec.alertName: customer 'acme' already has alert 'Existing' at severity 'critical' "
        "(CustomerAlert acme/acme-existing); choose another name, or another severity (a "
        "warning/critical pair may share the name), or remove one of the two",
        put=False,
    ),
]
IDS = [c.id for c in CASES]


def manifest(case: Case, suffix: str = "") -> dict[str, Any]:
    """The case as a manifest; its metadata.name is always valid (and never the existing
    alert's), so the one problem is the case's."""
    doc = alert(name=case.alert_name, **case.spec)
    doc["metadata"]["name"] = f"acme-{case.id}{suffix}"
    return doc


def texts(problems: list[dict[str, Any]]) -> list[str]:
    """API problems as Problem.text() words them."""
    return [
        f"{p['path']}: {p['message']}" + (f"; {p['hint']}" if p["hint"] else "") for p in problems
    ]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("doors")
    with api_env(f"sqlite:///{tmp / 'a.db'}", tmp) as env:
        r = env.client.post("/customers/acme/alerts", json=alert_spec(EXISTING), headers=ACME)
        assert r.status_code == 201, r.text
        yield env


def stored_names(env: ApiEnv) -> list[str]:
    return sorted(s.name for s in env.store.get())


# -- the CLI ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli_validate_and_apply_refuse_with_one_line(
    case: Case, api: ApiEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = manifest(case)
    path = tmp_path / "case.yaml"
    existing = api.client.get("/export", headers=ADMIN).json()["items"]
    path.write_text(yaml.safe_dump_all([*existing, doc], sort_keys=False))
    line = f"CustomerAlert acme/{doc['metadata']['name']}: {case.text}"
    capsys.readouterr()

    assert main(["validate", "--no-tools", "-f", str(path)]) == 1
    out = capsys.readouterr().out
    # The same line, after where the field is in the file (validate/positions.py).
    assert unplaced(out).splitlines() == [line]
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: CustomerAlert", out), out

    before = stored_names(api)
    db = str(api.store.engine.url)
    one = tmp_path / "one.yaml"
    one.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert main(["apply", "-f", str(one), "--db", db, "--actor", "mallory"]) == 1
    out, err = capsys.readouterr()
    assert (out, unplaced(err).splitlines()) == ("", [line])
    assert err.startswith(f"{one}:"), err
    assert stored_names(api) == before


# -- the REST API and the console ---------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_api_and_console_refuse_with_the_same_problem(case: Case, api: ApiEnv) -> None:
    before = stored_names(api)
    spec = {k: v for k, v in manifest(case)["spec"].items() if k != "customerId"}
    r = api.client.post("/customers/acme/alerts", json=spec, headers=ACME)
    if case.id == "duplicate-name":  # a create of a name that exists: the REST answer
        assert r.status_code == 409
        assert r.json()["detail"] == (
            "alert 'Existing' at severity 'critical' already exists; change it with PUT"
        )
    else:
        assert r.status_code == 422, r.text
        assert texts(r.json()["problems"]) == [case.text]
    if case.put:
        body = {**spec, "alertName": EXISTING}
        r = api.client.put(f"/customers/acme/alerts/{EXISTING}", json=body, headers=ACME)
        assert r.status_code == 422, r.text
        assert texts(r.json()["problems"]) == [case.text.replace(case.alert_name, EXISTING)]
    for path in ("/import", "/validate?tools=false"):
        r = api.client.post(path, json=[manifest(case)], headers=ACME)
        assert r.status_code == (422 if path == "/import" else 200), r.text
        assert texts(r.json()["problems"]) == [case.text]
    assert stored_names(api) == before

    if case.pinned:  # the console's form: the problem on the field it is about
        browser = client(api, ACME_TOKEN)
        new = "/console/customers/acme/new-alert"
        page = assert_page(post(browser, new, new, alert_form(case.alert_name, **case.form)), 422)
        assert field_errors(page, case.pinned) == [case.text]
        assert stored_names(api) == before


# -- generated objects through the in-process doors --------------------------------------
_names = itertools.count()
SELECTORS = st.sampled_from(
    [
        'errors_total{customer_id="acme"}',
        "errors_total",
        'errors_total{customer_id="globex"}',
        'errors_total{customer_id!="globex"}',
        'errors_total{customer_id=~"acme"}',
        '{__name__="errors_total"}',
        'errors_total{customer_id="acme", job="api"}',
    ]
)
EXPRS = st.one_of(
    SELECTORS.map(lambda s: f"rate({s}[5m]) > 1"),
    st.tuples(SELECTORS, SELECTORS).map(lambda p: f"{p[0]} / on() {p[1]}"),
    SELECTORS.map(lambda s: f"sum by (job) ({s})"),
    st.just("vector(1)"),
    st.just("time() > 0"),
)
LABELS = st.dictionaries(
    st.sampled_from(["team", "customer_id", "severity", "category", "x-y", "__meta", "ok_1"]),
    st.sampled_from(["ops", "globex", ""]),
    max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    expr=EXPRS,
    labels=LABELS,
    severity=st.sampled_from(["critical", "page", "info"]),
    alert_name=st.sampled_from(["Generated", "9lives", "with space", "ok_name"]),
)
def test_generated_objects_get_one_verdict_from_every_door(
    api: ApiEnv, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    expr: str, labels: dict[str, str], severity: str, alert_name: str,
) -> None:  # fmt: skip
    n = next(_names)
    doc = alert(name=f"{alert_name}{n}", expr=expr, labels=labels, severity=severity)
    doc["metadata"]["name"] = f"acme-generated-{n}"
    expected = [p.text() for p in evaluate([Document(Source("gen"), doc)], tools=False).problems]

    spec = {k: v for k, v in doc["spec"].items() if k != "customerId"}
    r = api.client.post("/customers/acme/alerts", json=spec, headers=ACME)
    assert r.status_code == (422 if expected else 201), r.text
    if expected:
        assert texts(r.json()["problems"]) == expected

    doc["metadata"]["name"] = f"acme-generated-cli-{n}"
    doc["spec"]["alertName"] += "_cli"  # (still as valid or invalid as it was)
    path = tmp_path_factory.mktemp("gen") / "doc.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    capsys.readouterr()
    code = main(["apply", "-f", str(path), "--db", str(api.store.engine.url)])
    err = unplaced(capsys.readouterr().err).splitlines()  # (positions: test_positions.py)
    prefix = f"CustomerAlert acme/{doc['metadata']['name']}: "
    assert (code, err) == (
        (1, [prefix + t.replace(f"{n}'", f"{n}_cli'") for t in expected]) if expected else (0, [])
    )


# -- the admission webhook and the operator on a real API server ---------------------------
@pytest.fixture(scope="module")
def hooked(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, list[Case]]]:
    """The operator (chart flags and RBAC) watching namespace acme; the cases of
    alertplane's own checks are created before the webhook is registered (as objects
    written past it would be), then the chart's webhook configuration is applied."""
    tmp = tmp_path_factory.mktemp("doors-webhook")
    db = postgres.create_database("door_agreement")
    with KubeEnv() as env:
        cluster = Cluster(env)
        cluster.install_crds()
        cluster.namespace(NS, NS)
        chart, args = webhook_chart_operator(env, tmp, NS, "doors")
        op = OperatorProcess(env, [*args, f"--db={db}"], tmp / "operator.log", chart.kubeconfig)
        cluster.kubectl_apply(alert(name=EXISTING))
        past = [c for c in CASES if not c.crd]
        op.start()
        try:
            cluster.wait_phase("CustomerAlert", NS, "acme-existing", timeout=60)
            cluster.kubectl_apply(*[manifest(c) for c in past])  # later: the duplicate
            env.apply(chart.webhook_config())
            yield cluster, past
        finally:
            op.stop()
        op.assert_no_forbidden()


def test_operator_marks_what_got_past_the_webhook_invalid_with_the_same_message(
    hooked: tuple[Cluster, list[Case]],
) -> None:
    cluster, past = hooked
    for case in past:
        name = manifest(case)["metadata"]["name"]
        obj = cluster.wait_phase("CustomerAlert", NS, name, ("Invalid",), timeout=60)
        assert condition(obj["status"], "Valid")["message"] == case.text, case.id


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_webhook_denies_with_the_same_line(hooked: tuple[Cluster, list[Case]], case: Case) -> None:
    cluster, _ = hooked
    doc = manifest(case, "-hooked")
    name = doc["metadata"]["name"]

    def refused() -> str | None:
        out = cluster.env.kubectl(
            "apply", "-f", "-", input=yaml.safe_dump(copy.deepcopy(doc)), check=False
        )
        if out.returncode == 0:
            cluster.env.kubectl("delete", "customeralert", "-n", NS, name, check=False)
            return None
        return out.stderr

    stderr = wait_for(refused, 60, f"the refusal of {case.id}")
    if not case.crd:
        assert "denied the request" in stderr
        assert f"CustomerAlert acme/{name}: {case.text}" in stderr
    else:
        assert case.crd in stderr
    assert cluster.get("CustomerAlert", NS, name) is None
