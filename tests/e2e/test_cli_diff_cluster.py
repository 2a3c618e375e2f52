"""`alertplane diff --kubeconfig` against a real kube-apiserver with the committed CRDs:
objects compared in the model's shape (the server's defaults are no change), per-object
and rendered diffs, prune, another customer never rendered, exit codes like kubectl diff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from alertplane.cli import main
from tests.support.crds import crd_server
from tests.support.factories import alert, receiver
from tests.support.k8s_env import KubeEnv


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeEnv]:
    with crd_server() as env:
        for ns in ("diffco", "otherco"):
            env.kubectl("create", "namespace", ns)
        env.apply(
            alert("diffco"),
            alert("diffco", name="Gone"),
            receiver("diffco"),
            alert("otherco"),
            receiver("otherco"),
        )
        yield env


def diff(kube: KubeEnv, tmp_path: Path, capsys, *docs, flags=()):  # type: ignore[no-untyped-def]
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    code = main(["diff", "--kubeconfig", str(kube.kubeconfig), "--no-tools", "-f", str(path),
                 *flags])  # fmt: skip
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_unchanged_objects_exit_0(kube: KubeEnv, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = diff(kube, tmp_path, capsys, alert("diffco"), receiver("diffco"))
    assert (code, out) == (0, ""), err
    assert err.startswith("0 added, 0 changed, 2 unchanged, 0 deleted")


def test_changes_prune_and_isolation(kube: KubeEnv, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    changed = alert("diffco", **{"for": "15m"})
    routed = receiver("diffco", route={"match": {"severity": ["critical"]}})
    code, out, err = diff(kube, tmp_path, capsys, changed, routed, flags=("--prune",))
    assert code == 1, err
    assert "# CustomerAlert/diffco/diffco-higherrorrate: changed\n" in out
    assert "+  for: 15m\n" in out
    assert "# CustomerAlert/diffco/diffco-gone: deleted\n" in out
    assert "# rendered rules/diffco.yml: changed\n" in out
    assert "# rendered alertmanager.yml: changed\n" in out
    assert "otherco" not in out
    assert err.startswith("0 added, 2 changed, 0 unchanged, 1 deleted; 2 rendered file(s)")
    # Nothing was written: the cluster still holds the old spec.
    code, _, _ = diff(kube, tmp_path, capsys, alert("diffco"), receiver("diffco"))
    assert code == 0


def test_no_cluster_is_a_failure_exit_3(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump(alert("diffco")))
    code = main(["diff", "--kubeconfig", str(config), "--no-tools", "-f", str(path)])
    _, err = capsys.readouterr()
    assert code == 3, err
    assert "Traceback" not in err
