"""The Helm chart's values, rendered: each sink type, watched namespaces, the database
Secret, the platform config, the webhook (with cert-manager; calling exactly what the
operator serves), the ServiceMonitor and PrometheusRule, and bad values refused clearly."""

from __future__ import annotations

import base64
from typing import Any, cast

import pytest
import yaml

from alertplane.k8s.handlers import WEBHOOK_OPERATIONS, Handlers, webhook_id
from alertplane.kube.kinds import PLURALS
from tests.support.helm import (
    FULLNAME,
    NAMESPACE_GET,
    NAMESPACE_RULES,
    NS,
    SINK_RULES,
    Doc,
    Helm,
    argv,
    container,
    flat,
    kinds,
    one,
    rules,
    watched_rules,
)


@pytest.mark.parametrize("sink", ["files", "configmap", "prometheus-operator"])
def test_each_sink_type(helm: Helm, sink: str) -> None:
    values: Doc = {"sink": {"type": sink}, "prometheusUrl": "http://prometheus:9090",
                   "alertmanagerUrl": "http://alertmanager:9093"}  # fmt: skip
    if sink != "files":
        values["sink"]["namespace"] = "monitoring"
    docs = helm.template(values)
    args = argv(docs)[2:]
    assert f"--sink={sink}" in args
    assert "--prometheus-url=http://prometheus:9090" in args
    assert "--alertmanager-url=http://alertmanager:9093" in args
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    if sink == "files":
        assert "--out=/var/lib/alertplane/out" in args
        assert not any(a.startswith("--sink-namespace") for a in args)
        assert volumes[mounts["/var/lib/alertplane/out"]] == {"name": "out", "emptyDir": {}}
        assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]
        claim = helm.template({"sink": {"type": "files", "files": {"existingClaim": "shared"}}})
        vol = next(v for v in one(claim, "Deployment")["spec"]["template"]["spec"]["volumes"]
                   if v["name"] == "out")  # fmt: skip
        assert vol["persistentVolumeClaim"] == {"claimName": "shared"}
    else:
        assert "--sink-namespace=monitoring" in args
        assert not any(a.startswith("--out") for a in args)
        assert "/var/lib/alertplane/out" not in mounts
        role = one(docs, "Role", f"{FULLNAME}-sink", "monitoring")
        assert flat(rules(role)) == flat(SINK_RULES[sink])
        assert one(docs, "RoleBinding", f"{FULLNAME}-sink", "monitoring")["subjects"] == [
            {"kind": "ServiceAccount", "name": FULLNAME, "namespace": NS}
        ]
    # The custom resources stay cluster-wide; only the sink's write access is namespaced.
    assert flat(rules(one(docs, "ClusterRole"))) == flat(NAMESPACE_RULES | watched_rules(sink))


def test_watch_namespaces_narrow_the_custom_resource_access(helm: Helm) -> None:
    docs = helm.template({"watchNamespaces": ["team-a", "team-b"], "webhook": {"enabled": True}})
    args = argv(docs)
    assert args[2:4] == ["--namespace=team-a", "--namespace=team-b"]
    assert flat(rules(one(docs, "ClusterRole"))) == flat(NAMESPACE_RULES | NAMESPACE_GET)
    for ns in ("team-a", "team-b"):
        assert flat(rules(one(docs, "Role", FULLNAME, ns))) == flat(
            watched_rules("prometheus-operator")
        )
        assert one(docs, "RoleBinding", FULLNAME, ns)["subjects"][0]["namespace"] == NS
    for hook in one(docs, "ValidatingWebhookConfiguration")["webhooks"]:
        assert hook["namespaceSelector"] == {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In",
                 "values": ["team-a", "team-b"]}
            ]
        }  # fmt: skip


def test_database_url_comes_from_the_secret(helm: Helm) -> None:
    docs = helm.template({"database": {"existingSecret": "pg", "secretKey": "dsn"}})
    env = {e["name"]: e for e in container(docs)["env"]}
    assert env["ALERTPLANE_DB"] == {
        "name": "ALERTPLANE_DB",
        "valueFrom": {"secretKeyRef": {"name": "pg", "key": "dsn"}},
    }
    assert not any(a.startswith("--db") for a in argv(docs)), "the URL must not be on argv"
    default = helm.template({"database": {"existingSecret": "pg"}})
    assert {e["name"]: e for e in container(default)["env"]}["ALERTPLANE_DB"]["valueFrom"][
        "secretKeyRef"
    ]["key"] == "url"


def test_platform_config_is_mounted_and_rolls_the_pod(helm: Helm) -> None:
    platform = {
        "secretsDir": "/etc/alertplane/secrets",
        "alertmanager": {
            "global": {"resolve_timeout": "5m"},
            "defaultReceiver": {"webhook_configs": [{"url": "http://oncall/hook"}]},
            "route": {"group_by": ["customer_id"], "repeat_interval": "4h"},
        },
    }
    docs = helm.template({"platform": platform})
    cm = one(docs, "ConfigMap", f"{FULLNAME}-platform")
    assert yaml.safe_load(cm["data"]["platform.yaml"]) == platform
    deploy = one(docs, "Deployment")
    checksum = deploy["spec"]["template"]["metadata"]["annotations"]["checksum/platform"]
    other = one(helm.template(), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert checksum != other["checksum/platform"]
    vol = next(v for v in deploy["spec"]["template"]["spec"]["volumes"] if v["name"] == "platform")
    assert vol["configMap"]["name"] == f"{FULLNAME}-platform"


def test_tenant_binding_off_and_extras(helm: Helm) -> None:
    docs = helm.template({
        "tenantBinding": False,
        "image": {"tag": "dev", "pullPolicy": "Always"},
        "extraArgs": ["--log-level=debug"],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "monitoring", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "pool", "operator": "In", "values": ["infra"]}]}]}}},
    })  # fmt: skip
    args = argv(docs)
    assert "--no-tenant-binding" in args and "--tenant-binding" not in args
    assert args[-1] == "--log-level=debug"
    assert container(docs)["image"] == "ghcr.io/alertplane/alertplane:dev"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "monitoring"
    assert pod["affinity"]["nodeAffinity"]
    digest = "sha256:" + "a" * 64
    pinned = helm.template({"image": {"digest": digest}})
    assert container(pinned)["image"] == f"ghcr.io/alertplane/alertplane@{digest}"


def test_webhook_with_cert_manager(helm: Helm) -> None:
    docs = helm.template({"webhook": {"enabled": True}})
    args = argv(docs)
    assert args[-3:] == [
        "--webhook-port=9443",
        "--webhook-cert=/etc/alertplane/webhook/tls.crt",
        "--webhook-key=/etc/alertplane/webhook/tls.key",
    ]
    c = container(docs)
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in c["ports"]
    assert {"name": "webhook", "port": 9443, "targetPort": "webhook", "protocol": "TCP"} in one(
        docs, "Service"
    )["spec"]["ports"]
    cert = one(docs, "Certificate")
    secret = cert["spec"]["secretName"]
    vol = next(
        v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "webhook-tls"
    )  # fmt: skip
    assert vol == {"name": "webhook-tls", "secret": {"secretName": secret}}
    assert cert["spec"]["dnsNames"][0] == f"{FULLNAME}.{NS}.svc"
    assert cert["spec"]["issuerRef"] == {
        "name": f"{FULLNAME}-selfsigned", "kind": "Issuer", "group": "cert-manager.io"
    }  # fmt: skip
    assert one(docs, "Issuer")["spec"] == {"selfSigned": {}}
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert vwc["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NS}/{cert['metadata']['name']}"
    }
    hooks = {h["name"]: h for h in vwc["webhooks"]}
    assert set(hooks) == {f"{p}.validate.alertplane.io" for p in PLURALS.values()}
    for plural in PLURALS.values():
        hook = hooks[f"{plural}.validate.alertplane.io"]
        assert hook["rules"] == [{
            "apiGroups": ["alertplane.io"], "apiVersions": ["*"], "resources": [plural],
            "operations": list(WEBHOOK_OPERATIONS), "scope": "Namespaced",
        }]  # fmt: skip
        path = f"/{webhook_id(plural)}"
        assert hook["clientConfig"] == {
            "service": {"name": FULLNAME, "namespace": NS, "path": path, "port": 9443}
        }
        assert hook["sideEffects"] == "None" and hook["failurePolicy"] == "Fail"
        assert "namespaceSelector" not in hook  # cluster-wide

    issuer = {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    docs = helm.template({"webhook": {"enabled": True, "certManager": {"issuerRef": issuer}}})
    assert one(docs, "Certificate")["spec"]["issuerRef"] == issuer
    assert "Issuer" not in kinds(docs)


def served_webhooks() -> dict[tuple[str, str], tuple[str, list[str]]]:
    """What the operator's kopf registry serves: (group, plural) -> (URL path, operations).

    kopf answers a review at `/<handler id>`; a review sent to any other path runs no
    handler and is allowed, so a path mismatch would silently switch validation off."""
    handlers = Handlers(cast(Any, None), cast(Any, None), cast(Any, None), True, lambda: None)
    registry = handlers.registry(webhook=True)
    return {
        (h.selector.group or "", h.selector.plural or ""): (f"/{h.id}", list(h.operations or []))
        for h in registry._webhooks.get_all_handlers()
    }


@pytest.mark.parametrize("watch", [[], ["team-a"]], ids=["cluster-wide", "namespaced"])
def test_webhook_calls_exactly_what_the_operator_serves(helm: Helm, watch: list[str]) -> None:
    served = served_webhooks()
    assert served == {
        ("alertplane.io", plural): (f"/{webhook_id(plural)}", list(WEBHOOK_OPERATIONS))
        for plural in PLURALS.values()
    }
    assert set(WEBHOOK_OPERATIONS) == {"CREATE", "UPDATE", "DELETE"}  # DELETE: audit actor
    docs = helm.template({"watchNamespaces": watch, "webhook": {"enabled": True, "port": 8443}})
    port = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}["webhook"]
    assert f"--webhook-port={port}" in argv(docs)
    called: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for hook in one(docs, "ValidatingWebhookConfiguration")["webhooks"]:
        (rule,) = hook["rules"]
        (group,), (plural,) = rule["apiGroups"], rule["resources"]
        service = hook["clientConfig"]["service"]
        assert (service["name"], service["port"]) == (FULLNAME, 8443)
        assert one(docs, "Service")["spec"]["ports"][-1]["port"] == 8443
        called[(group, plural)] = (service["path"], rule["operations"])
    assert called == served

    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n...\n").decode()
    docs = helm.template({
        "webhook": {"enabled": True, "certManager": {"enabled": False},
                    "existingSecret": "my-tls", "caBundle": ca},
    })  # fmt: skip
    assert "Certificate" not in kinds(docs) and "Issuer" not in kinds(docs)
    vwc = one(docs, "ValidatingWebhookConfiguration")
    assert "annotations" not in vwc["metadata"]
    assert {h["clientConfig"]["caBundle"] for h in vwc["webhooks"]} == {ca}
    vol = next(
        v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "webhook-tls"
    )  # fmt: skip
    assert vol["secret"] == {"secretName": "my-tls"}


def test_service_monitor_and_prometheus_rule(helm: Helm) -> None:
    docs = helm.template({
        "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}, "scrapeTimeout": "10s"},
        "prometheusRule": {"enabled": True, "labels": {"role": "platform"}},
    })  # fmt: skip
    sm = one(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kps"
    assert sm["spec"]["selector"]["matchLabels"] == one(docs, "Service")["spec"]["selector"]
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics" and endpoint["path"] == "/metrics"
    assert endpoint["scrapeTimeout"] == "10s"
    # AlertplaneDown selects up{job="alertplane"}: the scrape job is named to match.
    assert {"action": "replace", "targetLabel": "job", "replacement": "alertplane"} in endpoint[
        "relabelings"
    ]
    rule = one(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["role"] == "platform"
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert 'up{job="alertplane"} == 0' in exprs
    # Prometheus templates reach Prometheus verbatim, not expanded by Helm.
    text = helm.template_text({"prometheusRule": {"enabled": True}})
    assert "{{ $labels.instance }}" in text
    assert "ServiceMonitor" not in kinds(helm.template())
    assert "PrometheusRule" not in kinds(helm.template())


REJECTED: list[tuple[str, Doc, str]] = [
    ("unknown sink", {"sink": {"type": "kafka"}},
     "at '/sink/type': value must be one of 'files', 'configmap', 'prometheus-operator'"),
    ("watchNamespaces not a list", {"watchNamespaces": "team-a"},
     "at '/watchNamespaces': got string, want array"),
    ("bad namespace name", {"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0'"),
    ("unknown top-level key", {"sinkType": "files"},
     "additional properties 'sinkType' not allowed"),
    ("typo in a nested key", {"database": {"existingsecret": "pg"}},
     "at '/database': additional properties 'existingsecret' not allowed"),
    ("port out of range", {"metricsPort": 70000}, "at '/metricsPort'"),
    ("reload URL without scheme", {"prometheusUrl": "prometheus:9090"}, "at '/prometheusUrl'"),
    ("bad platform duration", {"platform": {"alertmanager": {"route": {"group_wait": "10x"}}}},
     "at '/platform/alertmanager/route/group_wait'"),
    ("unknown platform key", {"platform": {"secretDir": "/x"}},
     "at '/platform': additional properties 'secretDir' not allowed"),
    ("issuerRef without name", {"webhook": {"certManager": {"issuerRef": {"kind": "Issuer"}}}},
     "at '/webhook/certManager/issuerRef': missing property 'name'"),
    ("webhook failurePolicy", {"webhook": {"failurePolicy": "fail"}},
     "at '/webhook/failurePolicy'"),
    ("webhook paths are the operator's", {"webhook": {"paths": {"customerAlert": "/x"}}},
     "at '/webhook': additional properties 'paths' not allowed"),
    ("webhook without certificate source",
     {"webhook": {"enabled": True, "certManager": {"enabled": False}}},
     "needs webhook.existingSecret"),
    ("webhook secret without CA",
     {"webhook": {"enabled": True, "certManager": {"enabled": False}, "existingSecret": "t"}},
     "needs webhook.caBundle"),
    ("sink namespace with files", {"sink": {"type": "files", "namespace": "monitoring"}},
     "sink.namespace is only used with sink.type=configmap or prometheus-operator"),
    ("claim without files sink", {"sink": {"type": "configmap", "files": {"existingClaim": "c"}}},
     "sink.files.existingClaim is only used with sink.type=files"),
    ("platform receiver name",
     {"platform": {"alertmanager": {"defaultReceiver": {"name": "x"}}}},
     "defaultReceiver.name: the name is always platform-default"),
    ("no service account name", {"serviceAccount": {"create": False}},
     "serviceAccount.name is required when serviceAccount.create is false"),
    ("api without database", {"api": {"enabled": True, "tokensSecret": "t"}},
     "api.enabled needs database.existingSecret"),
    ("api without tokens", {"api": {"enabled": True}, "database": {"existingSecret": "db"}},
     "api.enabled needs api.tokensSecret"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_bad_values_are_refused_with_a_clear_message(helm: Helm, values: Doc, message: str) -> None:
    assert message in helm.template_error(values)
