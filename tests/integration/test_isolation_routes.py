"""Routing isolation, proven with the real `amtool config routes test` (DESIGN rule 3).

A customer's alert may only ever reach that customer's receivers (`<id>/...`) or
platform-default; an alert without a known customer_id reaches platform-default only.
The examples are swept over every customer × severity × category × the labels their
routes match on; hypothesis then renders random customers, receivers and routes and
checks random label sets against a reference router (and a bounded number against
amtool, which keeps the reference router honest).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.core import Outcome, evaluate, render_valid
from alertplane.errors import Source
from alertplane.manifests import Document, load_paths
from alertplane.model import CustomerReceiver, CustomerReceiverSpec
from alertplane.render.platform import PlatformConfig, load_platform_config
from alertplane.validate import tools
from tests.support.factories import alert, receiver
from tests.support.paths import EXAMPLES
from tests.support.routes_util import (
    PLATFORM,
    TENANT,
    Labels,
    Route,
    amtool_routes,
    intended_route,
    parse_matcher,
    parse_matchers,
    reference_route,
    route_tree,
    structure_problems,
)

SEVERITIES = ["critical", "warning", "info"]
CATEGORIES = ["application", "infrastructure"]


@dataclass
class Rendered:
    path: Path
    config: dict[str, Any]
    tree: Route
    customers: dict[str, list[CustomerReceiverSpec]]


def render_to(outcome: Outcome, platform: PlatformConfig, directory: Path) -> Rendered:
    assert outcome.ok, [str(p) for p in outcome.problems]
    text = render_valid(outcome, platform).alertmanager
    path = directory / "alertmanager.yml"
    path.write_text(text, encoding="utf-8")
    config = yaml.safe_load(text)
    customers: dict[str, list[CustomerReceiverSpec]] = {}
    for obj in outcome.valid:
        customers.setdefault(obj.spec.customer_id, [])
        if isinstance(obj, CustomerReceiver):
            customers[obj.spec.customer_id].append(obj.spec)
    return Rendered(path, config, route_tree(config), customers)


def isolation_problems(customers: Mapping[str, object], labels: Labels, got: list[str]) -> str:
    """Why `got` breaks isolation for `labels` ('' when it does not)."""
    cid = labels.get(TENANT)
    if cid not in customers:
        return "" if got == [PLATFORM] else f"no known customer_id, yet reached {got}"
    foreign = [r for r in got if r != PLATFORM and not r.startswith(f"{cid}/")]
    return f"customer {cid!r} reached {foreign}" if foreign or not got else ""


# ---------------------------------------------------------------------------------------
# The reference router's matcher parsing, against Alertmanager's documented behaviour.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('team="a"', [("team", "=", "a")]),
        ('severity=~"info|warning"', [("severity", "=~", "info|warning")]),
        ('a!="x", b!~"y"', [("a", "!=", "x"), ("b", "!~", "y")]),
        ('{a="x,y",b="z"}', [("a", "=", "x,y"), ("b", "=", "z")]),
        (r'a="q\"uote\\back\nline"', [("a", "=", 'q"uote\\back\nline')]),
        (r'a="spurious\d"', [("a", "=", "spurious\\d")]),
        ("a=plain", [("a", "=", "plain")]),
        ('a = " spaced "  ', [("a", "=", " spaced ")]),
        ('a=""', [("a", "=", "")]),
    ],
)
def test_reference_matcher_parsing(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(m.name, m.op, m.value) for m in parse_matchers(text)] == expected


@pytest.mark.parametrize("text", ['a="x"y"', 'a="unclosed', "1a=x", 'a~"x"'])
def test_reference_matcher_parsing_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(text)


def test_reference_regex_matchers_are_anchored() -> None:
    m = parse_matcher('severity=~"info|warning"')
    assert m.matches({"severity": "info"}) and m.matches({"severity": "warning"})
    assert not m.matches({"severity": "informational"}) and not m.matches({})


# ---------------------------------------------------------------------------------------
# The examples: every customer × severity × category × matched labels, through amtool.
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    loaded = load_paths([str(EXAMPLES / "customers")])
    platform = load_platform_config(str(EXAMPLES / "platform.yaml"))
    outcome = evaluate(loaded.documents, platform, tools=True, earlier=loaded.problems)
    return render_to(outcome, platform, tmp_path_factory.mktemp("examples"))


def example_label_sets(rendered: Rendered) -> list[dict[str, str]]:
    """customer × severity × category × each label the routes match on (matched or not)."""
    extra: dict[str, set[str]] = {}
    for node in rendered.tree.walk():
        for m in node.matchers:
            if m.name not in (TENANT, "severity", "category"):
                extra.setdefault(m.name, set()).add(m.value)
    assert extra, "the examples route on at least one free label (globex: team)"
    ids = [*sorted(rendered.customers), None, "unknown", "ACME", "acme-2", "globex ", ".*"]
    dims: list[list[tuple[str, str | None]]] = [
        [(TENANT, c) for c in ids],
        [("severity", s) for s in [*SEVERITIES, None]],
        [("category", c) for c in [*CATEGORIES, None]],
    ]
    for name, values in sorted(extra.items()):
        dims.append([(name, v) for v in [None, *sorted(values), "other"]])
    out = []
    for combo in itertools.product(*dims):
        labels = {k: v for k, v in combo if v is not None}
        labels["alertname"] = "Probe"
        out.append(labels)
    return out


def test_examples_render_the_isolated_shape(examples: Rendered) -> None:
    assert sorted(examples.customers) == ["acme", "globex", "initech"]
    assert structure_problems(examples.config, examples.customers) == []
    assert tools.check_config(examples.path).ok


def test_examples_route_only_to_the_alerts_own_customer(examples: Rendered) -> None:
    label_sets = example_label_sets(examples)
    assert len(label_sets) >= 300  # 9 customer ids × 4 severities × 3 categories × 3 teams
    got = amtool_routes(examples.path, label_sets)
    reached: set[str] = set()
    for labels, receivers in zip(label_sets, got, strict=True):
        assert receivers, labels
        assert isolation_problems(examples.customers, labels, receivers) == "", labels
        assert reference_route(examples.tree, labels) == receivers, labels
        assert intended_route(examples.customers, labels) == receivers, labels
        reached.update(receivers)
    # The sweep is meaningful: it reaches every receiver the examples define.
    defined = {r["name"] for r in examples.config["receivers"]}
    assert reached == defined


EXACT = [
    (
        {TENANT: "acme", "severity": "critical", "category": "application"},
        ["acme/oncall", "acme/team"],
    ),
    ({TENANT: "acme", "severity": "warning", "category": "infrastructure"}, ["acme/team"]),
    ({TENANT: "acme", "severity": "critical", "team": "dispatch"}, ["acme/oncall", "acme/team"]),
    ({TENANT: "globex", "severity": "critical", "team": "dispatch"}, ["globex/dispatch-hook"]),
    (
        {TENANT: "globex", "severity": "warning", "category": "infrastructure"},
        ["globex/infra-mail"],
    ),
    ({TENANT: "globex", "severity": "info", "category": "infrastructure"}, ["globex/infra-mail"]),
    (
        {TENANT: "globex", "severity": "critical", "category": "infrastructure"},
        ["globex/catch-all"],
    ),
    ({TENANT: "globex", "severity": "warning", "category": "application"}, ["globex/catch-all"]),
    ({TENANT: "initech", "severity": "info", "team": "dispatch"}, ["initech/webhook"]),
    ({"severity": "critical", "category": "application"}, [PLATFORM]),
    ({TENANT: "unknown", "severity": "critical"}, [PLATFORM]),
    ({TENANT: "", "severity": "critical"}, [PLATFORM]),
    ({TENANT: "acme|globex", "severity": "critical"}, [PLATFORM]),
    ({TENANT: "ACME", "severity": "critical"}, [PLATFORM]),
]


def test_examples_exact_routing(examples: Rendered) -> None:
    got = amtool_routes(examples.path, [labels for labels, _ in EXACT])
    assert got == [expected for _, expected in EXACT]


# ---------------------------------------------------------------------------------------
# Random customers, receivers and routes.
# ---------------------------------------------------------------------------------------

CUSTOMER_IDS = ["a", "a-b", "ab", "acme", "acme-2", "b", "globex", "t1"]
RECEIVER_NAMES = ["oncall", "team", "a", "b-c", "catch-all", "x1", "pager"]
LABEL_KEYS = ["team", "service", "env"]
# Label values that are easy to get wrong between Python, YAML, Go and Alertmanager's
# matcher syntax; the property also draws arbitrary text.
TRICKY = ["", "dispatch", "a,b", 'a"b', "a\\b", "a\\", "a\nb", "{x}", " sp ", "ü", "x=y", ".*"]
TRICKY += ["a|b", "true", "null", "#c", "- x", "a\\nb", "}", "\t", "1e3"]
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=6),
)
# Zero group_interval/repeat_interval and duplicated group_by labels are left out: they
# pass validation today but Alertmanager rejects them (test_..._cannot_break_... below).
DURATIONS = st.sampled_from(["10s", "1m", "5m", "1h30m", "4h"])


@st.composite
def routes(draw: st.DrawFn) -> dict[str, Any]:
    route: dict[str, Any] = {}
    if draw(st.booleans()):
        route["priority"] = draw(st.integers(-3, 200))
    match: dict[str, Any] = {}
    severity = draw(st.lists(st.sampled_from(SEVERITIES), max_size=3))
    category = draw(st.lists(st.sampled_from(CATEGORIES), max_size=2))
    labels = draw(st.dictionaries(st.sampled_from(LABEL_KEYS), VALUES, max_size=2))
    if severity:
        match["severity"] = severity
    if category:
        match["category"] = category
    if labels:
        match["labels"] = labels
    empty_match = draw(st.booleans())  # `match: {}` written out, or left away
    if match or empty_match:
        route["match"] = match
    if draw(st.booleans()):
        route["continue"] = draw(st.booleans())
    if draw(st.booleans()):
        route["groupBy"] = draw(
            st.one_of(
                st.just(["..."]),
                st.lists(st.sampled_from(["alertname", *LABEL_KEYS]), unique=True),
            )
        )
    for key in ("groupWait", "groupInterval", "repeatInterval"):
        if draw(st.integers(0, 3)) == 0:
            route[key] = "0s" if key == "groupWait" and draw(st.booleans()) else draw(DURATIONS)
    return route


@dataclass
class Scenario:
    documents: list[Document]
    ids: list[str]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """1–4 customers with 0–4 receivers each (some with alerts only), random namespaces."""
    ids = draw(st.lists(st.sampled_from(CUSTOMER_IDS), min_size=1, max_size=4, unique=True))
    docs: list[Any] = []
    for cid in ids:
        names = draw(st.lists(st.sampled_from(RECEIVER_NAMES), max_size=4, unique=True))
        for name in names:
            # Objects of one customer may live in another customer's namespace (files
            # mode): routing must follow spec.customerId, never the namespace.
            namespace = draw(st.sampled_from(ids))
            doc = receiver(cid, name, route=draw(routes()))
            doc["metadata"]["namespace"] = namespace
            docs.append(doc)
        if not names or draw(st.booleans()):
            docs.append(alert(cid))
    docs = draw(st.permutations(docs))
    return Scenario([Document(Source("gen.yaml", i + 1, 1), d) for i, d in enumerate(docs)], ids)


@st.composite
def probes(draw: st.DrawFn, rendered: Rendered) -> dict[str, str]:
    """A label set aimed at the scenario: its customers, its matched values, and misses."""
    used: dict[str, list[str]] = {k: [] for k in LABEL_KEYS}
    for specs in rendered.customers.values():
        for spec in specs:
            for k, v in spec.route.match.labels.items():
                used[k].append(v)
    known = sorted(rendered.customers)
    cid = draw(
        st.one_of(
            st.sampled_from(known),
            st.sampled_from([*CUSTOMER_IDS, "", ".*", "A", known[0] + "|" + known[-1]]),
            st.none(),
        )
    )
    labels: dict[str, str] = {"alertname": "Probe"}
    if cid is not None:
        labels[TENANT] = cid
    for key, pool in (("severity", SEVERITIES), ("category", CATEGORIES)):
        value = draw(st.one_of(st.none(), st.sampled_from([*pool, "", "Critical"])))
        if value is not None:
            labels[key] = value
    for key in LABEL_KEYS:
        choices = [st.none(), VALUES]
        if used[key]:
            choices.insert(0, st.sampled_from(used[key]))
        value = draw(st.one_of(choices))
        if value is not None:
            labels[key] = value
    return labels


PLATFORM_CONFIG = PlatformConfig.model_validate(
    {"alertmanager": {"route": {"group_by": ["customer_id", "alertname"]}}}
)


def render_scenario(scenario: Scenario, directory: Path) -> Rendered:
    outcome = evaluate(scenario.documents, PLATFORM_CONFIG, tools=False)
    rendered = render_to(outcome, PLATFORM_CONFIG, directory)
    assert sorted(rendered.customers) == sorted(scenario.ids)
    assert structure_problems(rendered.config, rendered.customers) == []
    return rendered


def check_reference(rendered: Rendered, label_sets: Sequence[Labels]) -> None:
    for labels in label_sets:
        got = reference_route(rendered.tree, labels)
        assert isolation_problems(rendered.customers, labels, got) == "", labels
        assert got == intended_route(rendered.customers, labels), labels


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_configs_never_route_to_another_customer(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    with tempfile.TemporaryDirectory(prefix="isolation-routes-") as tmp:
        rendered = render_scenario(scenario, Path(tmp))
    check_reference(rendered, data.draw(st.lists(probes(rendered), min_size=8, max_size=8)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_amtool_agrees_with_the_reference_router(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    with tempfile.TemporaryDirectory(prefix="isolation-routes-") as tmp:
        rendered = render_scenario(scenario, Path(tmp))
        assert tools.check_config(rendered.path).ok
        label_sets = data.draw(st.lists(probes(rendered), min_size=6, max_size=6))
        got = amtool_routes(rendered.path, label_sets)
    for labels, receivers in zip(label_sets, got, strict=True):
        assert receivers == reference_route(rendered.tree, labels), labels
    check_reference(rendered, label_sets)


@pytest.mark.parametrize(
    "route",
    [
        {"groupInterval": "0s"},
        {"repeatInterval": "0s"},
        {"groupBy": ["alertname", "alertname"]},
    ],
    ids=["groupInterval 0", "repeatInterval 0", "duplicated groupBy"],
)
def test_a_customer_receiver_cannot_break_the_shared_config(
    route: dict[str, Any], tmp_path: Path
) -> None:
    """Blast radius: an object either fails validation (and is left out) or renders into
    a configuration Alertmanager loads; it must never fail every customer's config."""
    docs = [
        Document(Source("a.yaml", 1, 1), receiver("acme", "oncall", route=route)),
        Document(Source("g.yaml", 1, 1), receiver("globex", "team")),
    ]
    outcome = evaluate(docs, PLATFORM_CONFIG, tools=True)
    assert [str(p.obj) for p in outcome.problems] == ["CustomerReceiver acme/acme-oncall"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_valid(outcome, PLATFORM_CONFIG).alertmanager, encoding="utf-8")
    checked = tools.check_config(path)
    assert checked.ok, checked.output
