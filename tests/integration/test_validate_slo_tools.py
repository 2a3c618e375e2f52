"""CustomerSLO through `validate` with the real promtool: what only Prometheus finds (a
template it cannot parse) is on the SLO's own field, once; an SLO other checks refuse is
checked alone without promtool failing on it; every door words it the same (`lines` is
what `alertplane validate` prints)."""

from __future__ import annotations

import yaml

from tests.support.paths import EXAMPLES
from tests.support.problems import lines
from tests.support.slo import slo

S = "CustomerSLO acme/acme-checkout: "
HINT = "fix the Go template syntax ({{ $labels.name }}, {{ $value }})"


def test_a_valid_slo_passes_promtool() -> None:
    assert lines(slo(), slo("globex"), tools=True) == []


def test_template_errors_on_the_slos_fields_once() -> None:
    assert lines(slo(description="{{ broken"), tools=True) == [
        f'{S}spec.description: invalid template: at 1: function "broken" not defined; {HINT}'
    ]
    alerting = {
        "pageAlertName": "P",
        "ticketAlertName": "T",
        "annotations": {"summary": "{{ .Labels.x }"},
    }
    (line,) = lines(slo(alerting=alerting), tools=True)
    assert line.startswith(f"{S}spec.alerting.annotations.summary: invalid template: "), line


def test_a_refused_slo_is_checked_alone_without_a_tool_failure() -> None:
    # A period that is one of the windows would record one series twice: refused, and
    # its rendering checked alone still satisfies promtool's lint.
    assert lines(slo(period="1d"), tools=True) == [
        f"{S}spec.period: period '1d' is outside 7d to 90d; the slowest alert reads 3d and the "
        "period's ratio averages every 5m ratio in it: use 7d to 90d (30d is the SRE workbook's)"
    ]


def test_the_example_is_valid_with_the_tools() -> None:
    docs = [yaml.safe_load(p.read_text()) for p in sorted((EXAMPLES / "slo").glob("*.yaml"))]
    assert [d["kind"] for d in docs] == ["CustomerSLO"]
    assert lines(*docs, tools=True) == []
