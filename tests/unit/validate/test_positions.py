"""Every problem of a manifest file names where its field is — `file:line:column`, as
compilers print it — in the line `alertplane validate` prints (validate/positions.py): the
key of a mapping entry, the item of a list entry, the deepest part present of a missing
field, and for a PromQL problem the offending token itself where the YAML spelling keeps
the expression's shape (a literal block, one plain or quoted line)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from alertplane.cli import main
from alertplane.core import evaluate
from alertplane.manifests import load_text
from alertplane.validate.positions import position

MANIFESTS = """\
apiVersion: alertplane.io/v1alpha1
kind: CustomerAlert
metadata:
  name: acme-block
  namespace: acme
spec:
  customerId: acme
  alertName: Block
  category: application
  severity: critical
  expr: |
    sum(rate(errors_total{customer_id="acme"}[5m]))
      > on(job 1
---
apiVersion: alertplane.io/v1alpha1
kind: CustomerAlert
metadata:
  name: acme-plain
  namespace: acme
spec:
  customerId: acme
  alertName: Plain
  category: application
  severity: bogus
  expr: up{customer_id="acme"} > on(
  labels:
    app.kubernetes.io/name: x
    customer_id: globex
---
apiVersion: alertplane.io/v1alpha1
kind: CustomerReceiver
metadata:
  name: acme-hook
  namespace: acme
spec:
  customerId: acme
  receiverName: hook
  webhook:
    - url: https://hooks.example.com/ok
    - url: ftp://hooks.example.com/x
---
apiVersion: alertplane.io/v1alpha1
kind: CustomerAlert
metadata:
  name: acme-missing
  namespace: acme
spec:
  customerId: acme
  alertName: Missing
  category: application
  severity: info
---
apiVersion: alertplane.io/v1alpha1
kind: CustomerAlert
metadata:
  name: acme-folded
  namespace: acme
spec:
  customerId: acme
  alertName: Folded
  category: application
  severity: info
  expr: >
    up{customer_id="acme"}
    > on(
"""
PROMQL = "fix the expression; it must be valid Prometheus PromQL"


def test_validate_prints_where_each_field_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "team.yaml"
    f.write_text(MANIFESTS)
    assert main(["validate", "--no-tools", "-f", str(f)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        # the token: line 2, column 7 of the block is file line 13, column 4 + 7
        f"{f}:13:11: CustomerAlert acme/acme-block: spec.expr: invalid PromQL at 2:7: "
        f"unclosed left parenthesis; {PROMQL}",
        f"{f}:24:3: CustomerAlert acme/acme-plain: spec.severity: 'bogus' is not allowed; use "
        "one of 'critical', 'warning' or 'info'",
        f"{f}:40:7: CustomerReceiver acme/acme-hook: spec.webhook[1].url: "
        "'ftp://hooks.example.com/x' is not an http(s) URL; give an absolute URL such as "
        "https://hooks.example.com/alerts",
        # absent: the deepest part present, the `spec:` key
        f"{f}:47:1: CustomerAlert acme/acme-missing: spec: one of expr or template is "
        "required; write the PromQL in expr, or name a template of the platform's catalogue",
        # folded: the expression's lines are joined, so the field's key
        f"{f}:63:3: CustomerAlert acme/acme-folded: spec.expr: invalid PromQL at 1:28: "
        f"unclosed left parenthesis; {PROMQL}",
    ]


def test_checks_after_the_schema_are_placed_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = MANIFESTS.split("---\n")[1].replace("severity: bogus", "severity: info")
    f = tmp_path / "plain.yaml"
    f.write_text(plain)
    assert main(["validate", "--no-tools", "-f", str(f)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        # one plain line: the value starts at column 9, the token is its 28th character
        f"{f}:11:36: CustomerAlert acme/acme-plain: spec.expr: invalid PromQL at 1:28: "
        f"unclosed left parenthesis; {PROMQL}",
        # a key holding dots is one key
        f"{f}:13:5: CustomerAlert acme/acme-plain: spec.labels.app.kubernetes.io/name: "
        "'app.kubernetes.io/name' is not a valid label name; use letters, digits and '_', "
        "not starting with a digit or '__'",
        f"{f}:14:5: CustomerAlert acme/acme-plain: spec.labels.customer_id: label "
        "'customer_id' is set by alertplane; remove it; set spec.customerId",
    ]


def test_a_quoted_expression_places_the_token_after_the_quote() -> None:
    doc = MANIFESTS.split("---\n")[1].replace("severity: bogus", "severity: info")
    doc = doc.replace(
        'expr: up{customer_id="acme"} > on(', "expr: 'up{customer_id=\"acme\"} > on('"
    )
    doc = doc.split("  labels:")[0]
    outcome = evaluate(load_text(doc, "q.yaml").documents, tools=False)
    assert [p.located() for p in outcome.problems] == [
        # the quote at column 9, the token is the value's 28th character
        "q.yaml:11:37: CustomerAlert acme/acme-plain: spec.expr: invalid PromQL at 1:28: "
        f"unclosed left parenthesis; {PROMQL}"
    ]


def test_items_of_one_list_have_no_position() -> None:
    """Two items of one `kind: List` share their source: no problem can say which item it
    is about, so none names a position (a plain YAML document does)."""
    doc = yaml.safe_load(MANIFESTS.split("---\n")[1])
    plain = evaluate(load_text(yaml.safe_dump(doc), "body").documents, tools=False).problems
    assert plain and all(p.where.startswith("body:") for p in plain)
    twice = {"kind": "List", "items": [doc, copy.deepcopy(doc)]}
    listed = load_text(yaml.safe_dump(twice), "list.yaml")
    problems = evaluate(listed.documents, tools=False).problems
    assert problems and all(p.where == "" and p.located() == str(p) for p in problems)


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("spec", (2, 1)),
        ("spec.labels", (4, 3)),
        ("spec.labels.a.b", (5, 5)),  # the longer key wins: `a.b`, not `a` then `b`
        ("spec.labels.a", (6, 5)),
        ("spec.list[1]", (9, 7)),
        ("spec.list[1].x", (9, 7)),  # no such key under the item: the item
        ("spec.list[7]", (7, 3)),  # no such item: the list's key
        ("nothing.here", None),
        ("", None),
    ],
)
def test_position_follows_the_path(path: str, where: tuple[int, int] | None) -> None:
    text = "kind: X\nspec:\n  n: 1\n  labels:\n    a.b: 1\n    a: {b: 2}\n  list:\n  - 1\n  -   2\n"
    root = yaml.compose(text)
    assert root is not None
    assert position(root, path) == where
