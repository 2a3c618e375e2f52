"""Secret references that climb out of the customer's folder (issue 10, item 2).

`apiURLSecretRef: {name: "..", key: "globex/globex-slackhook/slack-api-url-0"}` used to render
`api_url_file: <secretsDir>/acme/../globex/…`, so Alertmanager posted acme's alerts through
globex's webhook. Secret names must be Kubernetes Secret names (DNS subdomains) and keys
Kubernetes keys (`[-._a-zA-Z0-9]+`, not `.`, `..` or starting with `..`), refused at every
door; and the one function that builds a secret file path (`render/secretfiles.py`) proves
every path stays under `<secretsDir>/<namespace>/`, whatever reaches it.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.cli import main
from alertplane.errors import ObjectRef, Problem
from alertplane.k8s.reconciler import cluster_reconciler
from alertplane.k8s.state import ClusterState
from alertplane.model import CustomerReceiver, CustomerReceiverSpec, SecretKeyRef
from alertplane.model.common import DNS_SUBDOMAIN_RE, SECRET_KEY_RE
from alertplane.render.alertmanager import receiver_of
from alertplane.render.platform import PlatformConfig
from alertplane.render.promop import alertmanager_config
from alertplane.render.secretfiles import SecretPathError, secret_file, secret_ref_of
from alertplane.store.secrets import write_secret
from alertplane.sync import SyncSettings
from alertplane.validate import parse_document
from tests.adversarial.crd_server import dry_run, receiver_with
from tests.support.api_env import ACME, ApiEnv, api_env
from tests.support.factories import receiver
from tests.support.k8s_env import KubeEnv
from tests.support.problems import unplaced

SECRETS = "/etc/alertplane/secrets"

# (field, value) pairs each door must refuse, with the message that names the field.
HOSTILE_NAMES = ["..", ".", "../globex", "a/b", "/etc/passwd", "acme\x00x", "Acme", "ä", "", " "]
HOSTILE_KEYS = [
    "..",
    ".",
    "..hidden",
    "globex/globex-slackhook/slack-api-url-0",
    "a/b",
    "/etc/passwd",
    "x\x00y",
    "schlüssel",
    "",
    "a b",
    "k" * 254,
]


def _slack(name: str, key: str) -> dict[str, Any]:
    return receiver(
        "acme", name="chat", webhook=[], slack=[{"apiURLSecretRef": {"name": name, "key": key}}]
    )


# The start of each line `alertplane validate` (and the webhook) prints for a hostile ref.
PREFIX = "CustomerReceiver acme/acme-chat: spec.slack[0].apiURLSecretRef."


# -- the model (and so validate, apply, the API, the webhook and the operator) ---------------
@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_refused_by_the_model_naming_the_field(key: str) -> None:
    obj, problems = parse_document(_slack("acme-slack", key))
    assert obj is None
    ending = (
        "is too long: at most 253 characters" if len(key) > 253 else "is not a valid Secret key"
    )
    assert [(p.path, p.message.endswith(ending)) for p in problems] == [
        ("spec.slack[0].apiURLSecretRef.key", True)
    ], problems
    assert "'..'" in problems[0].hint and "'/'" in problems[0].hint


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused_by_the_model_naming_the_field(name: str) -> None:
    obj, problems = parse_document(_slack(name, "url"))
    assert obj is None
    assert [p.path for p in problems] == ["spec.slack[0].apiURLSecretRef.name"], problems
    assert problems[0].message.endswith("is not a valid Secret name")


def test_routing_keys_are_refused_the_same_way() -> None:
    manifest = receiver(
        "acme",
        name="pager",
        webhook=[],
        pagerduty=[{"routingKeySecretRef": {"name": "..", "key": "globex/pd/routing-key"}}],
    )
    obj, problems = parse_document(manifest)
    assert obj is None
    assert sorted(p.path for p in problems) == [
        "spec.pagerduty[0].routingKeySecretRef.key",
        "spec.pagerduty[0].routingKeySecretRef.name",
    ]


def test_a_long_hostile_value_is_shortened_in_the_message() -> None:
    _, problems = parse_document(_slack("acme-slack", "x/" * 50_000))
    assert len(problems[0].text()) < 400, problems[0].text()
    assert problems[0].message.startswith("a value of 100000 characters is too long")


# -- the path function: the root of the defence ---------------------------------------------
_secret_names = st.from_regex(r"\A" + DNS_SUBDOMAIN_RE[1:-1] + r"\Z")
_secret_keys = st.from_regex(r"\A" + SECRET_KEY_RE[1:-1] + r"\Z")
_anything = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    HOSTILE_KEYS + HOSTILE_NAMES
)


def _under(path: str, folder: str) -> bool:
    return posixpath.normpath(path) == path and path.startswith(folder.rstrip("/") + "/")


@settings(max_examples=400, deadline=None)
@given(name=_anything | _secret_names, key=_anything | _secret_keys)
def test_any_accepted_ref_renders_a_path_under_the_namespace_folder(name: str, key: str) -> None:
    """Property: a ref the model accepts renders under `<secretsDir>/<namespace>/` in every
    sink's rendering; a ref it refuses never reaches a path (the function refuses it too)."""
    obj, _ = parse_document(_slack(name, key))
    if obj is None:
        with pytest.raises(SecretPathError):
            secret_file(SECRETS, "acme", name, key)
        return
    assert isinstance(obj.spec, CustomerReceiverSpec)
    platform = PlatformConfig.model_validate({"secretsDir": SECRETS})
    path = receiver_of(obj.spec, "acme", platform)["slack_configs"][0]["api_url_file"]
    assert _under(path, f"{SECRETS}/acme") and path.split("/")[-2:] == [name, key]
    # prometheus-operator: the copied key comes from the receiver's own namespace only.
    _, keys = alertmanager_config("acme", [("acme", obj.spec)], platform.model_copy(
        update={"secrets_dir": "@"}))  # fmt: skip
    assert list(keys.values()) == [("acme", name, key)]
    assert all(len(k) <= 253 for k in keys)


@settings(max_examples=300, deadline=None)
@given(ns=_anything, name=_anything, key=_anything, root=st.sampled_from([SECRETS, "/", "rel/s"]))
def test_the_path_function_proves_containment_or_refuses(
    ns: str, name: str, key: str, root: str
) -> None:
    try:
        path = secret_file(root, ns, name, key)
    except SecretPathError as exc:
        assert str(exc) and exc.hint
        return
    folder = posixpath.join(posixpath.normpath(root), ns)
    assert _under(path, folder)
    assert secret_ref_of(root, path) == (ns, name, key)


@pytest.mark.parametrize(
    ("ns", "name", "key"),
    [
        ("acme", "..", "globex/globex-slackhook/slack-api-url-0"),
        ("acme", "x", "/etc/passwd"),
        ("acme", "x", ".."),
        ("..", "globex", "x"),
        ("acme/../globex", "s", "k"),
        ("acme", "s", "k\x00"),
    ],
)
def test_every_writer_of_secret_files_refuses_escapes(
    tmp_path: Path, ns: str, name: str, key: str
) -> None:
    with pytest.raises(SecretPathError, match="secrets directory"):
        secret_file(str(tmp_path), ns, name, key)
    with pytest.raises(SecretPathError):
        write_secret(str(tmp_path / "secrets"), ns, name, key, "https://hooks.example/x")
    assert not any(tmp_path.rglob("*"))  # nothing written anywhere
    # A spec that bypassed validation (model_construct) still cannot render the path.
    spec = CustomerReceiverSpec.model_validate(
        receiver("acme", name="chat", webhook=[], slack=[{"apiURL": "https://s/x"}])["spec"]
    )
    slack = spec.slack[0].model_copy(
        update={"api_url": None, "api_url_secret_ref": SecretKeyRef.model_construct(name=name,
                                                                                     key=key)}
    )  # fmt: skip
    forged = spec.model_copy(update={"slack": [slack]})
    with pytest.raises(SecretPathError):
        receiver_of(forged, ns, PlatformConfig())
    with pytest.raises(SecretPathError):
        alertmanager_config("acme", [(ns, forged)], PlatformConfig(secretsDir="@"))


def test_the_promop_key_of_a_long_reference_stays_a_valid_secret_key() -> None:
    name, key = "s" * 253, "k" * 253
    obj, problems = parse_document(_slack(name, key))
    assert obj is not None, problems
    assert isinstance(obj.spec, CustomerReceiverSpec)
    _, keys = alertmanager_config("acme", [("acme", obj.spec)], PlatformConfig(secretsDir="@"))
    ((skey, source),) = keys.items()
    assert source == ("acme", name, key) and len(skey) <= 253


# -- CLI: validate and apply ----------------------------------------------------------------
@pytest.fixture
def hostile_file(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(_slack("..", "globex/globex-slackhook/slack-api-url-0")))
    return path


def test_cli_validate_and_apply_refuse(
    hostile_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "-f", str(hostile_file), "--no-tools"]) == 1
    out = unplaced(capsys.readouterr().out).splitlines()
    assert all(line.startswith(PREFIX) for line in out), out
    assert [line.split(": ")[1] for line in out] == [
        "spec.slack[0].apiURLSecretRef.name",
        "spec.slack[0].apiURLSecretRef.key",
    ], out
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["apply", "--db", db, "--actor", "t", "-f", str(hostile_file)]) == 1
    err = capsys.readouterr().err
    assert "spec.slack[0].apiURLSecretRef.key" in err and "created" not in err
    out_dir = tmp_path / "out"
    assert main(["render", "-f", str(hostile_file), "--out", str(out_dir)]) == 1
    capsys.readouterr()
    assert "globex" not in "".join(p.read_text() for p in out_dir.rglob("*") if p.is_file())


# -- REST API --------------------------------------------------------------------------------
@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, run_reconciler=False) as env:
        yield env


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    """One API for the tests whose every request is refused (nothing is ever stored)."""
    tmp = tmp_path_factory.mktemp("refusing")
    with api_env(f"sqlite:///{tmp / 'a.db'}", tmp, run_reconciler=False) as env:
        yield env


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_api_refuses_hostile_keys_with_422(refusing: ApiEnv, key: str) -> None:
    api = refusing
    body = {"receiverName": "chat", "slack": [{"apiURLSecretRef": {"name": "s", "key": key}}]}
    r = api.client.post("/customers/acme/receivers", json=body, headers=ACME)
    assert r.status_code == 422, r.text
    paths = [p["path"] for p in r.json()["problems"]]
    # NUL is refused before the model, naming the same field.
    assert paths == ["spec.slack[0].apiURLSecretRef.key"], r.text
    assert api.store.get() == []


def test_api_refuses_a_traversing_name_on_update_too(api: ApiEnv) -> None:
    ok = {"receiverName": "chat", "slack": [{"apiURLSecretRef": {"name": "s", "key": "url"}}]}
    assert api.client.post("/customers/acme/receivers", json=ok, headers=ACME).status_code == 201
    bad = {"slack": [{"apiURLSecretRef": {"name": "..", "key": "globex/globex-slackhook/x"}}]}
    r = api.client.put("/customers/acme/receivers/chat", json=bad, headers=ACME)
    assert r.status_code == 422
    assert [p["path"] for p in r.json()["problems"]] == [
        "spec.slack[0].apiURLSecretRef.name",
        "spec.slack[0].apiURLSecretRef.key",
    ]
    stored = api.store.get(kind="CustomerReceiver")[0].spec
    assert stored["slack"][0]["apiURLSecretRef"] == {"name": "s", "key": "url"}


# -- operator (cluster state → reconciler → files sink) ----------------------------------
def test_operator_marks_a_hostile_receiver_invalid_and_renders_no_path(tmp_path: Path) -> None:
    """Objects the CRD schema would refuse can still reach the operator (a CRD installed
    before this check); the operator refuses them with the same message."""
    state = ClusterState()
    state.set_namespace("acme", {"labels": {"alertplane.io/customer": "acme"}})
    manifest = _slack("..", "globex/globex-slackhook/slack-api-url-0")
    manifest["metadata"].update(uid="u1", generation=1)
    state.observe(manifest)
    cluster_reconciler(state, SyncSettings(out_dir=tmp_path)).sync_all()
    entry = state.entry(ObjectRef("CustomerReceiver", "acme", "acme-chat"))
    assert entry is not None and entry.status.phase == "Invalid"
    message = json.dumps(entry.status.conditions)
    assert "spec.slack[0].apiURLSecretRef.name" in message
    rendered = (tmp_path / "alertmanager.yml").read_text()
    assert "globex" not in rendered and "_file" not in rendered


# -- CRD schema on a real API server ---------------------------------------------------------
@pytest.fixture
def kube_crds(crd_kube: KubeEnv) -> KubeEnv:
    return crd_kube  # one per test process, shared with tests/e2e/test_crds.py


@pytest.mark.parametrize(
    ("name", "key", "field"),
    [
        ("..", "url", "name"),
        ("s", "..", "key"),
        ("s", "globex/globex-slackhook/slack-api-url-0", "key"),
        ("s", "/etc/passwd", "key"),
        ("s", "..hidden", "key"),
    ],
)
def test_crd_schema_refuses_hostile_refs(
    kube_crds: KubeEnv, name: str, key: str, field: str
) -> None:
    obj = receiver_with(slack=[{"apiURLSecretRef": {"name": name, "key": key}}])
    code, out = dry_run(kube_crds, obj)
    assert code != 0 and f"spec.slack[0].apiURLSecretRef.{field}" in out, out


def test_crd_schema_accepts_real_refs(kube_crds: KubeEnv) -> None:
    ref = {"name": "acme.slack-2", "key": ".slack_url-0"}
    code, out = dry_run(kube_crds, receiver_with(slack=[{"apiURLSecretRef": ref}]))
    assert code == 0, out


def test_a_receiver_in_another_customers_namespace_reads_no_secret_there(tmp_path: Path) -> None:
    """prometheus-operator copies referenced Secret keys; acme's receiver placed in globex's
    namespace is Invalid and its references are never looked up (nor copied)."""
    state = ClusterState()
    state.set_namespace("acme", {"labels": {"alertplane.io/customer": "acme"}})
    state.set_namespace("globex", {"labels": {"alertplane.io/customer": "globex"}})
    looked_up: list[tuple[str, str]] = []

    def check_secrets(obj: CustomerReceiver) -> list[Problem]:
        looked_up.extend((obj.metadata.namespace, r.name) for r in _refs(obj))
        return []

    squatter = _slack("globex-slackhook", "slack-api-url-0")
    squatter["metadata"].update(namespace="globex", uid="u1", generation=1)
    own = _slack("acme-slack", "url")
    own["metadata"].update(name="acme-own", uid="u2", generation=1)
    own["spec"]["receiverName"] = "own"
    state.observe(squatter)
    state.observe(own)
    rec = cluster_reconciler(state, SyncSettings(out_dir=tmp_path), check_secrets=check_secrets)
    rec.sync_all()
    entry = state.entry(ObjectRef("CustomerReceiver", "globex", "acme-chat"))
    assert entry is not None and entry.status.phase == "Invalid"
    assert looked_up == [("acme", "acme-slack")]
    assert "globex" not in (tmp_path / "alertmanager.yml").read_text()


def _refs(obj: CustomerReceiver) -> list[SecretKeyRef]:
    refs = [c.api_url_secret_ref for c in obj.spec.slack]
    refs += [c.routing_key_secret_ref for c in obj.spec.pagerduty]
    return [r for r in refs if r is not None]


def test_references_that_read_alike_get_distinct_copied_keys() -> None:
    slack = [
        {"apiURLSecretRef": {"name": "a.b", "key": "c"}},
        {"apiURLSecretRef": {"name": "a", "key": "b.c"}},
    ]
    obj, problems = parse_document(receiver("acme", name="chat", webhook=[], slack=slack))
    assert obj is not None and isinstance(obj.spec, CustomerReceiverSpec), problems
    platform = PlatformConfig.model_validate({"secretsDir": "@"})
    spec, keys = alertmanager_config("acme", [("acme", obj.spec)], platform)
    refs = [c["apiURL"]["key"] for c in spec["receivers"][1]["slackConfigs"]]
    assert [keys[r] for r in refs] == [("acme", "a.b", "c"), ("acme", "a", "b.c")]


def test_the_admission_webhook_denies_with_the_validate_lines() -> None:
    import kopf

    from alertplane.k8s.handlers import Handlers

    handlers = Handlers(ClusterState(), cast(Any, None), PlatformConfig(), True, lambda: None)
    manifest = _slack("..", "globex/globex-slackhook/slack-api-url-0")
    with pytest.raises(kopf.AdmissionError) as denied:
        handlers.admit(manifest, {"username": "mallory"}, "CREATE")
    lines = str(denied.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "spec.slack[0].apiURLSecretRef.name",
        "spec.slack[0].apiURLSecretRef.key",
    ]
    assert all(line.startswith(PREFIX) for line in lines), lines
