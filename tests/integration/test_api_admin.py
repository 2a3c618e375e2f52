"""/customers, /validate, /import, /export, tokens, and the clean-500 guarantee."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from alertplane.cli import main
from alertplane.errors import UsageError
from alertplane.service.tokens import Principal, TokenFile, parse_tokens, token_hash
from tests.support.api_env import ACME, ADMIN, GLOBEX, ApiEnv, alert_spec, api_env, receiver_spec
from tests.support.paths import EXAMPLES

CUSTOMERS = EXAMPLES / "customers"
YAML = {"content-type": "application/yaml"}
JSON = {"content-type": "application/json"}


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def examples_text() -> str:
    return "---\n".join(p.read_text() for p in sorted(CUSTOMERS.glob("*.yaml")))


def test_customers_overview(api: ApiEnv) -> None:
    c = api.client
    c.post("/customers/acme/alerts?wait=true", json=alert_spec(), headers=ACME)
    c.post("/customers/acme/receivers", json=receiver_spec(), headers=ACME)
    c.post("/customers/globex/alerts", json=alert_spec(customer="globex"), headers=GLOBEX)
    items = c.get("/customers", headers=ADMIN).json()["items"]
    assert [(i["customerId"], i["alerts"], i["receivers"]) for i in items] == [
        ("acme", 1, 1),
        ("globex", 1, 0),
    ]
    assert sum(items[0]["phases"].values()) == 2
    assert [i["customerId"] for i in c.get("/customers", headers=ACME).json()["items"]] == ["acme"]
    # A customer whose objects are all gone still has its audit trail.
    c.delete("/customers/globex/alerts/HighErrorRate", headers=GLOBEX)
    assert c.get("/customers/globex/audit", headers=ADMIN).status_code == 200
    assert c.get("/customers/globex/alerts", headers=ADMIN).json() == {"items": []}
    assert c.get("/customers/initech/alerts", headers=ADMIN).status_code == 404


def _cli_validate(path: Path) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["validate", "-f", str(path), "--platform-config", str(EXAMPLES / "platform.yaml")])
    return [line.replace(str(path), "body") for line in out.getvalue().splitlines()]


@pytest.mark.parametrize(
    "path", sorted((EXAMPLES / "invalid").glob("*.yaml"))[:8], ids=lambda p: p.stem
)
def test_validate_matches_the_cli(api: ApiEnv, path: Path) -> None:
    r = api.client.post("/validate", content=path.read_bytes(), headers={**ADMIN, **YAML})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is False
    assert [p["text"] for p in body["problems"]] == _cli_validate(path)
    assert api.store.get() == []  # a dry run stores nothing


def test_validate_valid_examples_and_json(api: ApiEnv) -> None:
    r = api.client.post("/validate", content=examples_text(), headers={**ADMIN, **YAML})
    assert r.json() == {"valid": True, "objects": 16, "problems": []}
    docs = list(yaml.safe_load_all((CUSTOMERS / "acme.yaml").read_text()))
    r = api.client.post("/validate?tools=false", json=docs, headers=ACME)
    assert r.json()["valid"] is True and r.json()["objects"] == len(docs)
    # A customer token may validate only its own customer's objects.
    r = api.client.post("/validate", content=examples_text(), headers={**ACME, **YAML})
    assert r.status_code == 403
    assert "globex" not in r.text and "initech" not in r.text


def test_import_export_round_trip(api: ApiEnv, db_url: str, tmp_path: Path) -> None:
    c = api.client
    r = c.post("/import", content=examples_text(), headers={**ADMIN, **YAML})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["applied"] is True and report["problems"] == []
    assert {ch["action"] for ch in report["changes"]} == {"created"}
    assert len(report["changes"]) == 16
    assert {h.source for h in api.store.history()} == {"import"}
    assert {h.actor for h in api.store.history()} == {"platform-admin"}
    # Importing the same again changes nothing.
    again = c.post("/import", content=examples_text(), headers={**ADMIN, **YAML}).json()
    assert {ch["action"] for ch in again["changes"]} == {"unchanged"}

    exported = c.get("/export", headers=ADMIN).json()
    assert exported["kind"] == "List" and len(exported["items"]) == 16
    assert all("status" not in m and "generation" not in m["metadata"] for m in exported["items"])
    as_yaml = c.get("/export?format=yaml", headers=ADMIN)
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == exported
    own = c.get("/export", headers=ACME).json()["items"]
    assert {m["spec"]["customerId"] for m in own} == {"acme"} and len(own) == 6
    assert c.get("/export?customer=globex", headers=ACME).status_code == 404
    assert len(c.get("/export?customer=globex", headers=ADMIN).json()["items"]) == 7

    with api_env(f"sqlite:///{tmp_path / 'copy.db'}", tmp_path / "copy") as copy:
        r = copy.client.post("/import", json=exported, headers=ADMIN)
        assert r.status_code == 200, r.text
        assert copy.client.get("/export", headers=ADMIN).json() == exported


def test_import_is_all_or_nothing(api: ApiEnv) -> None:
    bad = examples_text() + "\n---\n" + (EXAMPLES / "invalid" / "bad-promql.yaml").read_text()
    r = api.client.post("/import", content=bad, headers={**ADMIN, **YAML})
    assert r.status_code == 422
    assert r.json()["applied"] is False and r.json()["changes"] == []
    assert "spec.expr" in [p["path"] for p in r.json()["problems"]]
    assert api.store.get() == [] and api.store.history() == []
    # A duplicate of a stored alertName under another object name is refused too.
    api.client.post("/customers/acme/alerts", json=alert_spec("CpuHigh"), headers=ACME)
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerAlert",
        "metadata": {"name": "acme-cpu-high-copy"},
        "spec": {"customerId": "acme", **alert_spec("CpuHigh")},
    }
    r = api.client.post("/import", json=doc, headers=ACME)
    assert r.status_code == 422
    assert r.json()["problems"][0]["path"] == "spec.alertName"
    assert len(api.store.get()) == 1
    empty = api.client.post("/import", content="", headers={**ADMIN, **YAML})
    assert empty.status_code == 422


def test_customer_token_import_refuses_foreign_documents(api: ApiEnv) -> None:
    api.client.post("/customers/globex/alerts", json=alert_spec(customer="globex"), headers=ADMIN)
    r = api.client.post("/import", content=examples_text(), headers={**ACME, **YAML})
    assert r.status_code == 403
    problems = r.json()["problems"]
    assert {p["path"] for p in problems} == {"spec.customerId"}
    # Only where the offending documents are, nothing of what they hold or what exists.
    assert all(p["text"].startswith("body:") for p in problems)
    assert "globex" not in r.text and "initech" not in r.text
    assert [s.customer_id for s in api.store.get()] == ["globex"]
    # Own objects, but in a namespace the token does not own: refused as well.
    doc = {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerAlert",
        "metadata": {"name": "globex-higherrorrate", "namespace": "globex"},
        "spec": {"customerId": "acme", **alert_spec()},
    }
    r = api.client.post("/import", json=[doc], headers=ACME)
    assert r.status_code == 403 and r.json()["problems"][0]["path"] == "metadata.namespace"
    assert "globex-higherrorrate" not in json.dumps(r.json()["problems"][0]["message"])
    del doc["metadata"]["namespace"]  # defaults to the customer: fine
    r = api.client.post("/import", json=[doc], headers=ACME)
    assert r.status_code == 200, r.text
    assert r.json()["changes"][0]["namespace"] == "acme"


def test_tokens_file_formats_and_reload(tmp_path: Path) -> None:
    digest = token_hash("secret-1")
    csv = parse_tokens(f"# comment\nname,role,sha256\nci,admin,{digest}\n")
    assert csv == {digest: Principal("ci", None)}
    yml = parse_tokens(
        yaml.safe_dump({"tokens": [{"name": "a", "role": "customer:acme", "sha256": digest}]})
    )
    assert yml == {digest: Principal("a", "acme")}
    for bad in (
        f"ci,root,{digest}",
        "ci,admin,not-a-hash",
        f"ci,admin,{digest}\nci,admin,{token_hash('x')}",
        f"ci,customer:Not_Valid,{digest}",
        "ci,admin",
    ):
        with pytest.raises(UsageError):
            parse_tokens(bad)
    path = tmp_path / "tokens"
    path.write_text(f"ci,admin,{digest}\n")
    tokens = TokenFile(path, recheck_s=0)
    assert tokens.lookup("secret-1") == Principal("ci", None)
    assert tokens.lookup("secret-2") is None
    path.write_text(f"ci2,customer:acme,{token_hash('secret-2')}\n")
    assert tokens.lookup("secret-2") == Principal("ci2", "acme")
    path.write_text("garbage")  # a broken edit keeps the last good tokens
    assert tokens.lookup("secret-2") == Principal("ci2", "acme")


def test_token_create_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tokens.csv"
    assert (
        main(["token", "create", "acme-ci", "--role", "customer:acme", "--append", str(path)]) == 0
    )
    token, line = capsys.readouterr().out.splitlines()
    assert token.startswith("ap_") and len(token) > 40
    assert line == f"acme-ci,customer:acme,{token_hash(token)}"
    assert path.read_text() == line + "\n" and path.stat().st_mode & 0o777 == 0o600
    assert TokenFile(path).lookup(token) == Principal("acme-ci", "acme")
    assert main(["token", "create", "x", "--role", "customer:NOPE"]) == 2
    assert main(["token", "create", "a,b", "--role", "admin"]) == 2


def test_unexpected_errors_are_clean_500s(
    api: ApiEnv, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr(api.store, "get", broken)
    r = api.client.get("/customers/acme/alerts", headers=ACME)
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error; the server log has the details"}
    assert "boom" not in r.text and "Traceback" not in r.text
    assert "boom: internal detail" in caplog.text  # ... but the log has it


def test_body_size_limit(api: ApiEnv) -> None:
    big = "#" * (17 * 1024 * 1024)
    r = api.client.post("/validate", content=big, headers={**ADMIN, **YAML})
    assert r.status_code == 413
