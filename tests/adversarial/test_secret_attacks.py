"""A hostile customer against the secret files and secret values (issue 10, items 2 and 9).

`test_secret_paths.py` proves no reference climbs out of `<secretsDir>/<folder>/`. This module
attacks what that leaves open:

- Folders shared by customers. In standalone mode the store is the truth and a namespace is
  only a name: `alertplane apply` of manifests without `metadata.namespace` puts every
  customer's objects into `default`, an admin import or a move can put acme's object into
  namespace `globex`. Keyed by namespace, acme's `apiURLSecretRef: {name: globex-oncall, key:
  slack-api-url-0}` then rendered globex's Slack webhook file, and acme's clear `apiURL` on
  an object named like a Secret globex references overwrote globex's file. In standalone
  mode the folder is the customer's id (the store writes and the reconciler renders under
  `<secretsDir>/<customerId>/`), so no two customers ever share one.
- Secret values echoed in refusals (a routing key pasted into `routingKeySecretRef`).
- Clear URLs Alertmanager cannot parse: amtool's refusal quotes the URL, and that text is
  what reaches logs, statuses and responses. They are refused first, without the value.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import kopf
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.api.errors import Invalid
from alertplane.cli import main
from alertplane.errors import ObjectRef, UsageError
from alertplane.k8s.handlers import Handlers
from alertplane.k8s.reconciler import cluster_reconciler
from alertplane.k8s.state import ClusterState
from alertplane.kube.namespaces import NamespaceBindings
from alertplane.render.platform import PlatformConfig
from alertplane.render.secretfiles import SecretPathError, secret_file
from alertplane.service.tenancy import BoundWriter
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from alertplane.sync import SyncSettings
from alertplane.validate import Parsed, parse_document, validate_all
from alertplane.validate.fields import _is_alertmanager_url
from alertplane.validate.tools import tool_path
from tests.support.api_env import ACME, ApiEnv, api_env
from tests.support.factories import receiver

GLOBEX_URL = "https://hooks.slack.com/services/GLOBEX/SECRET/GLOBEXHOOK"
ACME_URL = "https://hooks.slack.com/services/ACME/ATTACKER/ACMEHOOK"


def _in(namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    manifest["metadata"]["namespace"] = namespace
    return manifest


def _slack_url(customer: str, name: str, url: str) -> dict[str, Any]:
    return receiver(customer, name, webhook=[], slack=[{"apiURL": url}])


def _slack_ref(customer: str, name: str, secret: str, key: str) -> dict[str, Any]:
    ref = {"name": secret, "key": key}
    return receiver(customer, name, webhook=[], slack=[{"apiURLSecretRef": ref}])


def _am_receivers(out: Path) -> dict[str, Any]:
    config = yaml.safe_load((out / "alertmanager.yml").read_text())
    return {r["name"]: r for r in config["receivers"]}


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


# -- standalone: one namespace, several customers --------------------------------------------
@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[ApiEnv, str, Path]]:
    """The API with globex's receiver (a clear Slack URL) and acme's, both applied by the
    platform team with `alertplane apply` into one namespace (`default`: none given)."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with api_env(db, tmp_path, run_reconciler=False) as env:
        platform = tmp_path / "platform.yaml"
        platform.write_text(yaml.safe_dump({"secretsDir": str(env.secrets)}))
        docs = [_slack_url("globex", "oncall", GLOBEX_URL), receiver("acme", "oncall")]
        for doc in docs:
            del doc["metadata"]["namespace"]
        manifests = tmp_path / "team.yaml"
        manifests.write_text(yaml.safe_dump_all(docs))
        args = ["apply", "--db", db, "--actor", "platform", "--platform-config", str(platform)]
        assert main([*args, "-f", str(manifests)]) == 0
        yield env, db, platform


def test_a_customer_cannot_reference_a_secret_of_another_customer_in_its_namespace(
    shared: tuple[ApiEnv, str, Path],
) -> None:
    """acme's token points its receiver (in the shared namespace) at the file alertplane
    wrote for globex's clear URL: it must not render globex's file."""
    env, _, _ = shared
    stolen = {"name": "globex-oncall", "key": "slack-api-url-0"}
    body = {"slack": [{"apiURLSecretRef": stolen}]}
    r = env.client.put("/customers/acme/receivers/oncall", json=body, headers=ACME)
    assert r.status_code == 200, r.text
    report = env.reconciler.sync(None)
    assert report.outcome == "ok", report
    receivers = _am_receivers(env.out)
    (acme,) = receivers["acme/oncall"]["slack_configs"]
    (globex,) = receivers["globex/oncall"]["slack_configs"]
    assert acme["api_url_file"] != globex["api_url_file"]
    assert acme["api_url_file"] == f"{env.secrets}/acme/globex-oncall/slack-api-url-0"
    assert Path(globex["api_url_file"]).read_text() == GLOBEX_URL


def test_a_customer_cannot_overwrite_a_secret_another_customer_references(
    shared: tuple[ApiEnv, str, Path], tmp_path: Path
) -> None:
    """globex references a Secret `hook` in the shared namespace; acme's receiver named
    `hook` with a clear URL wrote `<ns>/hook/slack-api-url-0`, the very file globex's
    Alertmanager receiver reads: globex's alerts then went to acme's webhook."""
    env, db, platform = shared
    planted = tmp_path / "plant.yaml"
    globex = _slack_ref("globex", "oncall", "hook", "slack-api-url-0")
    del globex["metadata"]["namespace"]
    planted.write_text(yaml.safe_dump(globex))
    args = ["apply", "--db", db, "--actor", "platform", "--platform-config", str(platform)]
    assert main([*args, "-f", str(planted)]) == 0
    secret = env.secrets / "globex" / "hook" / "slack-api-url-0"
    secret.parent.mkdir(parents=True)
    secret.write_text(GLOBEX_URL)
    squatter = _slack_url("acme", "hook", ACME_URL)
    squatter["metadata"] = {"name": "hook", "namespace": "default"}
    with_url = tmp_path / "squat.yaml"
    with_url.write_text(yaml.safe_dump(squatter))
    assert main([*args, "-f", str(with_url)]) == 0
    assert env.reconciler.sync(None).outcome == "ok"
    receivers = _am_receivers(env.out)
    (g,) = receivers["globex/oncall"]["slack_configs"]
    (a,) = receivers["acme/hook"]["slack_configs"]
    assert Path(g["api_url_file"]).read_text() == GLOBEX_URL
    assert Path(a["api_url_file"]).read_text() == ACME_URL
    assert g["api_url_file"] == str(secret)


_ids = st.sampled_from(["acme", "globex", "acme-x", "x", "default"])
_names = st.sampled_from(["oncall", "x-oncall", "hook", "globex-oncall", "acme-oncall"])


@settings(max_examples=60, deadline=None)
@given(
    owners=st.lists(st.tuples(_ids, _ids, _names), min_size=2, max_size=6, unique=True),
)
def test_no_two_customers_share_a_secret_file(
    owners: list[tuple[str, str, str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Property (standalone store): whatever namespaces and object names customers'
    receivers with clear secrets get, every secret file is written by one customer only."""
    tmp = tmp_path_factory.mktemp("share")
    store = Store(open_db(f"sqlite:///{tmp / 'a.db'}"), secrets_dir=str(tmp / "s"))
    writers: dict[str, set[str]] = {}
    for customer, namespace, name in owners:
        manifest = _in(namespace, _slack_url(customer, "r", f"https://h.example/{customer}"))
        manifest["metadata"]["name"] = name
        obj, problems = parse_document(manifest)
        assert obj is not None, problems
        before = _files(tmp / "s") if (tmp / "s").exists() else {}
        try:
            store.apply([obj], "t", "test")
        except UsageError:  # a move onto another customer's identity: nothing written
            assert (_files(tmp / "s") if (tmp / "s").exists() else {}) == before
            continue
        after = _files(tmp / "s")
        for path, content in after.items():
            if before.get(path) != content:
                writers.setdefault(path, set()).add(customer)
    assert all(len(who) == 1 for who in writers.values()), writers
    store.sessions.kw["bind"].dispose()


# -- secret values never echoed ------------------------------------------------------------
ROUTING_KEY = "0123456789abcdef0123456789abcdef"  # what a PagerDuty routing key looks like
SLACK_URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/SECRETSECRET"


def _pd(**cfg: Any) -> dict[str, Any]:
    return receiver("acme", "chat", webhook=[], pagerduty=[cfg])


def _sl(**cfg: Any) -> dict[str, Any]:
    return receiver("acme", "chat", webhook=[], slack=[cfg])


# A secret typed into the wrong place of a secret field: each is refused, naming the field.
MISPLACED = [
    ("key-as-ref", _pd(routingKeySecretRef=ROUTING_KEY), ROUTING_KEY),
    ("url-as-ref", _sl(apiURLSecretRef=SLACK_URL), SLACK_URL),
    (
        "key-as-ref-name",
        _pd(routingKeySecretRef={"name": f"{ROUTING_KEY}_", "key": "k"}),
        ROUTING_KEY,
    ),
    ("url-as-ref-name", _sl(apiURLSecretRef={"name": SLACK_URL, "key": "url"}), SLACK_URL),
    ("url-as-ref-key", _sl(apiURLSecretRef={"name": "s", "key": SLACK_URL}), SLACK_URL),
    ("key-as-list", _pd(routingKey=[ROUTING_KEY]), ROUTING_KEY),
    ("url-as-extra", _sl(apiURLSecretRef={"name": "s", "key": "u", "url": SLACK_URL}), SLACK_URL),
]


def _pieces(secret: str) -> list[str]:
    """Every 12-character piece of the secret: a shortened echo leaks too."""
    return [secret[i : i + 12] for i in range(0, len(secret) - 11, 4)]


def _leaks(text: str, secret: str) -> list[str]:
    return [piece for piece in _pieces(secret) if piece in text]


@pytest.mark.parametrize(("label", "manifest", "secret"), MISPLACED, ids=[m[0] for m in MISPLACED])
def test_a_misplaced_secret_is_refused_without_echoing_it(
    label: str,
    manifest: dict[str, Any],
    secret: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    obj, problems = parse_document(manifest)
    assert obj is None and problems, label
    assert all(p.path.startswith(("spec.slack[0]", "spec.pagerduty[0]")) for p in problems)
    assert not _leaks(" ".join(p.text() for p in problems), secret), problems
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(manifest))
    assert main(["validate", "--no-tools", "-f", str(path)]) == 1
    out = capsys.readouterr()
    assert not _leaks(out.out + out.err, secret), out


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("refusing")
    with api_env(f"sqlite:///{tmp / 'a.db'}", tmp, run_reconciler=False) as env:
        yield env


@pytest.mark.parametrize(("label", "manifest", "secret"), MISPLACED, ids=[m[0] for m in MISPLACED])
def test_the_api_refuses_a_misplaced_secret_without_echoing_it(
    refusing: ApiEnv, label: str, manifest: dict[str, Any], secret: str
) -> None:
    spec = {k: v for k, v in manifest["spec"].items() if k != "customerId"}
    r = refusing.client.post("/customers/acme/receivers", json=spec, headers=ACME)
    assert r.status_code == 422 and not _leaks(r.text, secret), r.text
    for door in ("/validate", "/import"):
        r = refusing.client.post(
            door, content=yaml.safe_dump(manifest), headers={**ACME, "content-type": "text/yaml"}
        )
        assert r.status_code in (200, 422) and not _leaks(r.text, secret), (door, r.text)
    assert refusing.store.get() == []
    assert not _leaks(refusing.db_dump(), secret)


# -- clear URLs Alertmanager cannot parse ----------------------------------------------------
# Each passed alertplane's check (Python's urlsplit) and failed amtool check-config, whose
# message quotes the URL: `parse "https://hooks.slack.com/…%zz…": invalid URL escape "%zz"`.
UNPARSABLE = [
    "https://hooks.slack.com/services/T0/B0/%zzSECRETHOOK",
    "https://hooks.slack.com/services/T0/B0/SECRETHOOK%",
    "https://hooks.slack.com/services/T0/B0/SECRET\nHOOK",
    "https://hooks.slack.com/services/T0/B0/SECRET\tHOOK",
    "https://hooks.slack.com/services/T0/B0/SECRETHOOK#frag%z",
    "https://hooks.slack.com:80x/services/T0/B0/SECRETHOOK",
    "https://hooks slack.com/services/T0/B0/SECRETHOOK",
    "https://hooks%41slack.com/services/T0/B0/SECRETHOOK",
    "https://us{er}@hooks.slack.com/services/T0/B0/SECRETHOOK",
]


def _amtool_verdicts(urls: list[str], tmp: Path) -> list[bool]:
    """amtool check-config's verdict on a config whose only Slack receiver has each URL."""
    names = []
    for i, url in enumerate(urls):
        config = {
            "route": {"receiver": "r"},
            "receivers": [{"name": "r", "slack_configs": [{"api_url": url, "channel": "#x"}]}],
        }
        (tmp / f"{i}.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        names.append(f"{i}.yml")
    proc = subprocess.run(
        [tool_path("amtool"), "check-config", *names],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    verdict = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("Checking '"):
            name = line.split("'")[1]
            verdict[name] = "SUCCESS" in line.split("'", 2)[2]
    assert set(verdict) == set(names), proc.stdout + proc.stderr
    return [verdict[n] for n in names]


def test_the_listed_urls_are_refused_by_amtool_and_by_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _amtool_verdicts(UNPARSABLE, tmp_path) == [False] * len(UNPARSABLE)
    for url in UNPARSABLE:
        obj, problems = parse_document(_sl(apiURL=url))
        assert obj is not None, problems
        found = validate_all([Parsed(obj)], _platform())
        assert [p.path for p in found] == ["spec.slack[0].apiURL"], (url, found)
        assert "SECRETHOOK" not in " ".join(p.text() for p in found)
    # The CLI: validate and render refuse (exit 1, was: render exit 3 printing the URL).
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all([_sl(apiURL=u) for u in UNPARSABLE[:1]]))
    assert main(["validate", "-f", str(path)]) == 1
    assert main(["render", "-f", str(path), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr()
    assert "spec.slack[0].apiURL" in out.out + out.err
    assert "SECRETHOOK" not in out.out + out.err


def _platform() -> PlatformConfig:
    return PlatformConfig.model_validate({"secretsDir": "/s"})


_url_chars = st.sampled_from(
    [*"aZ09.-_~/:@?#%[]{} \t|\\^`\"'<>!$&()*+,;=", "%41", "%zz", "%e2%82", "é", "%25"]
)


def _text(min_size: int = 0, max_size: int = 4) -> st.SearchStrategy[str]:
    return st.lists(_url_chars, min_size=min_size, max_size=max_size).map("".join)


_urls = st.builds(
    lambda scheme, user, host, port, path: f"{scheme}://{user}{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTPS", "ftp"]),
    st.sampled_from(["", "u@", "u:p@"]) | _text().map(lambda t: t + "@"),
    st.sampled_from(["hooks.slack.com", "[::1]", "127.0.0.1"]) | _text(1, 8),
    st.sampled_from(["", ":80", ":"]) | _text().map(lambda t: ":" + t),
    _text(max_size=12),
)


@settings(max_examples=40, deadline=None)
@given(batch=st.lists(_urls, min_size=20, max_size=20))
def test_what_validation_accepts_amtool_accepts(
    batch: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Property, against the real amtool: every Slack URL validation accepts, Alertmanager
    accepts too (so no clear URL ever reaches amtool's quoting refusal)."""
    accepted = [u for u in batch if _is_alertmanager_url(u)]
    if accepted:
        verdicts = _amtool_verdicts(accepted, tmp_path_factory.mktemp("am"))
        assert all(verdicts), [u for u, ok in zip(accepted, verdicts, strict=True) if not ok]


def test_operator_refuses_an_unparsable_clear_url_without_echo_and_others_sync(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kubernetes mode renders a clear `apiURL` into alertmanager.yml: amtool refused the
    whole configuration (every customer's receivers stayed unsynced) and its message quoted
    the URL. Now the receiver is Invalid naming the field, and globex syncs."""
    state = ClusterState()
    for i, (customer, manifest) in enumerate(
        [("acme", _sl(apiURL=UNPARSABLE[0])), ("globex", receiver("globex", "oncall"))]
    ):
        state.set_namespace(customer, {"labels": {"alertplane.io/customer": customer}})
        manifest["metadata"].update(uid=f"u{i}", generation=1)
        state.observe(manifest)
    report = cluster_reconciler(state, SyncSettings(out_dir=tmp_path)).sync_all()
    assert report.outcome == "invalid", report
    acme = state.entry(ObjectRef("CustomerReceiver", "acme", "acme-chat"))
    globex = state.entry(ObjectRef("CustomerReceiver", "globex", "globex-oncall"))
    assert acme is not None and globex is not None
    assert acme.status.phase == "Invalid" and globex.status.phase == "Synced"
    shown = json.dumps(acme.status.conditions) + caplog.text
    assert "spec.slack[0].apiURL" in shown and "SECRETHOOK" not in shown
    assert "globex/oncall" in (tmp_path / "alertmanager.yml").read_text()


# -- names: a trailing newline ---------------------------------------------------------------
# Python's `$` also matches before a final newline: `acme\n` passed the name checks, so
# `metadata.namespace: "acme\n"` and `metadata.name: "acme-chat\n"` were stored, and their
# secret files went to folders named with a newline (`<secretsDir>/acme\n/…`).
def _named(field: str, value: str) -> dict[str, Any]:
    manifest = _sl(apiURL="https://hooks.slack.com/services/T/B/X")
    if field.startswith("metadata."):
        manifest["metadata"][field.split(".")[1]] = value
    elif field == "spec.customerId":
        manifest["spec"]["customerId"] = value
    else:
        ref = {"name": "s", "key": "k", field: value}
        manifest["spec"]["slack"] = [{"apiURLSecretRef": ref}]
    return manifest


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        (
            "metadata.namespace",
            "acme\n",
            "metadata.namespace",
            "'acme\\n' is not a valid namespace",
        ),
        (
            "metadata.name",
            "acme-chat\n",
            "metadata.name",
            "'acme-chat\\n' is not a valid object name",
        ),
        ("spec.customerId", "acme\n", "spec.customerId", "'acme\\n' is not a valid customer id"),
        (
            "name",
            "s\n",
            "spec.slack[0].apiURLSecretRef.name",
            "a value of 2 characters is not a valid Secret name",
        ),
        (
            "key",
            "k\n",
            "spec.slack[0].apiURLSecretRef.key",
            "a value of 2 characters is not a valid Secret key",
        ),
    ],
)
def test_a_trailing_newline_is_no_name(field: str, value: str, path: str, message: str) -> None:
    obj, problems = parse_document(_named(field, value))
    assert obj is None
    assert [(p.path, p.message) for p in problems if p.path == path] == [(path, message)], problems


def test_the_path_function_refuses_a_trailing_newline() -> None:
    for parts in (("acme\n", "s", "k"), ("acme", "s\n", "k"), ("acme", "s", "k\n")):
        with pytest.raises(SecretPathError):
            secret_file("/s", *parts)


# -- Kubernetes mode: a namespace bound to several customers ----------------------------------
# `alerts` is bound to acme, acme-x and globex (e.g. the API's shared --customer-namespace):
# its Secrets are all of theirs. acme's receiver there named `globex-slack`: the operator
# rendered (and the prometheus-operator sink copied) globex's webhook for acme's alerts.
SHARED = {"labels": {"alertplane.io/customer": "acme.acme-x.globex"}}
STOLEN = [
    ("globex-slack", False),
    ("acme-x-slack", False),  # acme-x's, though it starts with "acme-"
    ("slack", False),  # nobody's: a shared namespace has no common Secrets
    ("acme-slack", True),
    ("acme.slack", True),
]
SHARED_MESSAGE = (
    'namespace "alerts" is shared by acme, acme-x, globex, so a Secret reference of '
    'customer "acme" must name one of its Secrets, "acme-<name>"'
)


def _shared_state(secret: str) -> Any:
    state = ClusterState()
    state.set_namespace("alerts", SHARED)
    for i, (customer, name) in enumerate([("globex", "globex-slack"), ("acme", secret)]):
        manifest = _in("alerts", _slack_ref(customer, "oncall", name, "url"))
        manifest["metadata"].update(uid=f"u{i}", generation=1)
        state.observe(manifest)
    return state


@pytest.mark.parametrize(("secret", "allowed"), STOLEN)
def test_operator_uses_no_secret_of_another_customer_in_a_shared_namespace(
    secret: str, allowed: bool, tmp_path: Path
) -> None:
    looked_up: list[str] = []

    def check_secrets(obj: Any) -> list[Any]:
        looked_up.extend(c.api_url_secret_ref.name for c in obj.spec.slack)
        return []

    state = _shared_state(secret)
    rec = cluster_reconciler(state, SyncSettings(out_dir=tmp_path), check_secrets=check_secrets)
    rec.sync_all()
    acme = state.entry(ObjectRef("CustomerReceiver", "alerts", "acme-oncall"))
    globex = state.entry(ObjectRef("CustomerReceiver", "alerts", "globex-oncall"))
    assert acme is not None and globex is not None
    assert globex.status.phase == "Synced"
    receivers = _am_receivers(tmp_path)
    if allowed:
        assert acme.status.phase == "Synced"
        assert sorted(looked_up) == sorted(["globex-slack", secret])
    else:
        assert acme.status.phase == "Invalid"
        message = " ".join(c["message"] for c in acme.status.conditions)
        assert "spec.slack[0].apiURLSecretRef.name: " + SHARED_MESSAGE in message
        assert "acme/oncall" not in receivers and looked_up == ["globex-slack"]


@pytest.mark.parametrize(("secret", "allowed"), STOLEN)
def test_the_webhook_denies_another_customers_secret_in_a_shared_namespace(
    secret: str, allowed: bool
) -> None:
    state = _shared_state("acme-slack")
    handlers = Handlers(state, cast(Any, None), PlatformConfig(), True, lambda: None)
    manifest = _in("alerts", _slack_ref("acme", "other", secret, "url"))
    if allowed:
        handlers.admit(manifest, {"username": "acme-dev"}, "CREATE")
        return
    with pytest.raises(kopf.AdmissionError) as denied:
        handlers.admit(manifest, {"username": "acme-dev"}, "CREATE")
    assert str(denied.value) == (
        "CustomerReceiver alerts/acme-other: spec.slack[0].apiURLSecretRef.name: "
        f"{SHARED_MESSAGE}; name the Secret acme-<name> in namespace alerts, or move the "
        "receiver to a namespace bound to acme alone"
    )


@pytest.mark.parametrize(("secret", "allowed"), STOLEN)
def test_the_api_writes_no_reference_to_another_customers_secret_in_a_shared_namespace(
    secret: str, allowed: bool
) -> None:
    """Kubernetes mode: the API's writer checks the binding before anything is sent."""

    class Bindings(NamespaceBindings):
        def __init__(self) -> None:
            pass

        def including(self, namespaces: Any) -> dict[str, str | None]:
            return {"alerts": SHARED["labels"]["alertplane.io/customer"]}

    class Sink:
        def __init__(self) -> None:
            self.written: list[Any] = []

        def namespace_for(self, customer: str) -> str:
            return "alerts"

        def apply(self, objects: Any, actor: str, source: str, *_: Any) -> list[Any]:
            self.written.extend(objects)
            return []

    obj, problems = parse_document(_in("alerts", _slack_ref("acme", "oncall", secret, "url")))
    assert obj is not None, problems
    sink = Sink()
    writer = BoundWriter(cast(Any, sink), Bindings())
    if allowed:
        writer.apply([obj], "acme-team", "api")
        assert sink.written == [obj]
        return
    with pytest.raises(Invalid) as refused:
        writer.apply([obj], "acme-team", "api")
    assert [(p.path, p.message) for p in refused.value.problems] == [
        ("spec.slack[0].apiURLSecretRef.name", SHARED_MESSAGE)
    ]
    assert sink.written == []


# -- symbolic links under secretsDir ---------------------------------------------------------
def test_a_linked_secret_folder_is_never_written_through(tmp_path: Path) -> None:
    """`secret_file` proves a path by its text (it is Alertmanager's path, perhaps on another
    filesystem); the writer also resolves it: a folder that is a link to globex's is refused
    and globex's file stays as it was. (A link at the file itself is replaced, never
    followed: the write is a rename.) Customers cannot create links; this guards against
    a platform team's mistake."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    with api_env(db, tmp_path, run_reconciler=False) as env:
        theirs = env.secrets / "globex" / "globex-oncall"
        theirs.mkdir(parents=True)
        (theirs / "slack-api-url-0").write_text(GLOBEX_URL)
        (env.secrets / "acme").mkdir()
        (env.secrets / "acme" / "acme-oncall").symlink_to(theirs)
        body = {"receiverName": "oncall", "slack": [{"apiURL": ACME_URL}]}
        r = env.client.post("/customers/acme/receivers", json=body, headers=ACME)
        assert r.status_code == 500 and "symbolic link" in r.text, r.text
        assert ACME_URL not in r.text and str(env.secrets) not in r.text
        assert (theirs / "slack-api-url-0").read_text() == GLOBEX_URL
        assert env.store.get() == []
        (env.secrets / "acme" / "acme-oncall").unlink()
        (env.secrets / "acme" / "acme-oncall").mkdir()
        (env.secrets / "acme" / "acme-oncall" / "slack-api-url-0").symlink_to(
            theirs / "slack-api-url-0"
        )
        r = env.client.post("/customers/acme/receivers", json=body, headers=ACME)
        assert r.status_code == 201, r.text
        assert (theirs / "slack-api-url-0").read_text() == GLOBEX_URL
        written = env.secrets / "acme" / "acme-oncall" / "slack-api-url-0"
        assert not written.is_symlink() and written.read_text() == ACME_URL
