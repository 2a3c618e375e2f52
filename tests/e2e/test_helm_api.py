"""The Helm chart's API workload (`api.enabled`): its own ServiceAccount with least
privilege, Kubernetes mode, Alertmanager, and the attribution key it shares with the
operator."""

from __future__ import annotations

import base64

from tests.support.helm import (
    API_NAMESPACE_RULES,
    API_ON,
    API_RULES,
    FULLNAME,
    NAMESPACE_RULES,
    NS,
    Doc,
    Helm,
    flat,
    one,
    operator_args,
    rules,
    watched_rules,
)

API = f"{FULLNAME}-api"


def test_api_has_its_own_account_and_least_privilege(helm: Helm) -> None:
    docs = helm.template(API_ON)
    assert one(docs, "ServiceAccount", API, NS)
    role = one(docs, "ClusterRole", API)
    assert flat(rules(role)) == flat(API_RULES)
    binding = one(docs, "ClusterRoleBinding", API)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": API, "namespace": NS}]
    assert binding["roleRef"]["name"] == API
    # The operator's RBAC does not change, and gives nothing to the API's account.
    operator = one(docs, "ClusterRole", FULLNAME)
    assert flat(rules(operator)) == flat(NAMESPACE_RULES | watched_rules("prometheus-operator"))
    for b in docs:
        mine = (API, f"{API}-namespaces")
        if b["kind"] in ("RoleBinding", "ClusterRoleBinding") and b["metadata"]["name"] not in mine:
            assert all(sub["name"] != API for sub in b["subjects"])
    namespaces = one(docs, "ClusterRole", f"{API}-namespaces")
    assert flat(rules(namespaces)) == flat(API_NAMESPACE_RULES)
    binding = one(docs, "ClusterRoleBinding", f"{API}-namespaces")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": API, "namespace": NS}]
    assert binding["roleRef"]["name"] == f"{API}-namespaces"
    # watchNamespaces: Roles only there; cluster-wide only the list of Namespaces.
    docs = helm.template({**API_ON, "watchNamespaces": ["team-a", "team-b"]})
    assert not [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == API]
    assert flat(rules(one(docs, "ClusterRole", f"{API}-namespaces"))) == flat(API_NAMESPACE_RULES)
    for ns in ("team-a", "team-b"):
        assert flat(rules(one(docs, "Role", API, ns))) == flat(API_RULES)
        assert one(docs, "RoleBinding", API, ns)["subjects"][0]["name"] == API
    # Without tenant binding the API reads no Namespace, and is told so.
    docs = helm.template({**API_ON, "tenantBinding": False})
    assert not [d for d in docs if d["metadata"]["name"] == f"{API}-namespaces"]
    (container,) = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]["containers"]
    assert "--no-tenant-binding" in container["args"]


def test_api_deployment_serves_kubernetes_mode(helm: Helm) -> None:
    values = {**API_ON, "api": {**API_ON["api"], "customerNamespace": "alerts-{customer}"}}
    docs = helm.template(values)
    deploy = one(docs, "Deployment", API, NS)
    pod = deploy["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == API
    (container,) = pod["containers"]
    assert container["command"] == ["alertplane", "serve"]
    assert container["args"] == [
        "--kubernetes", "--host=0.0.0.0", "--port=8080",
        "--tokens=/etc/alertplane/tokens/tokens", "--customer-namespace=alerts-{customer}",
        "--attribution-key-file=/etc/alertplane/attribution/key",
    ]  # fmt: skip
    env = {e["name"]: e for e in container["env"]}
    assert env["ALERTPLANE_DB"]["valueFrom"]["secretKeyRef"] == {
        "name": "alertplane-db",
        "key": "url",
    }
    tokens = [v for v in pod["volumes"] if v["name"] == "tokens"]
    assert tokens[0]["secret"]["secretName"] == "api-tokens"
    svc = one(docs, "Service", API, NS)
    assert svc["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    # Neither Service selects the other's pods.
    operator_svc = one(docs, "Service", FULLNAME, NS)
    api_pod = deploy["spec"]["template"]["metadata"]["labels"]
    assert not operator_svc["spec"]["selector"].items() <= api_pod.items()
    operator_pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["metadata"]["labels"]
    assert not svc["spec"]["selector"].items() <= operator_pod.items()
    # Off by default.
    assert not [d for d in helm.template() if d["metadata"]["name"] == API]


def test_api_asks_alertmanager_and_the_webhook_knows_the_apis_account(helm: Helm) -> None:
    """The API's /firing asks `alertmanagerUrl`; with the webhook on, the operator believes
    the API's audit annotations only for changes its ServiceAccount was admitted to make."""
    hooked = {**API_ON, "alertmanagerUrl": "http://am:9093", "webhook": {"enabled": True}}
    docs = helm.template(hooked)
    api_args = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]["containers"][0]
    assert "--alertmanager-url=http://am:9093" in api_args["args"]
    assert f"--api-service-account={NS}/{API}" in operator_args(docs)
    assert one(docs, "ServiceAccount", API, NS)  # the account named is the API's own
    # No webhook: nobody tells the operator the user; no API: no account to name.
    assert not [a for a in operator_args(helm.template(API_ON)) if "api-service" in a]
    alone = operator_args(helm.template({"webhook": {"enabled": True}}))
    assert not [a for a in alone if "api-service" in a]


KEY_FLAG = "--attribution-key-file=/etc/alertplane/attribution/key"


def _mounted_key(pod: Doc) -> tuple[str, str]:
    """(Secret, key) the pod mounts as /etc/alertplane/attribution/key."""
    (c,) = pod["containers"]
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/alertplane/attribution"]
    (vol,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = vol["secret"]["items"]
    assert item["path"] == "key" and mount["readOnly"] is True
    return vol["secret"]["secretName"], item["key"]


def test_api_and_operator_share_the_attribution_key(helm: Helm) -> None:
    """Without the webhook, the API's audit annotations are believed only when signed with
    a key that only the API and the operator have: both mount the same Secret."""
    docs = helm.template(API_ON)
    secret = one(docs, "Secret", f"{FULLNAME}-attribution-key", NS)
    key = base64.b64decode(secret["data"]["key"])
    assert len(key) >= 32
    api_pod = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]
    op_pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["spec"]
    assert KEY_FLAG in api_pod["containers"][0]["args"] and KEY_FLAG in operator_args(docs)
    assert _mounted_key(api_pod) == _mounted_key(op_pod) == (f"{FULLNAME}-attribution-key", "key")
    # An existing Secret instead (GitOps: `helm template` cannot keep a generated key).
    own = {**API_ON, "api": {**API_ON["api"], "attributionKeySecret": "my-key",
                             "attributionKeyKey": "hmac"}}  # fmt: skip
    docs = helm.template(own)
    assert not [d for d in docs if d["kind"] == "Secret"]
    api_pod = one(docs, "Deployment", API, NS)["spec"]["template"]["spec"]
    op_pod = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["spec"]
    assert _mounted_key(api_pod) == _mounted_key(op_pod) == ("my-key", "hmac")
    # No API: no key, no flag.
    docs = helm.template()
    assert KEY_FLAG not in operator_args(docs)
    assert not [d for d in docs if d["kind"] == "Secret"]
