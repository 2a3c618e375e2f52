"""Names that are accepted but not addressable, durations promtool refuses, unbounded fields
(issue 10, items 9 and 8's model part).

- An alert name longer than 253 characters was created (201, with a 100 KB Location header)
  and then answered 404 to every request. Every name the API accepts must round-trip
  GET/PUT/PATCH/DELETE; longer ones are refused up front with the CRD's limit.
- `for: 99999999999999y` was accepted, then refused by promtool. Durations are bounded by
  Go's time.Duration (int64 nanoseconds), measured here against the real promtool/amtool.
- Maps, lists, texts and the route priority have bounds real use never reaches.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.model.common import (
    MAX_ALERT_NAME,
    MAX_DURATION,
    MAX_DURATION_MS,
    duration_ms,
    is_dns_subdomain,
)
from alertplane.service.objects import object_name
from alertplane.validate import parse_document
from tests.adversarial.crd_server import dry_run, receiver_with
from tests.support.api_env import ADMIN, ApiEnv, alert_spec, api_env, receiver_spec
from tests.support.crds import ALERT
from tests.support.factories import alert, receiver
from tests.support.k8s_env import KubeEnv
from tests.support.problems import unplaced

BASE = "/customers/acme/alerts"
LONGEST_CUSTOMER = "c" * 63


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
        assert env.store.get() == []


def _problems(r: Any) -> list[tuple[str, str]]:
    assert r.status_code == 422, r.text
    return [(p["path"], p["message"]) for p in r.json()["problems"]]


# -- names -----------------------------------------------------------------------------------
def test_the_name_bound_keeps_the_derived_object_name_a_kubernetes_name() -> None:
    name = "A" * MAX_ALERT_NAME
    derived = object_name(LONGEST_CUSTOMER, name)
    assert len(derived) == 253 and is_dns_subdomain(derived)
    assert derived == f"{LONGEST_CUSTOMER}-{name.lower()}"  # no truncation needed
    salted = object_name(LONGEST_CUSTOMER, name, salted=True)
    assert len(salted) <= 253 and is_dns_subdomain(salted) and salted != derived


@pytest.mark.parametrize("length", [MAX_ALERT_NAME + 1, 254, 300, 100_000])
def test_too_long_alert_names_are_refused_up_front(refusing: ApiEnv, length: int) -> None:
    api = refusing
    r = api.client.post(BASE, json=alert_spec("A" * length), headers=ADMIN)
    ((path, message),) = _problems(r)
    assert path == "spec.alertName"
    assert message == (
        f"{'A' * 40!r}… ({length} characters) is too long: at most {MAX_ALERT_NAME} characters"
    )
    assert len(r.content) < 2_000 and "location" not in r.headers
    assert api.store.get() == []


def test_the_longest_names_round_trip_for_the_longest_customer(api: ApiEnv) -> None:
    base = f"/customers/{LONGEST_CUSTOMER}/alerts"
    for name in ("A" * MAX_ALERT_NAME, "a" * MAX_ALERT_NAME, "_" + "a" * (MAX_ALERT_NAME - 1)):
        spec = alert_spec(name, customer=LONGEST_CUSTOMER)
        r = api.client.post(base, json=spec, headers=ADMIN)
        assert r.status_code == 201, r.text
        assert len(r.headers["location"]) < 300
        _round_trip(api, base, name, LONGEST_CUSTOMER)


def _round_trip(api: ApiEnv, base: str, name: str, customer: str = "acme") -> None:
    c = api.client
    got = c.get(f"{base}/{name}", headers=ADMIN)
    assert got.status_code == 200 and got.json()["spec"]["alertName"] == name, got.text
    assert is_dns_subdomain(got.json()["metadata"]["name"])
    put = c.put(
        f"{base}/{name}", json=alert_spec(name, customer, severity="warning"), headers=ADMIN
    )
    assert put.status_code == 200, put.text
    patch = c.patch(f"{base}/{name}/enabled", json={"enabled": False}, headers=ADMIN)
    assert patch.status_code == 200 and patch.json()["spec"]["enabled"] is False, patch.text


_alert_names = st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]*\Z").filter(
    lambda n: len(n) <= MAX_ALERT_NAME
) | st.builds(lambda n: n * (MAX_ALERT_NAME // len(n)), st.sampled_from(["A_", "b", "_C1"]))


def _variants(name: str) -> list[str]:
    """Names that derive the same object name: case and '_' vs '-' collapse."""
    out = [name, name.swapcase(), name.upper(), name.lower(), name.replace("_", "") or "_"]
    return [n for n in dict.fromkeys(out) if n and not n[0].isdigit()]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=_alert_names)
def test_every_accepted_alert_name_round_trips(api: ApiEnv, name: str) -> None:
    """Property: every alert name the API accepts — including names that differ only by
    case or '_', which share a derived object name and get salted ones — is addressable by
    GET/PUT/PATCH/DELETE, and a delete frees it."""
    names = _variants(name)
    for n in names:
        r = api.client.post(BASE, json=alert_spec(n), headers=ADMIN)
        assert r.status_code == 201, (n, r.text)
        assert r.headers["location"].endswith(f"/alerts/{n}")
    objects = {s.name for s in api.store.get(kind="CustomerAlert")}
    assert len(objects) == len(names)  # distinct object names, each a Kubernetes name
    assert all(is_dns_subdomain(o) and len(o) <= 253 for o in objects)
    for n in names:
        _round_trip(api, BASE, n)
    for n in names:
        assert api.client.delete(f"{BASE}/{n}", headers=ADMIN).status_code == 204
        assert api.client.get(f"{BASE}/{n}", headers=ADMIN).status_code == 404
    assert api.store.get(kind="CustomerAlert") == []


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z"))
def test_every_accepted_receiver_name_round_trips(api: ApiEnv, name: str) -> None:
    base = "/customers/acme/receivers"
    r = api.client.post(base, json=receiver_spec(name), headers=ADMIN)
    assert r.status_code == 201, r.text
    assert api.client.get(f"{base}/{name}", headers=ADMIN).status_code == 200
    put = api.client.put(f"{base}/{name}", json=receiver_spec(name), headers=ADMIN)
    assert put.status_code == 200
    assert api.client.delete(f"{base}/{name}", headers=ADMIN).status_code == 204


def test_too_long_receiver_names_are_refused(refusing: ApiEnv) -> None:
    api = refusing
    r = api.client.post("/customers/acme/receivers", json=receiver_spec("r" * 64), headers=ADMIN)
    assert _problems(r) == [
        ("spec.receiverName", f"{'r' * 40!r}… (64 characters) is too long: at most 63 characters")
    ]


# -- durations -------------------------------------------------------------------------------
_FIELDS = ("for", "keepFiringFor")
_ROUTE_FIELDS = ("groupWait", "groupInterval", "repeatInterval")
_BEYOND = ["292y24w3d23h47m16s855ms", "293y", "106752d", "9223372036855ms", "99999999999999y",
           "292y53w", "1" + "0" * 40 + "s"]  # fmt: skip
_WITHIN = ["0", "1ms", "5m", "1h30m", "292y", MAX_DURATION, "106751d", "9223372036854ms",
           "0000000000000000000000000000000000000000000000000000000000001s"]  # fmt: skip


def test_the_bound_is_gos_time_duration() -> None:
    assert MAX_DURATION_MS == (2**63 - 1) // 1_000_000
    assert duration_ms(MAX_DURATION) == MAX_DURATION_MS


def _duration_problem(value: str, field: str) -> list[str]:
    manifest = alert(**{field: value}) if field in _FIELDS else receiver(route={field: value})
    _, problems = parse_document(manifest)
    return [p.text() for p in problems]


@pytest.mark.parametrize("field", _FIELDS + _ROUTE_FIELDS)
def test_every_duration_field_is_bounded(field: str) -> None:
    path = f"spec.{field}" if field in _FIELDS else f"spec.route.{field}"
    for value in _WITHIN:
        assert _duration_problem(value, field) == [], value
    for value in _BEYOND:
        assert _duration_problem(value, field) == [
            f"{path}: {value!r} is too long: a duration is at most {MAX_DURATION} (about 292 "
            "years, the most Prometheus and Alertmanager accept); use a shorter duration"
        ], value


def _promtool_accepts(value: str, tmp: Path) -> bool:
    rules = {"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "vector(1)", "for": value, "keep_firing_for": value}]}]}  # fmt: skip
    path = tmp / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    proc = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, check=False, timeout=60
    )
    assert b"SUCCESS" in proc.stdout or b"duration" in proc.stderr + proc.stdout, proc
    return proc.returncode == 0


def _amtool_accepts(value: str, tmp: Path) -> bool:
    config = {"route": {"receiver": "r", "routes": [{"receiver": "r", "group_wait": value,
              "group_interval": value, "repeat_interval": value}]},
              "receivers": [{"name": "r"}]}  # fmt: skip
    path = tmp / "am.yml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        ["amtool", "check-config", str(path)], capture_output=True, check=False, timeout=60
    )
    assert b"SUCCESS" in proc.stdout or b"FAILED" in proc.stdout, proc
    return proc.returncode == 0


_durations = st.from_regex(
    r"\A([0-9]{1,4}y)?([0-9]{1,4}w)?([0-9]{1,6}d)?([0-9]{1,8}h)?([0-9]{1,9}m)?"
    r"([0-9]{1,11}s)?([0-9]{1,13}ms)?\Z"
).filter(lambda d: d != "")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_durations | st.sampled_from(_BEYOND + _WITHIN))
def test_the_model_accepts_exactly_what_promtool_accepts(value: str, tmp_path: Path) -> None:
    """Property over generated durations (within 64 characters, the length bound)."""
    assert (_duration_problem(value, "for") == []) == _promtool_accepts(value, tmp_path), value


@pytest.mark.parametrize("value", _BEYOND + _WITHIN)
def test_the_model_accepts_exactly_what_amtool_accepts(value: str, tmp_path: Path) -> None:
    nonzero = any(c in "123456789" for c in value)
    model_ok = _duration_problem(value, "repeatInterval") == [] and nonzero
    assert model_ok == _amtool_accepts(value, tmp_path), value


def test_api_refuses_an_overflowing_for_with_422(refusing: ApiEnv) -> None:
    api = refusing
    r = api.client.post(BASE, json=alert_spec(**{"for": "99999999999999y"}), headers=ADMIN)
    ((path, message),) = _problems(r)
    assert path == "spec.for" and f"at most {MAX_DURATION}" in message
    assert api.store.get() == []


def test_a_duration_longer_than_64_characters_is_refused() -> None:
    value = "0" * 64 + "1s"
    assert _duration_problem(value, "for") == [
        f"spec.for: {value[:40]!r}… (66 characters) is too long: at most 64 characters; "
        "use a Prometheus duration such as 30s, 5m, 1h30m or 7d"
    ]


# -- other unbounded fields ------------------------------------------------------------------
_LIMITS: list[tuple[str, dict[str, Any], str, str]] = [
    ("alert", {"labels": {f"l{i}": "v" for i in range(65)}}, "spec.labels",
     "too many entries (65): at most 64"),
    ("alert", {"labels": {"team": "v" * 1025}}, "spec.labels.team",
     "too long (1025 characters): at most 1024 characters"),
    ("alert", {"labels": {"l" * 129: "v"}}, "spec.labels." + "l" * 129,
     "is not a valid label name"),
    ("alert", {"annotations": {f"a{i}": "v" for i in range(65)}}, "spec.annotations",
     "too many entries (65): at most 64"),
    ("alert", {"annotations": {"description": "d" * 16385}}, "spec.annotations.description",
     "too long (16385 characters): at most 16384 characters"),
    ("alert", {"annotations": {"free": "d" * 16385}}, "spec.annotations.free",
     "too long (16385 characters): at most 16384 characters"),
    ("receiver", {"route": {"priority": 10**30}}, "spec.route.priority",
     "must be at most 1000000"),
    ("receiver", {"route": {"priority": -(10**6) - 1}}, "spec.route.priority",
     "must be at least -1000000"),
    ("receiver", {"route": {"groupBy": [f"l{i}" for i in range(65)]}}, "spec.route.groupBy",
     "too many items (65): at most 64"),
    ("receiver", {"route": {"match": {"labels": {f"l{i}": "v" for i in range(65)}}}},
     "spec.route.match.labels", "too many entries (65): at most 64"),
    ("receiver", {"email": [{"to": [f"u{i}@example.com" for i in range(65)]}]},
     "spec.email[0].to", "too many items (65): at most 64"),
    ("receiver", {"email": [{"to": ["u" * 250 + "@example.com"]}]}, "spec.email[0].to[0]",
     "too long (262 characters): at most 254 characters"),
    ("receiver", {"webhook": [{"url": "http://x/" + "p" * 2048}]}, "spec.webhook[0].url",
     "too long (2057 characters): at most 2048 characters"),
    ("receiver", {"webhook": [{"url": f"http://x/{i}"} for i in range(33)]}, "spec.webhook",
     "too many items (33): at most 32"),
    ("receiver", {"slack": [{"apiURL": "https://s/x", "textTemplate": "t" * 65537}]},
     "spec.slack[0].textTemplate", "too long (65537 characters): at most 65536 characters"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "spec", "path", "message"), _LIMITS)
def test_unbounded_fields_are_bounded(
    refusing: ApiEnv, kind: str, spec: dict[str, Any], path: str, message: str
) -> None:
    api = refusing
    if kind == "alert":
        r = api.client.post(BASE, json=alert_spec(**spec), headers=ADMIN)
    else:
        r = api.client.post("/customers/acme/receivers", json=receiver_spec(**spec), headers=ADMIN)
    problems = _problems(r)
    assert [p for p, _ in problems] == [path], problems
    assert message in problems[0][1], problems
    assert len(r.content) < 4_000


# -- CRD schema on a real API server ---------------------------------------------------------
@pytest.fixture
def kube_crds(crd_kube: KubeEnv) -> KubeEnv:
    return crd_kube  # one per test process, shared with tests/e2e/test_crds.py


def _alert_with(**spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load(yaml.safe_dump(ALERT))
    obj["spec"].update(spec)
    return obj


def test_crd_schema_bounds_durations(kube_crds: KubeEnv) -> None:
    for value in ("0", "5m", "292y", MAX_DURATION, "9223372036854ms"):
        code, out = dry_run(kube_crds, _alert_with(**{"for": value, "keepFiringFor": value}))
        assert code == 0, (value, out)
    for value in ("292y24w3d23h47m16s855ms", "293y", "99999999999999y", "292y53w"):
        code, out = dry_run(kube_crds, _alert_with(**{"for": value}))
        assert code != 0 and "spec.for" in out and f"at most {MAX_DURATION}" in out, (value, out)
        route = {"repeatInterval": value}
        code, out = dry_run(kube_crds, receiver_with(route=route))
        assert code != 0 and "spec.route.repeatInterval" in out, out


def test_crd_schema_bounds_names_and_sizes(kube_crds: KubeEnv) -> None:
    code, out = dry_run(kube_crds, _alert_with(alertName="A" * MAX_ALERT_NAME))
    assert code == 0, out
    code, out = dry_run(kube_crds, _alert_with(alertName="A" * (MAX_ALERT_NAME + 1)))
    assert code != 0 and "spec.alertName" in out, out
    code, out = dry_run(kube_crds, _alert_with(labels={f"l{i}": "v" for i in range(65)}))
    assert code != 0 and "spec.labels" in out, out
    code, out = dry_run(kube_crds, _alert_with(labels={"l" * 129: "v"}))
    assert code != 0 and "spec.labels" in out, out
    code, out = dry_run(kube_crds, receiver_with(route={"priority": 10**7}))
    assert code != 0 and "spec.route.priority" in out, out
    code, out = dry_run(kube_crds, receiver_with(route={"priority": -(10**6)}))
    assert code == 0, out


def test_cli_validate_and_apply_refuse_overflowing_durations_and_long_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `validate` exited 3 ("promtool rejected generated rules", an internal error)
    and `apply` stored the alert; now both name the field (exit 1) and nothing is stored."""
    from alertplane.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump_all([alert(**{"for": "99999999999999y"}), alert(name="A" * 190)])
    )
    assert main(["validate", "-f", str(path)]) == 1
    out = unplaced(capsys.readouterr().out).splitlines()
    assert [line.split(": ")[1] for line in out] == ["spec.for", "spec.alertName"], out
    assert f"at most {MAX_DURATION}" in out[0] and "at most 189 characters" in out[1]
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["apply", "--db", db, "--actor", "t", "-f", str(path)]) == 1
    assert main(["get", "alerts", "--db", db, "-c", "acme"]) == 0
    assert "acme-" not in capsys.readouterr().out
