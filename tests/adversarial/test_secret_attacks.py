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

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.cli import main
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.api_env import ACME, ApiEnv, api_env
from tests.factories import receiver

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
    return {
        str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()
    }


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
        from alertplane.validate import parse_document

        obj, problems = parse_document(manifest)
        assert obj is not None, problems
        before = _files(tmp / "s") if (tmp / "s").exists() else {}
        store.apply([obj], "t", "test")
        after = _files(tmp / "s")
        for path, content in after.items():
            if before.get(path) != content:
                writers.setdefault(path, set()).add(customer)
    assert all(len(who) == 1 for who in writers.values()), writers
    store.sessions.kw["bind"].dispose()
