"""The chart with `sink.type: mimir` (helm template): the operator's Mimir flags, the
gateway token mounted read-only as a file, RBAC that reads receivers' Secrets by name in
the watched namespaces and writes nothing, no prometheus-operator objects or sink Role, and
the values the schema and the cross-field checks refuse (each naming the key)."""

from __future__ import annotations

import pytest

from alertplane.cli import build_parser
from alertplane.render.platform import PlatformConfig
from alertplane.serve import firing_source
from alertplane.service.mimir_alerts import MimirAlertmanager
from alertplane.sinks import mimir_flags
from alertplane.sinks.factory import SinkSettings
from alertplane.sinks.mimir_flags import serve_sink
from tests.support.helm import API_ON, FULLNAME, NS, Doc, Helm, argv, container, kinds, one, rules

URL = "https://mimir-gw.mimir.svc:8080"
MIMIR: Doc = {"sink": {"type": "mimir", "mimir": {"url": URL, "tokenSecret": "mimir-gw"}}}


def pod(docs: list[Doc]) -> Doc:
    spec: Doc = one(docs, "Deployment", FULLNAME, NS)["spec"]["template"]["spec"]
    return spec


def test_operator_gets_mimir_flags_and_a_read_only_token_file(helm: Helm) -> None:
    docs = helm.template(MIMIR)
    args = argv(docs)
    assert "--sink=mimir" in args
    assert f"--mimir-url={URL}" in args
    assert "--mimir-token-file=/etc/alertplane/mimir/token" in args
    assert "--mimir-max-rules-per-group=20" in args
    assert "--mimir-max-groups-per-tenant=70" in args
    assert not [a for a in args if a.startswith(("--sink-namespace", "--out", "--promop"))]
    mounts = {m["name"]: m for m in container(docs)["volumeMounts"]}
    assert mounts["mimir-token"] == {
        "name": "mimir-token", "mountPath": "/etc/alertplane/mimir", "readOnly": True
    }  # fmt: skip
    assert "subPath" not in mounts["mimir-token"]  # a rotated Secret must reach the file
    volumes = {v["name"]: v for v in pod(docs)["volumes"]}
    secret = volumes["mimir-token"]["secret"]
    assert secret["secretName"] == "mimir-gw"
    assert secret["items"] == [{"key": "token", "path": "token"}]
    assert secret["defaultMode"] == 0o440  # not world-readable; the fsGroup reads it
    # The token is never in the pod spec itself (no env, no argument holds its value).
    assert not [e for e in container(docs)["env"] if "mimir" in str(e).lower()]


def test_flags_the_chart_passes_are_what_the_operator_accepts(helm: Helm) -> None:
    values: Doc = {
        "sink": {
            "type": "mimir",
            "mimir": {
                "url": URL,
                "tokenSecret": "mimir-gw",
                "maxRulesPerGroup": 50,
                "maxGroupsPerTenant": 0,
            },
        }
    }
    args = build_parser().parse_args(argv(helm.template(values))[1:])
    assert args.sink == "mimir"
    assert args.mimir_url == URL
    assert args.mimir_token_file == "/etc/alertplane/mimir/token"
    limits = mimir_flags.limits(args)
    assert (limits.rules_per_group, limits.groups_per_tenant) == (50, 0)
    SinkSettings(
        "mimir", platform=PlatformConfig(), mimir_url=args.mimir_url,
        mimir_token_file=args.mimir_token_file, mimir_limits=limits,
    ).check()  # fmt: skip


def test_no_token_secret_no_token_file(helm: Helm) -> None:
    docs = helm.template({"sink": {"type": "mimir", "mimir": {"url": URL}}})
    assert not [a for a in argv(docs) if a.startswith("--mimir-token-file")]
    assert "mimir-token" not in {v["name"] for v in pod(docs)["volumes"]}


def test_renders_nothing_for_prometheus_operator_and_no_sink_role(helm: Helm) -> None:
    docs = helm.template(MIMIR)
    found = kinds(docs)
    for kind in ("Prometheus", "Alertmanager", "AlertmanagerConfig", "PrometheusRule"):
        assert kind not in found, kind
    names = {d["metadata"]["name"] for d in docs if d["kind"] in ("Role", "RoleBinding")}
    assert f"{FULLNAME}-sink" not in names and f"{FULLNAME}-live" not in names
    platform = [d for d in docs if d["kind"] == "ConfigMap"]
    assert [d["metadata"]["name"] for d in platform] == [f"{FULLNAME}-platform"]


def test_secrets_read_by_name_only_cluster_wide_and_namespaced(helm: Helm) -> None:
    cluster = one(helm.template(MIMIR), "ClusterRole", FULLNAME)
    assert ("", "secrets", "get") in rules(cluster)
    assert {v for g, r, v in rules(cluster) if r == "secrets"} == {"get"}
    docs = helm.template({**MIMIR, "watchNamespaces": ["team-a"]})
    assert ("", "secrets", "get") not in rules(one(docs, "ClusterRole", FULLNAME))
    role = one(docs, "Role", FULLNAME, "team-a")
    assert {v for g, r, v in rules(role) if r == "secrets"} == {"get"}
    # Other sinks do not gain it.
    configmap = one(helm.template({"sink": {"type": "configmap"}}), "ClusterRole", FULLNAME)
    assert not [r for r in rules(configmap) if r[1] == "secrets"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sink": {"type": "mimir"}}, "sink.type=mimir needs sink.mimir.url"),
        ({"sink": {"type": "mimir", "mimir": {"url": "ftp://mimir"}}}, "/sink/mimir/url"),
        ({"sink": {"type": "mimir", "mimir": {"url": URL, "maxRulesPerGroup": 0}}},
         "/sink/mimir/maxRulesPerGroup"),
        ({"sink": {"type": "mimir", "mimir": {"url": URL, "maxGroupsPerTenant": -1}}},
         "/sink/mimir/maxGroupsPerTenant"),
        ({"sink": {"type": "mimir", "mimir": {"url": URL, "tokenSecret": "Not_A_Name"}}},
         "/sink/mimir/tokenSecret"),
        ({"sink": {"type": "mimir", "mimir": {"url": URL, "token": "s3cret"}}},
         "token"),  # the token itself never goes into values: a Secret is named
        ({"sink": {"type": "mimir", "mimir": {"url": URL}}, "prometheusUrl": "http://p:9090"},
         "prometheusUrl/alertmanagerUrl do not apply to sink.type=mimir"),
        ({"sink": {"type": "mimir", "namespace": "monitoring", "mimir": {"url": URL}}},
         "sink.namespace is not used with sink.type=mimir"),
        ({"sink": {"type": "mimir", "mimir": {"url": URL}},
          "platform": {"prometheus": {"shards": [{"name": "a", "url": "http://a:9090"}]}}},
         "platform.prometheus.shards/platform.alertmanager.replicas do not apply"),
        ({"sink": {"type": "configmap", "mimir": {"url": URL}}},
         "sink.mimir is only used with sink.type=mimir"),
        ({"sink": {"type": "mimir", "mimir": {"url": URL},
                   "prometheusOperator": {"createObjects": True}}},
         "only the prometheus-operator sink feeds (sink.type is mimir)"),
    ],
)  # fmt: skip
def test_refused_values_name_the_key(helm: Helm, values: Doc, message: str) -> None:
    assert message in helm.template_error(values)


def test_api_reads_firing_alerts_from_mimir_with_the_same_token(helm: Helm) -> None:
    """api.enabled with the Mimir sink: the API (`serve --kubernetes`) asks each customer's
    tenant of Mimir's Alertmanager for the firing view, through the gateway with the
    operator's token file; and `serve` accepts exactly these flags."""
    docs = helm.template({**API_ON, **MIMIR})
    spec = one(docs, "Deployment", f"{FULLNAME}-api", NS)["spec"]["template"]["spec"]
    (api,) = spec["containers"]
    args = api["args"]
    assert "--sink=mimir" in args and f"--mimir-url={URL}" in args
    assert "--mimir-token-file=/etc/alertplane/mimir/token" in args
    assert not [a for a in args if a.startswith("--alertmanager-url")]
    mounts = {m["name"]: m for m in api["volumeMounts"]}
    assert mounts["mimir-token"]["readOnly"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["mimir-token"]["secret"]["secretName"] == "mimir-gw"
    parsed = build_parser().parse_args([api["command"][1], *args])
    sink = serve_sink(parsed, PlatformConfig())
    source = firing_source(sink)
    assert source == MimirAlertmanager(URL, "/etc/alertplane/mimir/token")
    # Without the Mimir sink the API keeps asking alertmanagerUrl.
    other = helm.template({**API_ON, "alertmanagerUrl": "http://am:9093"})
    spec = one(other, "Deployment", f"{FULLNAME}-api", NS)["spec"]["template"]["spec"]
    assert not [a for a in spec["containers"][0]["args"] if "mimir" in a]
