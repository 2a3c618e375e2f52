"""The authoring parts of a CustomerAlert: a template from the platform's catalogue
instead of `expr` (`spec.template`), and rule tests run with promtool (`spec.tests`).

Both are bounded here, in the schema, so that no single object can make admission slow:
how many tests, series and samples, how far a test evaluates and how finely
(docs/authoring.md, "Limits"). The sample count of a series' `values` notation
(`0+1x100`) is checked where it is parsed (validate/ruletests.py), since a count in the
notation is not a length the schema can see.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from .common import (
    MAX_ENTRIES,
    AnnotationText,
    Duration,
    LabelValue,
    Strict,
    fail,
    shown,
)

MAX_PARAMS = 32
MAX_PARAM_TEXT = 1024
MAX_TESTS = 8
MAX_SERIES = 32  # input series per test
MAX_SAMPLES = 10_000  # samples of all input series of one alert's tests
MAX_ALERT_TESTS = 16  # eval times per test
MAX_EXP_ALERTS = 16
# promtool evaluates the rule every minute up to each test's latest evalTime: the tests of
# one alert evaluate at most a day in all (1,440 evaluations; about a second of promtool
# at the other bounds, measured in docs/authoring.md).
MAX_EVAL_MS = 86_400_000
MIN_INTERVAL_MS = 1_000
MAX_SERIES_TEXT = 2048
MAX_VALUES_TEXT = 4096

TEMPLATE_NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
PARAM_NAME_RE = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_PARAM_NAME = re.compile(PARAM_NAME_RE)
_TEMPLATE_NAME = re.compile(TEMPLATE_NAME_RE)
_NAME_HINT = "use the template's parameter names: letters, digits and '_'"

ParamValue = str


class TemplateRef(Strict):
    """Which catalogue template the alert instantiates, and with what."""

    name: str = Field(
        pattern=TEMPLATE_NAME_RE,
        max_length=63,
        description="A template of the platform's catalogue (alertTemplates).",
    )
    params: dict[str, Annotated[str, Field(max_length=MAX_PARAM_TEXT)]] = Field(
        default_factory=dict,
        max_length=MAX_PARAMS,
        description="Parameter name → value, as text: a number ('0.05'), a duration, a "
        "string or label matchers, as the template declares (YAML numbers are taken as text).",
    )

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str) and not _TEMPLATE_NAME.fullmatch(value):
            raise fail(
                f"{shown(value)} is not a template name",
                "name a template of the platform's catalogue (lower-case letters, digits, '-')",
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _numbers_as_text(cls, data: Any) -> Any:
        # Kubernetes' structural schemas have no "number or string" type: params are text,
        # and YAML's numbers (`threshold: 0.05`) are kept as the text they were written as.
        params = data.get("params") if isinstance(data, dict) else None
        if not isinstance(params, dict):
            return data
        out = {}
        for key, value in params.items():
            if isinstance(key, str) and not _PARAM_NAME.fullmatch(key):
                raise fail(f"params: {shown(key)} is not a parameter name", _NAME_HINT)
            if isinstance(value, int | float) and not isinstance(value, bool):
                if isinstance(value, float) and not math.isfinite(value):
                    raise fail(f"params.{key}: {value} is not a finite number")
                value = str(value)
            out[key] = value
        return {**data, "params": out}


SeriesText = Annotated[str, Field(min_length=1, max_length=MAX_SERIES_TEXT)]


class InputSeries(Strict):
    series: SeriesText = Field(
        description='A series in promtool notation, e.g. http_requests_total{job="api"}; '
        "customer_id is added when missing and must be the alert's customer."
    )
    values: str = Field(
        min_length=1,
        max_length=MAX_VALUES_TEXT,
        description="promtool's expanding notation, e.g. '0+10x30' or '1 1 _ stale'.",
    )


class ExpectedAlert(Strict):
    exp_labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="Labels of the firing alert beside the rule's own (customer_id, "
        "severity, category, urgency and spec.labels are added).",
    )
    exp_annotations: dict[str, AnnotationText] = Field(
        default_factory=dict, max_length=MAX_ENTRIES, description="Expanded annotations."
    )


class AlertRuleTest(Strict):
    eval_time: Duration = Field(description="When, from the test's start, to look.")
    exp_alerts: list[ExpectedAlert] = Field(
        default_factory=list,
        max_length=MAX_EXP_ALERTS,
        description="The alerts of this CustomerAlert firing then (empty: none fires).",
    )


class RuleTest(Strict):
    """One promtool unit test of this alert (promtool's test file shape, camelCase)."""

    interval: Duration = Field("1m", description="Time between the samples of values.")
    input_series: list[InputSeries] = Field(
        min_length=1, max_length=MAX_SERIES, description="The series the test starts with."
    )
    alert_rule_tests: list[AlertRuleTest] = Field(
        min_length=1, max_length=MAX_ALERT_TESTS, description="What fires, and when."
    )


__all__ = [
    "MAX_EVAL_MS",
    "MAX_SAMPLES",
    "MAX_TESTS",
    "MIN_INTERVAL_MS",
    "AlertRuleTest",
    "ExpectedAlert",
    "InputSeries",
    "ParamValue",
    "RuleTest",
    "TemplateRef",
]
