"""CustomerSLO → one rule group of recording rules and burn-rate alerts (pure).

The multi-window multi-burn-rate alerts of the Google SRE workbook (chapter 5, "Alerting on
SLOs"), shaped as Sloth renders them: the SLI error ratio is recorded over each window the
alerts read; an alert fires when the error ratio over a long window AND over its short
window (1/12 of it, so the alert resets soon after the burn stops) exceed `factor ×
error budget`. Each factor is the share of the period's budget the long window may consume:
2 % in 1h and 5 % in 6h page, 10 % in 1d and 10 % in 3d make a ticket; for the default 30d
period that is the workbook's 14.4×, 6×, 3× and 1×.

Every rule is the customer's: each recording rule's `labels` set `customer_id` (an
aggregation in the SLI drops it; the rule puts it back), and every rule after the SLI reads
only series selected by `customer_id="<id>"` and `slo="<name>"`. validate/slo.py runs the
isolation check on every expression this module renders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..model.common import duration_ms
from ..model.slo import CustomerSLOSpec

# The windows the alerts read, shortest first; the period's ratio is added after them.
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# Sloth's placeholder, with the spacing Go templates allow, in a range's brackets only.
PLACEHOLDER = re.compile(r"\[\s*\{\{\s*\.window\s*\}\}\s*\]")
SLI_RECORD = "slo:sli_error:ratio_rate"
CURRENT_BURN = "slo:current_burn_rate:ratio"
PERIOD_BURN = "slo:period_burn_rate:ratio"
BUDGET_LEFT = "slo:period_error_budget_remaining:ratio"


@dataclass(frozen=True)
class Burn:
    """One window pair of an alert: fires when both windows burn faster than `factor`."""

    alert: str  # "page" or "ticket"
    long: str
    short: str
    budget_share: Fraction  # of the period's error budget the long window may consume

    def factor(self, period: str) -> Fraction:
        return self.budget_share * duration_ms(period) / duration_ms(self.long)


BURNS = (
    Burn("page", "1h", "5m", Fraction(2, 100)),
    Burn("page", "6h", "30m", Fraction(5, 100)),
    Burn("ticket", "1d", "2h", Fraction(10, 100)),
    Burn("ticket", "3d", "6h", Fraction(10, 100)),
)
SEVERITY = {"page": "critical", "ticket": "warning"}


def group_name(customer_id: str, slo_name: str) -> str:
    return f"{customer_id}-slo-{slo_name}"


def number(value: Fraction | Decimal) -> str:
    """A number as PromQL and people read it: exact when it has a short decimal form
    (14.4, 0.001), else six significant digits (a 7d period's 0.233333)."""
    numerator, denominator = value.as_integer_ratio()
    exact = Decimal(numerator) / Decimal(denominator)
    if exact * 10**12 % 1 != 0:
        return f"{float(value):.6g}"
    text = format(exact.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def error_budget(spec: CustomerSLOSpec) -> Decimal:
    """1 - objective/100, exact for the objective as written (99.9 → 0.001, not 0.00099…)."""
    return (Decimal(100) - Decimal(repr(spec.objective))) / Decimal(100)


def with_window(query: str, window: str) -> str:
    return PLACEHOLDER.sub(f"[{window}]", query)


def sli_expr(spec: CustomerSLOSpec, window: str) -> str:
    """The error ratio over `window`: bad events over all events."""
    events = spec.sli.events
    total = with_window(events.total_query.strip(), window)
    if events.error_query is not None:
        return f"({with_window(events.error_query.strip(), window)})\n/\n({total})"
    return f"1 - (\n  ({with_window(str(events.good_query).strip(), window)})\n  /\n  ({total})\n)"


def selector(spec: CustomerSLOSpec, metric: str) -> str:
    return f'{metric}{{customer_id="{spec.customer_id}", slo="{spec.slo_name}"}}'


def _labels(spec: CustomerSLOSpec, window: str) -> dict[str, str]:
    return {"customer_id": spec.customer_id, "slo": spec.slo_name, "slo_window": window}


def recording_rules(spec: CustomerSLOSpec) -> list[dict[str, Any]]:
    """The SLI per window, the period's SLI (the mean of the 5m ratios, Sloth's cheap form)
    and the burn rates and budget left that dashboards and annotations read."""
    rules = [
        {"record": f"{SLI_RECORD}{w}", "expr": sli_expr(spec, w), "labels": _labels(spec, w)}
        for w in WINDOWS
    ]
    five = f"{selector(spec, SLI_RECORD + '5m')}[{spec.period}]"
    budget = number(error_budget(spec))
    if spec.period not in WINDOWS:  # (a period that is a window is refused, but checked
        # alone by promtool too: one record per name and labels, or promtool's lint fails)
        rules.append(
            {
                "record": f"{SLI_RECORD}{spec.period}",
                "expr": f"sum_over_time({five})\n/\ncount_over_time({five})",
                "labels": _labels(spec, spec.period),
            }
        )
    rules += [
        {
            "record": CURRENT_BURN,
            "expr": f"{selector(spec, SLI_RECORD + '5m')} / {budget}",
            "labels": _labels(spec, "5m"),
        },
        {
            "record": PERIOD_BURN,
            "expr": f"{selector(spec, SLI_RECORD + spec.period)} / {budget}",
            "labels": _labels(spec, spec.period),
        },
        {
            "record": BUDGET_LEFT,
            "expr": f"1 - {selector(spec, PERIOD_BURN)}",
            "labels": _labels(spec, spec.period),
        },
    ]
    return rules


def alert_expr(spec: CustomerSLOSpec, alert: str) -> str:
    """Both window pairs of one alert, each pair's windows joined with `and`."""
    budget = number(error_budget(spec))
    pairs = []
    for burn in (b for b in BURNS if b.alert == alert):
        threshold = f"({number(burn.factor(spec.period))} * {budget})"
        sides = [
            f"  max({selector(spec, SLI_RECORD + w)} > {threshold}) without (slo_window)"
            for w in (burn.short, burn.long)
        ]
        pairs.append("(\n" + "\n  and\n".join(sides) + "\n)")
    return "\nor\n".join(pairs)


def thresholds(spec: CustomerSLOSpec, alert: str) -> str:
    """The alert's burn rates in words: '14.4× over 1h and 5m, or 6× over 6h and 30m'."""
    return ", or ".join(
        f"{number(b.factor(spec.period))}× over {b.long} and {b.short}"
        for b in BURNS
        if b.alert == alert
    )


def _objective(spec: CustomerSLOSpec) -> str:
    return number(Decimal(repr(spec.objective)))


def generated_annotations(spec: CustomerSLOSpec, alert: str) -> dict[str, str]:
    """The error-budget annotations of one alert; a user's annotation of a key wins."""
    objective, period = _objective(spec), spec.period
    speed = "fast" if alert == "page" else "steadily"
    left = selector(spec, BUDGET_LEFT)  # a raw string in the template: no escapes
    out = {
        "summary": f"SLO {spec.slo_name} ({objective}% over {period}) is burning its error "
        f"budget {speed}",
        "objective": f"{objective}%",
        "error_budget": f"{number(error_budget(spec) * 100)}% of events over {period}",
        "burn_rate_thresholds": thresholds(spec, alert),
        "error_budget_remaining": f"{{{{ with query `{left}` }}}}"
        "{{ . | first | value | humanizePercentage }}{{ else }}unknown{{ end }}",
    }
    if spec.description is not None:
        out["description"] = spec.description
    return out


def alert_labels(spec: CustomerSLOSpec, alert: str) -> dict[str, str]:
    out = dict(spec.alerting.labels)
    out.update(
        {
            "customer_id": spec.customer_id,
            "severity": SEVERITY[alert],
            "category": spec.alerting.category.value,
            "slo": spec.slo_name,
            "slo_severity": alert,
        }
    )
    return dict(sorted(out.items()))


def alerting_rules(spec: CustomerSLOSpec) -> list[dict[str, Any]]:
    names = {"page": spec.alerting.page_alert_name, "ticket": spec.alerting.ticket_alert_name}
    rules = []
    for alert in ("page", "ticket"):
        annotations = generated_annotations(spec, alert)
        annotations.update(spec.alerting.annotations.rendered())
        rules.append(
            {
                "alert": names[alert],
                "expr": alert_expr(spec, alert),
                "labels": alert_labels(spec, alert),
                "annotations": dict(sorted(annotations.items())),
            }
        )
    return rules


def slo_group(spec: CustomerSLOSpec) -> dict[str, Any]:
    """One group per SLO: Prometheus evaluates a group's rules in order, so the alerts read
    the ratios recorded in the same evaluation."""
    return {
        "name": group_name(spec.customer_id, spec.slo_name),
        "rules": recording_rules(spec) + alerting_rules(spec),
    }


def slo_groups(customer_id: str, specs: Iterable[CustomerSLOSpec]) -> list[dict[str, Any]]:
    """The groups of a customer's enabled SLOs, by name (input order is noise)."""
    enabled = sorted(
        (s for s in specs if s.enabled and s.customer_id == customer_id),
        key=lambda s: s.slo_name,
    )
    return [slo_group(s) for s in enabled]


def rendered_exprs(spec: CustomerSLOSpec) -> list[tuple[str, str]]:
    """(rule name, expression) of every rule of the SLO, for the isolation check."""
    return [
        (str(rule.get("record") or rule.get("alert")), str(rule["expr"]))
        for rule in slo_group(spec)["rules"]
    ]
