"""The CRD generator without an API server: conversion rules, structural shape, drift.

tests/e2e/test_crds.py proves the same CRDs against a real kube-apiserver.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.cli import main
from alertplane.crd_schema import SchemaError, at, structural
from alertplane.crds import KINDS, STATUS, crd_manifests, crd_yaml, spec_schema
from alertplane.status import Verdict, phase_of
from tests.support.paths import ROOT

CRDS = ROOT / "crds"
REGENERATE = "run `alertplane crds --out crds` and commit the result"


# -- drift -------------------------------------------------------------------------------


def test_committed_crds_match_the_generator() -> None:
    want = crd_yaml()
    have = {p.name: p.read_text() for p in CRDS.glob("*.yaml")}
    assert set(have) == set(want), (
        f"crds/ holds {sorted(have)}, expected {sorted(want)}; {REGENERATE}"
    )
    stale = [name for name in want if have[name] != want[name]]
    assert not stale, f"crds/{', crds/'.join(stale)} drifted from the models; {REGENERATE}"


def test_cli_prints_and_writes_the_same_yaml(tmp_path: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["crds"]) == 0
    docs = list(yaml.safe_load_all(out.getvalue()))
    assert docs == crd_manifests()

    with redirect_stdout(io.StringIO()):
        assert main(["crds", "--out", str(tmp_path / "crds")]) == 0
    written = {p.name: p.read_text() for p in (tmp_path / "crds").iterdir()}
    assert written == crd_yaml()
    assert set(written) == {
        "customeralerts.alertplane.io.yaml",
        "customerreceivers.alertplane.io.yaml",
        "customerrecordingrules.alertplane.io.yaml",
    }


def test_yaml_round_trips() -> None:
    for kind, text in zip(KINDS, crd_yaml().values(), strict=True):
        assert yaml.safe_load(text) == next(
            m for m in crd_manifests() if m["spec"]["names"]["kind"] == kind.kind
        )


# -- the conversion rules ----------------------------------------------------------------


def test_anyof_null_becomes_nullable_and_refs_are_inlined() -> None:
    schema = {
        "$defs": {
            "Ref": {
                "title": "Ref",
                "type": "object",
                "additionalProperties": False,
                "properties": {"name": {"type": "string", "minLength": 1, "title": "Name"}},
                "required": ["name"],
            }
        },
        "type": "object",
        "title": "Top",
        "additionalProperties": False,
        "properties": {
            "ref": {
                "anyOf": [{"$ref": "#/$defs/Ref"}, {"type": "null"}],
                "default": None,
                "description": "A reference.",
            },
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "plain": {"$ref": "#/$defs/Ref", "description": "Sibling wins."},
            "single": {"allOf": [{"$ref": "#/$defs/Ref"}]},
            "flag": {"type": "boolean", "default": True},
        },
    }
    ref = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}},
    }
    assert structural(schema) == {
        "type": "object",
        "properties": {
            "ref": {**ref, "description": "A reference.", "nullable": True},
            "note": {"type": "string", "nullable": True},
            "plain": {**ref, "description": "Sibling wins."},
            "single": ref,
            "flag": {"type": "boolean", "default": True},
        },
    }


def test_named_fields_with_typed_free_keys_become_a_documented_map() -> None:
    schema = {
        "type": "object",
        "description": "Annotations.",
        "additionalProperties": {"type": "string"},
        "properties": {
            "summary": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "One line.",
            }
        },
    }
    assert structural(schema) == {
        "type": "object",
        "description": "Annotations. Known keys — summary: One line.",
        "additionalProperties": {"type": "string"},
    }


@pytest.mark.parametrize(
    "schema, error",
    [
        ({"type": "object", "propertyNames": {"pattern": "^a$"}}, "propertyNames"),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "anyOf other than"),
        ({"allOf": [{"type": "string"}, {"minLength": 1}]}, "allOf with 2"),
        ({"$ref": "#/$defs/Missing"}, "unresolvable"),
        (
            {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "properties": {"n": {"type": "integer"}},
            },
            "free keys' type",
        ),
    ],
)
def test_untranslatable_schemas_are_refused(schema: dict[str, Any], error: str) -> None:
    with pytest.raises(SchemaError, match=error):
        structural(schema)


def test_at_names_the_missing_field() -> None:
    with pytest.raises(SchemaError, match="'nope'"):
        at({"properties": {"a": {"type": "object"}}}, "a.nope")


# -- the generated CRDs ------------------------------------------------------------------


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}.*")


@pytest.mark.parametrize("crd", crd_manifests(), ids=lambda c: c["metadata"]["name"])
def test_schemas_are_structural(crd: dict[str, Any]) -> None:
    (version,) = crd["spec"]["versions"]
    root = version["schema"]["openAPIV3Schema"]
    for path, node in _walk(root):
        where = path or "."
        assert "type" in node, f"{where}: every node needs a type"
        for banned in ("$ref", "anyOf", "allOf", "oneOf", "title", "$defs", "const"):
            assert banned not in node, f"{where}: {banned}"
        assert not ("properties" in node and "additionalProperties" in node), where
        assert node.get("additionalProperties", True) is not False, where
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert path == ".status.kopf", f"{where}: schemaless outside status.kopf"
        for name in node.get("required", []):
            assert name in node["properties"], f"{where}: required {name} is not a property"
    assert root["properties"]["metadata"] == {"type": "object"}


def test_crd_names_and_version() -> None:
    for crd in crd_manifests():
        spec = crd["spec"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert spec["group"] == "alertplane.io"
        assert spec["scope"] == "Namespaced"
        assert spec["names"]["categories"] == ["alertplane"]
        assert crd["metadata"]["name"] == f"{spec['names']['plural']}.alertplane.io"
        (version,) = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == (
            "v1alpha1",
            True,
            True,
        )
        assert version["subresources"] == {"status": {}}
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        assert columns[0] == "Customer"
        assert "Phase" in columns
        assert columns[-1] == "Age"
    names = {c["spec"]["names"]["kind"]: c["spec"]["names"]["shortNames"] for c in crd_manifests()}
    assert names == {
        "CustomerAlert": ["calert", "calerts"],
        "CustomerReceiver": ["crecv", "crecvs"],
        "CustomerRecordingRule": ["crecord", "crecords"],
    }


def _field_paths(node: dict[str, Any], defs: dict[str, Any], path: str = "") -> set[str]:
    """Every field path of a pydantic JSON schema, with $refs and anyOf-null looked through."""
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in node:
        (node,) = [m for m in node["anyOf"] if m != {"type": "null"}]
        return _field_paths(node, defs, path)
    if isinstance(node.get("additionalProperties"), dict):  # a map (named keys documented)
        return {path}
    out = {path}
    for name, sub in node.get("properties", {}).items():
        out |= _field_paths(sub, defs, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        out |= _field_paths(node["items"], defs, f"{path}[]")
    return out


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_model_field_is_in_the_schema_with_its_constraints(kind: Any) -> None:
    spec = spec_schema(kind)
    pydantic_schema = kind.spec_model.model_json_schema(by_alias=True)
    assert spec["required"] == pydantic_schema["required"]
    assert list(spec["properties"]) == list(pydantic_schema["properties"])
    crd_paths = {p for p, _ in _walk(spec) if not p.endswith(".*")}
    assert crd_paths == _field_paths(pydantic_schema, pydantic_schema.get("$defs", {}))
    if kind.kind == "CustomerAlert":
        props = spec["properties"]
        assert props["customerId"]["pattern"] == "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
        assert props["customerId"]["maxLength"] == 63
        assert props["severity"]["enum"] == ["critical", "warning", "info"]
        assert props["urgency"]["nullable"] is True
        assert props["enabled"]["default"] is True
        assert props["for"]["pattern"].startswith("^(0|")
        assert "description" in props["expr"]
        assert props["annotations"]["additionalProperties"] == {
            "type": "string",
            "maxLength": 16384,
        }
        assert "runbookUrl" in props["annotations"]["description"]
    elif kind.kind == "CustomerRecordingRule":
        props = spec["properties"]
        assert props["record"]["pattern"] == "^([a-zA-Z_][a-zA-Z0-9_]*)?:[a-zA-Z0-9_:]*$"
        assert props["record"]["maxLength"] == 189
        assert props["enabled"]["default"] is True
        assert props["labels"]["maxProperties"] == 64
    else:
        slack = at(spec, "slack[]")
        assert set(slack["properties"]) >= {"apiURL", "apiURLSecretRef", "channel"}
        assert at(spec, "slack[].apiURLSecretRef")["required"] == ["name", "key"]
        assert at(spec, "route.match.severity[]")["enum"] == ["critical", "warning", "info"]
        assert at(spec, "route.groupWait")["pattern"].startswith("^(0|")


def test_cel_rules_sit_where_they_apply() -> None:
    alert, receiver, recording = (spec_schema(k) for k in KINDS)
    rules = [r["rule"] for r in at(alert, "labels")["x-kubernetes-validations"]]
    assert any("'customer_id', 'severity', 'category', 'urgency'" in r for r in rules)
    rules = [r["rule"] for r in at(recording, "labels")["x-kubernetes-validations"]]
    assert rules[0] == "!self.exists(k, k in ['customer_id'])"
    assert "size(self.webhook)" in receiver["x-kubernetes-validations"][0]["rule"]
    slack_rule = at(receiver, "slack[]")["x-kubernetes-validations"][0]["rule"]
    assert slack_rule == "has(self.apiURL) != has(self.apiURLSecretRef)"
    pd_rule = at(receiver, "pagerduty[]")["x-kubernetes-validations"][0]["rule"]
    assert pd_rule == "has(self.routingKey) != has(self.routingKeySecretRef)"


def test_status_phases_cover_what_the_reconciler_writes() -> None:
    phases = set(STATUS["properties"]["phase"]["enum"])
    written = {
        phase_of(Verdict(1, valid, synced=synced, sync_reason=reason, disabled=disabled))
        for valid in (True, False)
        for synced in (True, False)
        for disabled in (True, False)
        for reason in ("Reloaded", "Pending", "ReloadFailed", "WriteFailed", "Superseded")
    }
    assert written <= phases
    conditions = STATUS["properties"]["conditions"]
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(conditions["items"]["properties"]) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
    }
