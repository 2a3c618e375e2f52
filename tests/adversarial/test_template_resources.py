"""Templates that starve the shared Prometheus or Alertmanager (issue 10, templates × DoS).

Prometheus expands a firing alert's labels and annotations on every rule evaluation, and
Alertmanager (and alertplane's own validation, through amtool) a receiver's templates on
every notification. A few bytes of template can make either build gigabytes or run for
ever, for every customer sharing them: printf widths, reReplaceAll or printf chains that
multiply a string, variables doubled per step or per range element, nested ranges, a
query per range element, a named template that calls itself twice.

- Prometheus itself (`promtool test rules`, bounded by prlimit) shows each amplifier grows
  as claimed: 10 MB from one 30-byte printf, 2^n bytes from n doublings or n recursions.
- template_limits.py refuses each shape with the field and the reason; real shapes
  (Alertmanager's default.tmpl, the upstream shapes of the other template tests) pass.
- Its bound is sound: for generated templates it accepts, Go's own text/template (the
  oracle in gotemplate/execsize) never writes more than the bound.
- Every door: `alertplane validate` (exit 1, the exact lines) and the REST API (422).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.model import CustomerAlert, CustomerReceiver
from alertplane.render.rules import render_rules
from alertplane.validate.fields import check_alert, check_receiver
from alertplane.validate.gotemplate import TemplateSyntaxError
from alertplane.validate.template_limits import (
    MAX_COPIES,
    MAX_OUTPUT,
    Refused,
    Size,
    template_cost,
)
from tests.support.api_env import ACME, ApiEnv, alert_spec, api_env, receiver_spec
from tests.support.factories import DROP, alert, receiver
from tests.support.problems import unplaced

HERE = Path(__file__).parent
WIDE = '{{ printf "%09999999d" 1 }}'  # Go's fmt caps a width at 7 digits: 10 MB
DOUBLE = '{{ $a := "xxxxxxxxxxxxxxxx" }}' + '{{ $a = printf "%s%s" $a $a }}' * 10 + "{{ len $a }}"
TIMES_TEN = '{{ "x" ' + '| reReplaceAll "x" "xxxxxxxxxx" ' * 4 + "| len }}"
RECURSE = (
    '{{ define "r" }}{{ if . }}{{ template "r" (slice . 1) }}{{ template "r" (slice . 1) }}'
    '{{ else }}x{{ end }}{{ end }}{{ template "r" "xxxxxxxxxx" }}'
)
# What the same shapes do with one more step: these are what a hostile customer sends.
WIDE_MANY = WIDE * 20  # 200 MB per evaluation (measured: 19 s, 1.46 GB RSS on promtool)
DOUBLE_MANY = DOUBLE.replace("* 10", "").replace(
    '{{ $a = printf "%s%s" $a $a }}' * 10, '{{ $a = printf "%s%s" $a $a }}' * 30
)
TIMES_TEN_MANY = TIMES_TEN.replace("* 4", "").replace(
    '| reReplaceAll "x" "xxxxxxxxxx" ' * 4, '| reReplaceAll "x" "xxxxxxxxxx" ' * 7
)  # 100 MB (measured: 17.9 s, 554 MB RSS on promtool)
RECURSE_MANY = RECURSE.replace('"xxxxxxxxxx"', '"' + "x" * 60 + '"')  # 2^60 calls: for ever


# ---------------------------------------------------------------- the engine, measured


def test_prometheus_builds_what_each_amplifier_claims(tmp_path: Path) -> None:
    """promtool test rules, capped at 2 GB of address space: the sizes each shape writes."""
    obj = CustomerAlert.model_validate(
        alert(
            expr='up{customer_id="acme"} == 0',
            labels={"r": RECURSE},
            annotations={"summary": DROP, "wide": WIDE, "double": DOUBLE, "ten": TIMES_TEN},
        )
    )
    (tmp_path / "rules.yml").write_text(render_rules("acme", [obj.spec]) or "")
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": 'up{customer_id="acme"}', "values": "0x3"}],
                "alert_rule_test": [{"eval_time": "2m", "alertname": "HighErrorRate"}],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    out = subprocess.run(
        ["prlimit", "--as=2000000000", "promtool", "test", "rules", "test.yml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    got = out.stdout + out.stderr
    assert 'double="16384"' in got and 'ten="10000"' in got, got[-2000:]  # 16·2^10, 10^4
    assert 'r="' + "x" * 1024 + '"' in got  # 2^10 calls of a 130-byte template
    assert "0" * 9_999_000 in got  # one 30-byte printf: 10 MB


def test_the_shapes_are_refused_with_the_field() -> None:
    spec = alert(
        labels={"r": RECURSE_MANY},
        annotations={"wide": WIDE, "double": DOUBLE_MANY, "ten": TIMES_TEN_MANY},
    )
    problems = [p.text() for p in check_alert(CustomerAlert.model_validate(spec))]
    assert problems == [
        "spec.labels.r: templates may not define named templates ({{ define }}/{{ block }}); "
        'inline the text, or use {{ template "name" . }} to call an existing one',
        "spec.annotations.double: the template builds up to 402,700 bytes of its own on every "
        f"evaluation (at most {MAX_OUTPUT:,}); {HINT_OUTPUT}",
        "spec.annotations.ten: the template builds up to 644,203 bytes of its own on every "
        f"evaluation (at most {MAX_OUTPUT:,}); {HINT_OUTPUT}",
        "spec.annotations.wide: printf '%09999999d' has a width or precision above 200; "
        "use a width and precision up to 200",
    ]


HINT_OUTPUT = (
    "remove large printf widths, chains that multiply a string (repeated reReplaceAll, "
    "printf, js, html) and long repeated text"
)
SCOPED = 'query "up{customer_id=\\"acme\\"}"'
# (template, the start of the refusal) — every shape whose cost no bound holds.
REFUSED = [
    (WIDE_MANY, "printf '%09999999d' has a width"),
    ('{{ printf "%.999f" $value }}', "printf '%.999f' has a width or precision above 200"),
    ('{{ printf "%*d" 9999999 1 }}', "printf '%*d' takes its width"),
    ('{{ printf "%.*f" 9999999 1.0 }}', "printf '%.*f' takes its width"),
    ('{{ printf "\\x2509999999d" 1 }}', "printf '%09999999d' has a width"),  # escaped %
    ("{{ printf $labels.fmt 1 }}", "printf's format is not a literal string"),
    ('{{ printf (print "%0" "9999999d") 1 }}', "printf's format is not a literal string"),
    ('{{ reReplaceAll "" $labels.a $labels.b }}', "reReplaceAll's replacement is not a"),
    (DOUBLE_MANY, "the template builds up to"),
    ('{{ $a := "x" }}{{ range .Alerts }}{{ $a = print $a $a }}{{ end }}', "$a is reassigned"),
    (f"{{{{ range {SCOPED} }}}}{{{{ {SCOPED} }}}}{{{{ end }}}}", "query runs inside a range"),
    ("{{ range .Alerts }}{{ range $.Alerts }}x{{ end }}{{ end }}", "range inside a range over a"),
    (
        f"{{{{ $r := {SCOPED} }}}}{{{{ range $r }}}}{{{{ range $r }}}}x{{{{ end }}}}{{{{ end }}}}",
        "range inside a range over a whole collection: each multiplies the output",
    ),
    ("{{ range .Alerts }}{{ with $.Alerts }}{{ range . }}x{{ end }}{{ end }}{{ end }}", "range "),
    ('{{ range .Alerts }}{{ template "slack.default.text" . }}{{ end }}', "a {{ template }} call"),
    ("{{ $labels.a }}" * (MAX_COPIES + 1), f"the template writes {MAX_COPIES + 1:,} copies"),
    ('{{ $labels.a | reReplaceAll "" "' + "x" * 2000 + '" }}', "the template builds 2,001"),
    ("{{" + "(" * 60 + "1" + ")" * 60 + "}}", "the template cannot be checked: parentheses"),
]


@pytest.mark.parametrize(("text", "start"), REFUSED)
def test_each_unbounded_shape_is_refused(text: str, start: str) -> None:
    problems = check_alert(CustomerAlert.model_validate(alert(annotations={"description": text})))
    assert [p.path for p in problems] == ["spec.annotations.description"], problems
    assert problems[0].message.startswith(start), problems[0].message
    spec = receiver(slack=[{"apiURL": "https://hooks.slack.com/services/x", "textTemplate": text}])
    problems = check_receiver(CustomerReceiver.model_validate(spec))
    if "query" not in text:  # receiver templates: the same bound (query is Prometheus')
        assert [p.path for p in problems] == ["spec.slack[0].textTemplate"], problems
        assert problems[0].message.startswith(start)


# Real shapes: the Prometheus docs, kube-prometheus and ceph mixins, Alertmanager's examples.
REAL = [
    "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes.",
    '{{ printf "%.2f" $value }}% of the {{ $labels.job }}/{{ $labels.service }} targets are down',
    "{{ $value | humanizePercentage }} of {{ $labels.device }} on {{ $labels.instance }} used",
    '{{ reReplaceAll "(.*):.*" "$1" $labels.instance }} {{ $value | humanizeDuration }}',
    '{{ with query "up{customer_id=\\"acme\\"}" }}{{ . | first | value | humanize }}{{ end }}',
    '{{ range query "ceph_mon_metadata{customer_id=\\"acme\\"}" }}'
    "  - {{ .Labels.hostname }}\n{{ end }}",
    "{{ range .Alerts }}{{ .Labels.alertname }} on {{ .Labels.service }}: "
    "{{ .Annotations.summary }}\n{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} "
    "{{ end }}{{ end }}",
    '{{ template "slack.default.text" . }}',
    '{{ .CommonLabels.alertname | toUpper }} {{ join ", " .GroupLabels.Values }}',
    '{{ if gt (len .Alerts.Firing) 0 }}{{ printf "%-20s|%5d" .Status 1 }}{{ end }}',
]


@pytest.mark.parametrize("text", REAL)
def test_real_templates_stay_far_below_the_bounds(text: str) -> None:
    cost = template_cost(text, html=True)
    assert cost.k * 10 <= MAX_COPIES and cost.c * 10 <= MAX_OUTPUT, cost


def test_alertmanagers_own_default_templates_stay_far_below_the_bounds() -> None:
    default = Path("/usr/share/prometheus/alertmanager/default.tmpl")  # the Debian package
    assert default.is_file(), "prometheus-alertmanager's default.tmpl is not installed"
    cost = template_cost(default.read_text(), html=True)  # every define, as one template
    assert cost.k * 2 <= MAX_COPIES and cost.c * 10 <= MAX_OUTPUT, cost


# ---------------------------------------------------------------- the bound is sound

ATOMS = ("$labels.instance", ".Labels.job", '"abc"', "$value", "1", '"%"')
UNARY = ("toUpper", "title", "html", "js", "urlquery", "safeHtml", "print")
BINARY = (
    'printf "%s%s"',
    'printf "%[1]s%[1]s%[2]q"',
    'printf "%8.3x|%-5v"',
    "print",
    "and",
    "or",
)


@st.composite
def expr(draw: st.DrawFn, depth: int = 0, names: tuple[str, ...] = ()) -> str:
    pool = ATOMS + names
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(pool))
    kind = draw(st.sampled_from(["unary", "binary", "replace", "pipe", "join"]))
    inner = draw(expr(depth + 1, names))
    if kind == "unary":
        return f"({draw(st.sampled_from(UNARY))} {inner})"
    if kind == "binary":
        return f"({draw(st.sampled_from(BINARY))} {inner} {draw(expr(depth + 1, names))})"
    if kind == "replace":
        pattern = draw(st.sampled_from(['""', '"x"', '"(x+)"', '"."']))
        repl = draw(st.sampled_from(['""', '"yy"', '"$1$1"', '"${0}-$0"', '"abcdefgh"']))
        return f"(reReplaceAll {pattern} {repl} {inner})"
    if kind == "join":
        return f'(join "{draw(st.sampled_from(["", ", ", "--"]))}" (stringSlice {inner} {inner}))'
    return f"({inner} | {draw(st.sampled_from(UNARY))})"


@st.composite
def body(draw: st.DrawFn, depth: int = 0, names: tuple[str, ...] = ()) -> str:
    out: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["emit", "emit", "text", "decl", "assign", "range", "with"]))
        if kind == "text":
            out.append(draw(st.sampled_from(["x", " - ", "\n"])))
        elif kind == "decl":
            name = f"$v{len(names)}"
            out.append(f"{{{{ {name} := {draw(expr(0, names))} }}}}")
            names = (*names, name)
        elif kind == "assign" and names:
            out.append(f"{{{{ {draw(st.sampled_from(names))} = {draw(expr(0, names))} }}}}")
        elif kind == "range" and depth < 3:
            over = draw(st.sampled_from([".Alerts", ".Labels", "$.Alerts"]))
            out.append(f"{{{{ range {over} }}}}{draw(body(depth + 1, names))}{{{{ end }}}}")
        elif kind == "with" and depth < 3:
            inner = draw(body(depth + 1, (*names, "$w")))
            out.append(f"{{{{ with $w := {draw(expr(0, names))} }}}}{inner}{{{{ end }}}}")
        else:
            out.append(f"{{{{ {draw(expr(0, names))} }}}}")
    return "".join(out)


@pytest.fixture(scope="module")
def execsize(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:  # no silent skips: the oracle is Go's own text/template
        pytest.fail("go not found: the oracle needs Go's text/template", pytrace=False)
    binary = tmp_path_factory.mktemp("execsize") / "execsize"
    source = HERE / "gotemplate" / "execsize" / "main.go"
    subprocess.run([go, "build", "-o", str(binary), str(source)], check=True, timeout=600)
    return binary


def _sizes(binary: Path, label_size: int, texts: list[str]) -> list[int]:
    out = subprocess.run(
        ["prlimit", "--as=4000000000", str(binary)],
        input=json.dumps({"labelSize": label_size, "texts": texts}),
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    return list(json.loads(out.stdout))


def test_go_never_writes_more_than_the_bound(execsize: Path) -> None:
    texts: list[str] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body())
    def collect(text: str) -> None:
        texts.append(text)

    collect()
    texts += [text for text, _ in REFUSED if "query" not in text] + [WIDE, DOUBLE, TIMES_TEN]
    accepted: list[tuple[str, Size]] = []
    for text in texts:
        try:
            accepted.append((text, template_cost(text)))
        except (Refused, TemplateSyntaxError):
            continue  # refused: never run (some would take gigabytes)
    assert len(accepted) > len(texts) // 2  # the generator makes templates the bound accepts
    elements = 2 * 3  # the oracle's .Alerts has 2 elements, each .Labels 3
    checked = 0
    for label_size in (3, 40):
        sizes = _sizes(execsize, label_size, [text for text, _ in accepted])
        for (text, cost), size in zip(accepted, sizes, strict=True):
            if size < -1:  # Go refuses to parse or run it
                continue
            assert size != -1, text  # accepted, yet Go wrote more than 64 MB
            assert size <= (cost.k * label_size + cost.c) * elements, (text, size, cost)
            checked += 1
    assert checked > len(accepted)  # most run, at both sizes


# ---------------------------------------------------------------- the doors


def _hostile() -> list[dict[str, Any]]:
    return [
        alert(
            name="Starve",
            labels={"r": RECURSE_MANY},
            annotations={"summary": WIDE_MANY},
        ),
        receiver(
            name="flood",
            slack=[{"apiURL": "https://hooks.slack.com/services/x", "textTemplate": DOUBLE_MANY}],
        ),
    ]


HOSTILE_LINES = [
    "CustomerAlert acme/acme-starve: spec.labels.r: templates may not define named templates "
    '({{ define }}/{{ block }}); inline the text, or use {{ template "name" . }} to call an '
    "existing one",
    "CustomerAlert acme/acme-starve: spec.annotations.summary: printf '%09999999d' has a width "
    "or precision above 200; use a width and precision up to 200",
    "CustomerReceiver acme/acme-flood: spec.slack[0].textTemplate: the template builds up to "
    f"402,700 bytes of its own on every evaluation (at most {MAX_OUTPUT:,}); {HINT_OUTPUT}",
]


def test_cli_validate_refuses_with_the_field(tmp_path: Path) -> None:
    path = tmp_path / "starve.yaml"
    path.write_text(yaml.safe_dump_all(_hostile()))
    out = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "validate", "-f", str(path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert unplaced(out.stdout).splitlines() == HOSTILE_LINES


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiEnv]:
    with api_env(f"sqlite:///{tmp_path / 'api.db'}", tmp_path) as env:
        yield env


def test_rest_api_answers_422_and_stores_nothing(api: ApiEnv) -> None:
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj["spec"].items() if k != "customerId"}

    starve, flood = _hostile()
    r = api.client.post("/customers/acme/alerts", json=strip(starve), headers=ACME)
    assert r.status_code == 422, r.text
    assert [p["text"] for p in r.json()["problems"]] == HOSTILE_LINES[:2]
    r = api.client.post("/customers/acme/receivers", json=strip(flood), headers=ACME)
    assert r.status_code == 422, r.text
    assert [p["text"] for p in r.json()["problems"]] == HOSTILE_LINES[2:]
    assert api.store.get() == []
    ok = alert_spec("Fine", annotations={"description": REAL[1]})
    assert api.client.post("/customers/acme/alerts", json=ok, headers=ACME).status_code == 201
    hook = receiver_spec("fine", slack=[{"apiURL": "https://hooks.slack.com/services/x"}])
    hook["slack"][0]["textTemplate"] = REAL[6]
    r = api.client.post("/customers/acme/receivers", json=hook, headers=ACME)
    assert r.status_code == 201, r.text


PIECES = [
    "{{", "}}", "{{- ", " -}}", "printf", '"%', "9999999", "*", ".", "d", '" ', "$a", " := ",
    " = ", "range", "end", "else", "if", "with", "(", ")", "|", "reReplaceAll", '"x"', "`y`",
    "query", "template", "define", " ", "\n", "٣", "\x00", "$", "join", "'c'", "1e9",
]  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_any_text_gets_an_answer_never_an_exception(text: str) -> None:
    spec = alert(annotations={"description": text}, labels={"x": text})
    for problem in check_alert(CustomerAlert.model_validate(spec)):
        assert problem.path.startswith("spec") and problem.message


def test_an_objects_templates_share_one_budget() -> None:
    wide = '{{ printf "%200d" 1 }}' * 250  # 5.5 KB of template, 205 KB written: allowed
    assert template_cost(wide).c < MAX_OUTPUT
    spec = alert(annotations={f"a{i}": wide for i in range(6)})
    problems = [p.text() for p in check_alert(CustomerAlert.model_validate(spec))]
    assert problems == [
        "spec: the templates of this object together write up to 1,401,091 bytes of their "
        "own and 3 copies of the data they read on every evaluation (at most 1,048,576 and "
        "4,096); shorten the templates, or split the object"
    ]
    assert check_alert(CustomerAlert.model_validate(alert(annotations={"a": wide}))) == []


# A valid e-mail address (and Slack channel) that Alertmanager expands as a template: each
# `|js` doubles the backslashes, no spaces needed. 254 characters hold 80 stages: 2^80 bytes.
JS = '{{"\\\\"' + "|js" * 16 + "|len}}@example.com"


def test_recipients_and_channels_are_templates_too(tmp_path: Path) -> None:
    (tmp_path / "empty.tmpl").write_text("")
    out = subprocess.run(
        ["prlimit", "--as=2000000000", "amtool", "template", "render",
         f"--template.glob={tmp_path / 'empty.tmpl'}", f"--template.text={JS}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.stdout.strip() == "65536@example.com", out  # 2^16 from 16 stages
    many = JS.replace("|js" * 16, "|js" * 40)
    spec = receiver(
        email=[{"to": ["ops@example.com", many]}],
        slack=[{"apiURL": "https://hooks.slack.com/services/x", "channel": many}],
        pagerduty=[{"routingKey": many}],
    )
    problems = check_receiver(CustomerReceiver.model_validate(spec))
    assert [p.path for p in problems] == [
        "spec.email[0].to[1]",
        "spec.slack[0].channel",
        "spec.pagerduty[0].routingKey",
    ]
    assert all(p.message.startswith("the template builds up to") for p in problems)


@pytest.fixture(scope="module")
def go_parser(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        pytest.fail("go not found: the oracle needs Go's text/template/parse", pytrace=False)
    binary = tmp_path_factory.mktemp("gotemplate") / "gotemplate"
    source = HERE / "gotemplate" / "main.go"
    subprocess.run([go, "build", "-o", str(binary), str(source)], check=True, timeout=600)
    return binary


TOKENS = [
    "{{", "}}", "{{- ", " -}}", "printf", '"%d"', "1", "0x1p3", "1_000", "'a'", "'\\''", ".",
    ".A", "$a", " := ", " = ", "range", "end", "else", "if", "with", "(", ")", "|", '"x"',
    "`y`", "template", " ", "\n", "\t", "\r", "$", "1e9", "+1", "-.5", "1i", "2+3i", "break",
    "nil", "true", ",", "$i", "/*", "*/", "}", "{", "\\", "-", "0o7", ".5", "5.", "٣", "é",
]  # fmt: skip


def test_what_go_parses_the_bound_reads(go_parser: Path) -> None:
    """A template the bound could not read would skip it (the tools only parse): so every
    text Go's parser accepts, gotemplate.py reads too."""
    texts: list[str] = []

    @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8).map("".join))
    def collect(text: str) -> None:
        texts.append("{{" + text + "}}")

    collect()
    out = subprocess.run(
        [str(go_parser)], input=json.dumps(texts), capture_output=True, text=True, check=True,
        timeout=120,
    )  # fmt: skip
    parsed = [t for t, r in zip(texts, json.loads(out.stdout), strict=True) if not r.get("error")]
    assert len(parsed) > 100
    for text in parsed:
        try:
            template_cost(text)
        except Refused:
            pass
        except TemplateSyntaxError as exc:
            raise AssertionError(f"Go parses {text!r}, the bound cannot: {exc}") from exc
