"""Hostile alert names (issue 14): Prometheus' alertname is a label value, so any one line
of text is a name, and every door must carry it without breaking or confusing anything.

- Names with YAML-special text, `/`, `%`, `?`, `#`, spaces, quotes and other scripts are
  created through the API, addressed by their percent-encoded path (GET/PUT/PATCH/DELETE),
  rendered into the rule file promtool accepts, and read back from it unchanged.
- Names that collide once slugged (`Disk > 90%`, `Disk 90`, `disk/90`) get distinct,
  deterministic object names that are Kubernetes names.
- What no line of text may hold is refused up front with exact messages: 10,000
  characters, NUL, newlines, the RTL override and the other bidirectional controls, the
  Unicode line separator.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.api.pathnames import segment
from alertplane.model import CustomerReceiverSpec
from alertplane.model.common import MAX_ALERT_NAME, is_dns_subdomain
from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.routing import receivers_for
from alertplane.service.objects import object_name
from alertplane.validate import tools
from alertplane.validate.blame import go_unquote
from tests.adversarial.crd_server import dry_run
from tests.support.api_env import ACME_TOKEN, ADMIN, ApiEnv, alert_spec, api_env
from tests.support.console import assert_page, client, post
from tests.support.crds import ALERT as CRD_ALERT
from tests.support.factories import alert
from tests.support.k8s_env import KubeEnv
from tests.support.problems import lines
from tests.support.waiting import eventually

BASE = "/customers/acme/alerts"
HINT = "remove it: an alert name is one line of text that displays as it is stored"
YAML_SPECIAL = [
    "Disk > 90%", "Cert-managerAbsent", "KubeAPI (errors)/s", "*alias", "&anchor", "- item",
    "yes", "no", "null", "~", "true", "1e3", "0x10", ".inf", "2024-01-01", ": colon",
    "key: value", "#comment", "a #b", "'single'", '"double"', "{flow}", "[seq]", "@at",
    "`tick`", "%percent", "!tag", "|literal", ">folded", "? question", "back\\slash",
    " leading space", "trailing space ", "a/b", "a%2Fb", "x?y#z", "..", ".", "Ünïcödé ☃",
    "中文告警", "עברית", "\u00a0nbsp", "\ufeffbom", "=", "---", "...",
]  # fmt: skip


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path) as env:
        yield env


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    tmp = tmp_path_factory.mktemp("refusing")
    with api_env(f"sqlite:///{tmp / 'a.db'}", tmp, run_reconciler=False) as env:
        yield env
        assert env.store.get() == []


def _path(name: str) -> str:
    return f"{BASE}/{segment(name)}"


def _problems(r: Any) -> list[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return [(p["path"], p["message"]) for p in r.json()["problems"]]


@pytest.fixture
def any_db(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(db_url, tmp_path) as env:
        yield env


def test_yaml_special_names_go_through_every_door_and_into_the_rule_file(any_db: ApiEnv) -> None:
    """On SQLite and PostgreSQL (the name is found by JSON equality in both)."""
    api = any_db
    c = api.client
    for name in YAML_SPECIAL:
        r = c.post(BASE, json=alert_spec(name), headers=ADMIN)
        assert r.status_code == 201, (name, r.text)
        assert r.headers["location"] == _path(name)
        assert r.json()["metadata"]["name"] == object_name("acme", name)

    def all_synced() -> bool:
        items = c.get(BASE, headers=ADMIN).json()["items"]
        return len(items) == len(YAML_SPECIAL) and all(
            i["status"]["phase"] == "Synced" for i in items
        )

    eventually(all_synced, timeout=120)
    # The rule file was written only after promtool accepted it (the files sink checks);
    # every name reads back from it exactly.
    rules = yaml.safe_load((api.out / "rules" / "acme.yml").read_text(encoding="utf-8"))
    written = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert sorted(written) == sorted(YAML_SPECIAL)
    for name in YAML_SPECIAL:
        got = c.get(_path(name), headers=ADMIN)
        assert got.status_code == 200 and got.json()["spec"]["alertName"] == name, got.text
        put = c.put(_path(name), json=alert_spec(name, severity="warning"), headers=ADMIN)
        assert put.status_code == 200, (name, put.text)
        patch = c.patch(f"{_path(name)}/enabled", json={"enabled": False}, headers=ADMIN)
        assert patch.status_code == 200 and patch.json()["spec"]["enabled"] is False
        assert c.delete(_path(name), headers=ADMIN).status_code == 204
        assert c.get(_path(name), headers=ADMIN).status_code == 404
    assert api.store.get(kind="CustomerAlert") == []


def test_a_slash_in_a_name_is_never_a_path_step(api: ApiEnv) -> None:
    c = api.client
    for name in ("a", "a/enabled", "a/rollback", "a%2Fb", "a/b"):
        assert c.post(BASE, json=alert_spec(name), headers=ADMIN).status_code == 201
    # `a/enabled` is an alert's name; `/a/enabled` stays alert a's enabled switch.
    assert c.get(_path("a/enabled"), headers=ADMIN).json()["spec"]["alertName"] == "a/enabled"
    assert c.get(_path("a%2Fb"), headers=ADMIN).json()["spec"]["alertName"] == "a%2Fb"
    assert c.get(_path("a/b"), headers=ADMIN).json()["spec"]["alertName"] == "a/b"
    r = c.patch(f"{BASE}/a/enabled", json={"enabled": False}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["spec"]["alertName"] == "a"
    assert c.get(f"{BASE}/a%2Fc", headers=ADMIN).status_code == 404


def test_names_that_collide_once_slugged_get_distinct_object_names(api: ApiEnv) -> None:
    names = ["Disk > 90%", "Disk 90", "disk/90", "DISK_90", "disk_90", "disk-90", "Disk 90 "]
    made = {}
    for name in names:
        r = api.client.post(BASE, json=alert_spec(name), headers=ADMIN)
        assert r.status_code == 201, (name, r.text)
        made[name] = r.json()["metadata"]["name"]
    assert len(set(made.values())) == len(names)
    assert all(is_dns_subdomain(o) for o in made.values())
    # Names of other characters than letters, digits, '_' and '-' always carry the hash
    # of the exact name: the same object name whichever was created first.
    for name in ("Disk > 90%", "Disk 90", "disk/90", "Disk 90 "):
        assert made[name] == object_name("acme", name)
        assert (
            made[name].startswith("acme-disk-90-") and len(made[name]) == len("acme-disk-90-") + 8
        )
    assert made["DISK_90"] == "acme-disk-90"  # the first of the plain ones keeps its name
    assert {made["disk_90"], made["disk-90"]} == {
        object_name("acme", "disk_90", salted=True),
        object_name("acme", "disk-90", salted=True),
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "A" * 10_000,
            f"{'A' * 40!r}… (10000 characters) is too long: at most {MAX_ALERT_NAME} characters",
        ),
        ("", "the alert name is empty"),
        ("Disk\nFull", "'Disk\\nFull' contains a control character (U+000A) at character 5"),
        ("Disk\rFull", "'Disk\\rFull' contains a control character (U+000D) at character 5"),
        ("tab\there", "'tab\\there' contains a control character (U+0009) at character 4"),
        ("esc\x1b[31m", "'esc\\x1b[31m' contains a control character (U+001B) at character 4"),
        ("c1\x85", "'c1\\x85' contains a control character (U+0085) at character 3"),
        ("del\x7f", "'del\\x7f' contains a control character (U+007F) at character 4"),
        (
            "Disk\u202eLluf",
            "'Disk\\u202eLluf' contains a bidirectional control character (U+202E) at character 5",
        ),
        (
            "\u2066isolate",
            "'\\u2066isolate' contains a bidirectional control character (U+2066) at character 1",
        ),
        (
            "rlm\u200f",
            "'rlm\\u200f' contains a bidirectional control character (U+200F) at character 4",
        ),
        (
            "line\u2028sep",
            "'line\\u2028sep' contains a line separator character (U+2028) at character 5",
        ),
        (
            "para\u2029sep",
            "'para\\u2029sep' contains a paragraph separator character (U+2029) at character 5",
        ),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_what_no_line_of_text_may_hold_is_refused(
    refusing: ApiEnv, name: str, message: str
) -> None:
    r = refusing.client.post(BASE, json=alert_spec(name), headers=ADMIN)
    assert _problems(r) == [("spec.alertName", message)]
    assert "location" not in r.headers and len(r.content) < 2_000


def test_nul_is_refused_before_anything_else(refusing: ApiEnv) -> None:
    r = refusing.client.post(BASE, json=alert_spec("a\x00b"), headers=ADMIN)
    assert _problems(r) == [
        (
            "spec.alertName",
            "contains a NUL character (U+0000) at character 2 of 3 ('a\\x00b'), which no "
            "database stores",
        )
    ]


_TEXT = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
        blacklist_characters="\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
    min_size=1,
    max_size=MAX_ALERT_NAME,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=_TEXT)
def test_every_line_of_text_is_a_name_that_round_trips(api: ApiEnv, name: str) -> None:
    c = api.client
    r = c.post(BASE, json=alert_spec(name), headers=ADMIN)
    assert r.status_code == 201, r.text
    eventually(
        lambda: c.get(r.headers["location"], headers=ADMIN).json()["status"]["phase"] == "Synced",
        timeout=120,
    )
    assert is_dns_subdomain(r.json()["metadata"]["name"])
    assert c.get(r.headers["location"], headers=ADMIN).json()["spec"]["alertName"] == name
    assert c.delete(r.headers["location"], headers=ADMIN).status_code == 204


def test_routes_on_hostile_alert_names_reach_their_receiver(tmp_path: Path) -> None:
    """A receiver route matching `alertname` on such a name: the rendered Alertmanager
    config quotes it, amtool reads it, and the product's router agrees with amtool's."""
    names = [*[n for n in YAML_SPECIAL if n.strip() == n][:12], 'quote"in', "back\\slash"]
    receivers = [
        (
            f"r{i}",
            CustomerReceiverSpec.model_validate(
                {
                    "customerId": "acme",
                    "receiverName": f"r{i}",
                    "webhook": [{"url": "https://hooks.example.com/x"}],
                    "route": {"match": {"labels": {"alertname": name}}},
                }
            ),
        )
        for i, name in enumerate(names)
    ]
    config = render_alertmanager({"acme": receivers}, PlatformConfig())
    path = tmp_path / "alertmanager.yml"
    path.write_text(config, encoding="utf-8")
    assert tools.check_config(path).ok
    for i, name in enumerate(names):
        labels = {"customer_id": "acme", "alertname": name, "severity": "critical"}
        via_amtool = tools.routes_test(path, labels)
        assert via_amtool == [f"acme/r{i}"], (name, via_amtool)
        assert receivers_for(config, labels) == via_amtool, name


def test_the_console_links_to_and_edits_hostile_names(api: ApiEnv) -> None:
    names = ["a/b", "..", "<script>x</script>", "100%", "x?y#z", "Disk > 90%"]
    for name in names:
        assert api.client.post(BASE, json=alert_spec(name), headers=ADMIN).status_code == 201
    browser = client(api, ACME_TOKEN)
    listing = assert_page(browser.get("/console/customers/acme"))
    assert "<script>x</script>" not in listing  # escaped, never markup
    for name in names:
        page = f"/console/customers/acme/alerts/{segment(name)}"
        assert f'href="{page}"' in listing, name
        edit = assert_page(browser.get(page))
        assert html.escape(name, quote=True) in edit, name
        # Switching it off through the console reaches this very alert.
        r = post(browser, page, f"{page}/enabled", {"enabled": "false"})
        assert r.status_code == 303, (name, r.text[:300])
        stored = api.client.get(_path(name), headers=ADMIN).json()
        assert stored["spec"]["alertName"] == name and stored["spec"]["enabled"] is False


@pytest.fixture
def kube_crds(crd_kube: KubeEnv) -> KubeEnv:
    return crd_kube  # one per test process, shared with tests/e2e/test_crds.py


def test_the_crd_pattern_is_the_model_s(kube_crds: KubeEnv) -> None:
    """The API server (Go's RE2) reads the CRD's alertName pattern as pydantic (Rust's
    regex) does: the same names pass and the same are refused at `kubectl apply`."""
    for name in ["Disk > 90%", "Cert-managerAbsent", "a/b", "中文告警", "'quoted'", "x" * 189]:
        obj = yaml.safe_load(yaml.safe_dump(CRD_ALERT))
        obj["spec"]["alertName"] = name
        code, out = dry_run(kube_crds, obj)
        assert code == 0, (name, out)
    for name in ["", "a\nb", "tab\there", "del\x7f", "c1\x85", "x\u202ey", "l\u2028s", "\u2066i"]:
        obj = yaml.safe_load(yaml.safe_dump(CRD_ALERT))
        obj["spec"]["alertName"] = name
        code, out = dry_run(kube_crds, obj)
        assert code != 0 and "spec.alertName" in out, (name, out)


def test_promtool_s_complaint_is_pinned_on_the_alert_it_quotes() -> None:
    """promtool names the rule Go-quoted (`"say \\"hi\\" \\\\ now"`): read back exactly, so
    the refusal lands on that alert in the customer's one promtool run, not on all."""
    odd = 'say "hi" \\ now ☃'
    docs = [
        alert(name=odd, annotations={"summary": "{{ if }}"}),
        alert(name="Other"),
        alert(name='Other "x"'),
    ]
    for doc in docs:
        doc["metadata"]["name"] = object_name("acme", doc["spec"]["alertName"])
    found = lines(*docs, tools=True)
    assert found == [
        f"CustomerAlert acme/{object_name('acme', odd)}: spec.annotations.summary: invalid "
        "template: at 1: missing value for if; fix the Go template syntax "
        "({{ $labels.name }}, {{ $value }})"
    ]


def test_go_quoted_names_read_back() -> None:
    assert go_unquote('say \\"hi\\" \\\\ now') == 'say "hi" \\ now'
    assert go_unquote("\\u00e9\\x41\\U0001F600\\t") == "éA\U0001f600\t"
