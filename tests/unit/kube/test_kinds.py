"""The kind table (kube/kinds.py): every kind alertplane reads or writes, in one place."""

from __future__ import annotations

import pytest

from alertplane.crds import KINDS as CRD_KINDS
from alertplane.crds import crd_manifests
from alertplane.kube import kinds
from alertplane.model import API_VERSION, KINDS, NAME_FIELDS


def test_alertplane_kinds_are_the_models_kinds() -> None:
    assert [k.kind for k in kinds.CUSTOM] == list(KINDS)
    for kind in kinds.CUSTOM:
        assert kind.api_version == API_VERSION
        assert kind.name_field == NAME_FIELDS[kind.kind]
        assert kind.namespaced
    assert kinds.PLURALS == {
        "CustomerAlert": "customeralerts",
        "CustomerReceiver": "customerreceivers",
        "CustomerRecordingRule": "customerrecordingrules",
    }


def test_crds_are_generated_from_the_table() -> None:
    assert [k.api for k in CRD_KINDS] == list(kinds.CUSTOM)
    for kind, manifest in zip(kinds.CUSTOM, crd_manifests(), strict=True):
        spec = manifest["spec"]
        assert manifest["metadata"]["name"] == kind.crd_name == f"{kind.plural}.alertplane.io"
        assert spec["group"] == kind.group
        assert spec["names"]["plural"] == kind.plural
        assert spec["names"]["kind"] == kind.kind
        assert [v["name"] for v in spec["versions"]] == [kind.version]
        columns = spec["versions"][0]["additionalPrinterColumns"]
        assert f".spec.{kind.name_field}" in [c["jsonPath"] for c in columns]


@pytest.mark.parametrize(
    ("kind", "api_version", "plural", "namespaced"),
    [
        (kinds.NAMESPACE, "v1", "namespaces", False),
        (kinds.CONFIG_MAP, "v1", "configmaps", True),
        (kinds.SECRET, "v1", "secrets", True),
        (kinds.EVENT, "v1", "events", True),
        (kinds.PROMETHEUS_RULE, "monitoring.coreos.com/v1", "prometheusrules", True),
        (
            kinds.ALERTMANAGER_CONFIG,
            "monitoring.coreos.com/v1alpha1",
            "alertmanagerconfigs",
            True,
        ),
    ],
)
def test_other_kinds(kind: kinds.Kind, api_version: str, plural: str, namespaced: bool) -> None:
    assert kind.api_version == api_version
    assert kind.plural == plural
    assert kind.namespaced is namespaced
    assert kind.name_field is None
    assert kinds.kind_of(kind.kind) is kind


def test_unknown_kind() -> None:
    with pytest.raises(KeyError):
        kinds.kind_of("Pod")
