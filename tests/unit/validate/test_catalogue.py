"""spec.template (the platform's catalogue) and threshold ranges: every message exactly as
`validate` prints it, what an instance is, and that no parameter value can change the
expression beyond its own literal (hypothesis, on the parse tree)."""

from __future__ import annotations

import json
from typing import Any

import promql_parser as pp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.core import evaluate
from alertplane.errors import UsageError
from alertplane.manifests import load_text
from alertplane.model import CustomerAlert
from alertplane.render.platform import PlatformConfig, load_platform_config
from alertplane.validate import promql
from alertplane.validate.catalogue import instantiate, parse_selector, quote
from tests.support.factories import DROP, alert, obj
from tests.support.paths import EXAMPLES
from tests.support.problems import lines

CATALOGUE = load_platform_config(str(EXAMPLES / "platform-templates.yaml"))
A = "CustomerAlert acme/acme-higherrorrate: "


def templated(name: str = "error-ratio", **params: Any) -> dict[str, Any]:
    doc = alert(expr=DROP, annotations=DROP, template={"name": name, "params": params})
    return doc


def admitted(doc: dict[str, Any], platform: PlatformConfig = CATALOGUE) -> CustomerAlert:
    import yaml

    loaded = load_text(yaml.safe_dump(doc), "t.yaml")
    outcome = evaluate(loaded.documents, platform, tools=False)
    assert outcome.problems == []
    (found,) = outcome.parsed
    assert isinstance(found.obj, CustomerAlert)
    return found.obj


# -- instances -------------------------------------------------------------------------------


def test_an_instance_is_the_template_with_params_and_the_tenant_on_every_selector() -> None:
    spec = admitted(templated(selector='job="api"', threshold=0.1, window="10m")).spec
    assert spec.expr == (
        'sum by (job) (rate(http_requests_total{code=~"5..", job="api", customer_id="acme"}'
        "[10m]))\n"
        '  / sum by (job) (rate(http_requests_total{job="api",customer_id="acme"}[10m]))\n'
        "  > 0.1\n"
    )
    assert spec.for_ == "5m"  # the template's ${for} default
    assert spec.annotations.summary == "{{ $labels.job }}: more than 0.1 of requests fail"
    assert spec.template is not None and spec.template.params["threshold"] == "0.1"


def test_defaults_fill_every_param_and_the_alert_keeps_its_own_annotations() -> None:
    doc = templated()
    doc["spec"]["annotations"] = {"summary": "mine"}
    spec = admitted(doc).spec
    assert spec.expr is not None and "> 0.05" in spec.expr and "[5m]" in spec.expr
    assert spec.annotations.summary == "mine"
    assert spec.annotations.description == (
        "{{ $value | humanizePercentage }} of requests answered 5xx over 5m."
    )


def test_a_template_expr_replaces_a_written_expr_and_its_for_wins() -> None:
    doc = templated(**{"for": "20m"})
    doc["spec"]["expr"] = 'up{customer_id="acme"} == 0'
    doc["spec"]["for"] = "1h"
    spec = admitted(doc).spec
    assert spec.expr is not None and spec.expr.startswith("sum by (job)")
    assert spec.for_ == "20m"


def test_a_string_param_is_one_quoted_literal() -> None:
    hostile = 'api"} or vector(1) or up{x="\\'
    spec = admitted(templated("absent-target", job=hostile)).spec
    assert spec.expr == f'absent(up{{job={quote(hostile)},customer_id="acme"}})'
    tree = promql.parse(spec.expr)
    (sel,) = [n for n in promql._walk(tree) if isinstance(n, pp.VectorSelector)]
    assert {m.name: m.value for m in sel.matchers.matchers} == {
        "job": hostile,
        "customer_id": "acme",
    }


def test_yaml_numbers_are_kept_as_text() -> None:
    parsed = obj(templated(threshold=0.25, window="5m"))
    assert isinstance(parsed, CustomerAlert) and parsed.spec.template is not None
    assert parsed.spec.template.params == {"threshold": "0.25", "window": "5m"}


def test_the_selector_parser() -> None:
    assert parse_selector('job="api", env=~"prod|st\\"age" ,x!="\\\\"') == [
        ("job", "=", "api"),
        ("env", "=~", 'prod|st"age'),
        ("x", "!=", "\\"),
    ]
    assert parse_selector("") == []


# -- refusals, exact -------------------------------------------------------------------------

REFUSALS = [
    (
        "unknown-template",
        templated("nope"),
        "spec.template.name: the platform has no alert template 'nope'; use one of: "
        "error-ratio, latency-quantile, saturation, absent-target, certificate-expiry",
    ),
    (
        "unknown-param",
        templated(treshold=0.1),
        "spec.template.params.treshold: template 'error-ratio' has no parameter 'treshold'; "
        "its parameters: selector, window, threshold, for",
    ),
    (
        "missing-param",
        templated("absent-target"),
        "spec.template.params.job: template 'absent-target' requires parameter 'job'; "
        "The scrape job's name",
    ),
    (
        "above-max",
        templated(threshold=0.9),
        "spec.template.params.threshold: 0.9 is above the maximum 0.5; template 'error-ratio' "
        "allows threshold from 0.001 to 0.5",
    ),
    (
        "below-min",
        templated(threshold="0.0001"),
        "spec.template.params.threshold: 0.0001 is below the minimum 0.001; template "
        "'error-ratio' allows threshold from 0.001 to 0.5",
    ),
    (
        "duration-above-max",
        templated(window="2h"),
        "spec.template.params.window: 2h is above the maximum 1h; template 'error-ratio' "
        "allows window from 1m to 1h",
    ),
    (
        "days-above-max",
        templated("certificate-expiry", days=365),
        "spec.template.params.days: 365 is above the maximum 90; template "
        "'certificate-expiry' allows days from 1 to 90",
    ),
    (
        "not-a-number",
        templated(threshold="0.1) or vector(1"),
        "spec.template.params.threshold: '0.1) or vector(1' is not a number; write a number, "
        "e.g. 0.05",
    ),
    (
        "not-finite",
        templated(threshold="1e999"),
        "spec.template.params.threshold: '1e999' is not a finite number; write a number, e.g. 0.05",
    ),
    (
        "not-a-duration",
        templated(window="5m]) or vector(1) or rate(x[5m"),
        "spec.template.params.window: '5m]) or vector(1) or rate(x[5m' is not a duration; "
        "write a Prometheus duration such as 30s, 5m or 1h",
    ),
    (
        "selector-injection",
        templated(selector='job="api"} or vector(1) or up{x="y"'),
        'spec.template.params.selector: \'job="api"} or vector(1) or up{x="y"\' is not a '
        'label matcher (name="value"); write label matchers such as job="api", '
        'env=~"prod|stage"',
    ),
    (
        "selector-tenant",
        templated(selector='customer_id="globex"'),
        "spec.template.params.selector: label 'customer_id' is not allowed here: alertplane "
        'sets customer_id itself; write label matchers such as job="api", env=~"prod|stage"',
    ),
    (
        "selector-name",
        templated(selector='__name__="up"'),
        "spec.template.params.selector: '__name__' is not a label name; write label "
        'matchers such as job="api", env=~"prod|stage"',
    ),
    (
        "selector-unquoted",
        templated(selector="job=api"),
        "spec.template.params.selector: 'job=api' is not a label matcher (name=\"value\"); "
        'write label matchers such as job="api", env=~"prod|stage"',
    ),
    (
        "selector-escape",
        templated(selector='job=~"a\\.b"'),
        "spec.template.params.selector: \\. is not allowed in a matcher value (write \\\\ for "
        'a backslash); write label matchers such as job="api", env=~"prod|stage"',
    ),
    (
        "control-character",
        templated("absent-target", job="a\nb"),
        "spec.template.params.job: 'a\\nb' holds a control character; write text",
    ),
    (
        "param-name",
        templated(**{"a-b": "1"}),
        "spec.template: params: 'a-b' is not a parameter name; use the template's parameter "
        "names: letters, digits and '_'",
    ),
    (
        "template-name",
        alert(expr=DROP, template={"name": "Error Ratio"}),
        "spec.template.name: 'Error Ratio' is not a template name; name a template of the "
        "platform's catalogue (lower-case letters, digits, '-')",
    ),
]


@pytest.mark.parametrize(
    ("doc", "expected"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS]
)
def test_refusal(doc: dict[str, Any], expected: str) -> None:
    assert lines(doc, platform=CATALOGUE) == [A + expected]


def test_every_bad_param_is_named_at_once() -> None:
    assert lines(templated(threshold=2, window="1s"), platform=CATALOGUE) == [
        A + "spec.template.params.window: 1s is below the minimum 1m; template 'error-ratio' "
        "allows window from 1m to 1h",
        A + "spec.template.params.threshold: 2 is above the maximum 0.5; template "
        "'error-ratio' allows threshold from 0.001 to 0.5",
    ]


def test_without_a_catalogue_the_message_says_where_templates_come_from() -> None:
    assert lines(templated()) == [
        A + "spec.template.name: the platform has no alert template 'error-ratio'; the "
        "platform's catalogue is empty (platform config alertTemplates; "
        "`alertplane validate --platform-config`)"
    ]


def test_enum_params() -> None:
    platform = PlatformConfig.model_validate(
        {
            "alertTemplates": [
                {
                    "name": "t",
                    "params": [{"name": "q", "type": "number", "enum": [0.5, 0.99]}],
                    "expr": "histogram_quantile(${q}, rate(x_bucket[5m])) > 1",
                }
            ]
        }
    )
    assert lines(templated("t", q="0.9"), platform=platform) == [
        A + "spec.template.params.q: '0.9' is not allowed; use one of: 0.5, 0.99"
    ]
    assert admitted(templated("t", q="0.99"), platform).spec.expr == (
        'histogram_quantile(0.99, rate(x_bucket{customer_id="acme"}[5m])) > 1'
    )


# -- thresholds on plain expressions ---------------------------------------------------------

THRESHOLDS = [
    ('up{customer_id="acme"} == 2', "threshold 2 on up is above the maximum 1"),
    ('2 < (up{customer_id="acme"})', "threshold 2 on up is above the maximum 1"),
    ('up{customer_id="acme"} > -1', "threshold -1 on up is below the minimum 0"),
    (
        'node_filesystem_avail_bytes{customer_id="acme"} < -5',
        "threshold -5 on node_filesystem_avail_bytes is below the minimum 0",
    ),
    # A number written as arithmetic of numbers is still that number (no way around the
    # range by writing 1 + 1 or -(-2)); NaN is no number in any range.
    ('up{customer_id="acme"} > 1 + 1', "threshold 2 on up is above the maximum 1"),
    ('up{customer_id="acme"} > -(-(2))', "threshold 2 on up is above the maximum 1"),
    ('(4 / 2) ^ 1 < up{customer_id="acme"}', "threshold 2 on up is above the maximum 1"),
    ('up{customer_id="acme"} * 5 > 3 + 2', "threshold 5 on up is above the maximum 1"),
    ('up{customer_id="acme"} != NaN', "threshold NaN on up is not a number"),
    ('up{customer_id="acme"} > 0 * Inf', "threshold NaN on up is not a number"),
]


@pytest.mark.parametrize(("expr", "message"), THRESHOLDS)
def test_threshold_out_of_range(expr: str, message: str) -> None:
    hint = {
        "up": "the platform allows thresholds on up from 0 to 1 (up is 0 or 1)",
        "node_filesystem_avail_bytes": "the platform allows thresholds on "
        "node_filesystem_avail_bytes from 0 up (Free bytes)",
    }[message.split(" on ")[1].split()[0]]
    assert lines(alert(expr=expr), platform=CATALOGUE) == [A + f"spec.expr: {message}; {hint}"]


@pytest.mark.parametrize(
    "expr",
    [
        'up{customer_id="acme"} == 0',
        'rate(errors_total{customer_id="acme"}[5m]) > 100',  # no range for errors_total
        # no number on either side: not a threshold
        'up{customer_id="acme"} * 5 > up{customer_id="acme"} offset 1h',
        'up{customer_id="acme"} == 1 + 0',
    ],
)
def test_thresholds_in_range_or_not_thresholds_pass(expr: str) -> None:
    assert lines(alert(expr=expr), platform=CATALOGUE) == []


# -- the platform's own config ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("catalogue", "message"),
    [
        (
            {"alertTemplates": [{"name": "t", "expr": "up{${x}} == 0"}]},
            "alertTemplates.0: Value error, template t: expr uses ${x}, no such parameter",
        ),
        (
            {
                "alertTemplates": [
                    {
                        "name": "t",
                        "expr": "up > ${n}",
                        "params": [{"name": "n", "type": "number", "min": 5, "max": 1}],
                    }
                ]
            },
            "alertTemplates.0.params.0: Value error, param n: min 5.0 is above max 1.0",
        ),
        (
            {
                "alertTemplates": [
                    {
                        "name": "t",
                        "expr": "up > ${n}",
                        "params": [{"name": "n", "type": "number", "max": 1, "default": 3}],
                    }
                ]
            },
            "alertTemplates.0.params.0: Value error, param n: default 3.0 is outside [None, 1.0]",
        ),
        (
            {"alertTemplates": [{"name": "t", "expr": "up", "labels": {"customer_id": "x"}}]},
            "alertTemplates.0: Value error, template t: labels.customer_id: not a label a "
            "template may set",
        ),
        (
            {"alertTemplates": [{"name": "t", "expr": "up"}, {"name": "t", "expr": "up"}]},
            "top level: Value error, alertTemplates: names must be unique (t repeated)",
        ),
        (
            {"thresholds": [{"metric": "up"}]},
            "thresholds.0: Value error, thresholds up: give min, max or both",
        ),
    ],
)
def test_catalogue_mistakes_stop_the_platform_config(
    tmp_path: Any, catalogue: dict[str, Any], message: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(catalogue))
    with pytest.raises(UsageError) as exc:
        load_platform_config(str(path))
    assert str(exc.value).startswith(f"{path}: {message}")


# -- no parameter changes the expression beyond its literal ----------------------------------


def _shape(expr: str) -> str:
    """The expression's tree with every string literal and label value blanked."""
    tree = promql.parse(expr)
    return promql._on_enough_stack(lambda _e: _blank(tree), expr)


def _blank(tree: Any) -> str:
    parts = []
    for node in promql._walk(tree):
        if isinstance(node, pp.VectorSelector):
            parts.append(f"sel:{node.name}:{sorted(m.name for m in node.matchers.matchers)}")
        else:
            parts.append(type(node).__name__)
    return "|".join(parts)


TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=TEXT)
def test_no_string_param_changes_the_tree(value: str) -> None:
    spec = obj(templated("absent-target", job=value)).spec
    assert isinstance(spec, type(spec))
    instance, problems = instantiate(spec, CATALOGUE)  # type: ignore[arg-type]
    assert problems == [] and instance is not None
    assert _shape(instance.expr) == _shape('absent(up{job="x"})')
    tree = promql.parse(instance.expr)
    (sel,) = [n for n in promql._walk(tree) if isinstance(n, pp.VectorSelector)]
    assert [(m.name, m.value) for m in sel.matchers.matchers] == [("job", value)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=TEXT)
def test_a_selector_param_is_matchers_or_refused(value: str) -> None:
    spec = obj(templated("certificate-expiry", selector=value)).spec
    instance, problems = instantiate(spec, CATALOGUE)  # type: ignore[arg-type]
    parsed = parse_selector(value)
    if isinstance(parsed, str):
        assert instance is None and [p.path for p in problems] == ["spec.template.params.selector"]
        return
    assert instance is not None
    tree = promql.parse(instance.expr)
    (sel,) = [n for n in promql._walk(tree) if isinstance(n, pp.VectorSelector)]
    assert sel.name == "probe_ssl_earliest_cert_expiry"
    assert sorted((m.name, m.value) for m in sel.matchers.matchers) == sorted(
        (n, v) for n, _, v in parsed
    )
