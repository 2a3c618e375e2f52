"""The platform's alert template catalogue and threshold ranges (platform config keys
`alertTemplates` and `thresholds`; docs/authoring.md).

A template is PromQL the platform team writes once, with `${param}` placeholders for typed
parameters a customer fills in (within the template's ranges). Selectors in a template name
no customer: alertplane adds `customer_id="<id>"` to every one of them when it
instantiates the template (the importer's injector, on the parse tree), so one template
serves every customer and none can select another's series.

These are the platform's own settings: they are checked when the platform config is loaded
(placeholders declared, ranges ordered, defaults inside them), not per customer object.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..model.alert import RESERVED_LABELS
from ..model.authoring import PARAM_NAME_RE, TEMPLATE_NAME_RE
from ..model.common import MAX_ENTRIES, duration_ms, is_duration, is_label_name

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
ParamType = Literal["number", "duration", "string", "selector"]
MAX_TEMPLATES = 256


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class TemplateParam(_Strict):
    """One typed parameter. `min`/`max` are numbers for `number` and durations (text) for
    `duration`; `enum` lists the only values allowed (any type)."""

    name: str = Field(pattern=PARAM_NAME_RE, max_length=64)
    type: ParamType
    description: str = Field("", max_length=1024)
    min: float | str | None = None
    max: float | str | None = None
    default: float | str | None = None
    enum: list[float | str] | None = Field(None, max_length=64)

    @model_validator(mode="after")
    def _consistent(self) -> TemplateParam:
        where = f"param {self.name}"
        if self.type in ("string", "selector") and (self.min is not None or self.max is not None):
            raise ValueError(f"{where}: min/max apply to number and duration params only")
        low, high = (_order_key(self, v) for v in (self.min, self.max))
        if low is not None and high is not None and low > high:
            raise ValueError(f"{where}: min {self.min} is above max {self.max}")
        for value in [self.default, *(self.enum or [])]:
            if value is not None:
                _check_type(self, value, where)
        if self.default is not None and self.enum is not None and self.default not in self.enum:
            raise ValueError(f"{where}: default {self.default!r} is not one of enum")
        key = _order_key(self, self.default)
        if key is not None and (
            (low is not None and key < low) or (high is not None and key > high)
        ):
            raise ValueError(f"{where}: default {self.default} is outside [{self.min}, {self.max}]")
        return self


def _check_type(param: TemplateParam, value: float | str, where: str) -> None:
    if param.type == "number" and (isinstance(value, str) or not math.isfinite(value)):
        raise ValueError(f"{where}: {value!r} is not a finite number")
    if param.type == "duration" and not (isinstance(value, str) and is_duration(value)):
        raise ValueError(f"{where}: {value!r} is not a duration (e.g. 5m)")
    if param.type in ("string", "selector") and not isinstance(value, str):
        raise ValueError(f"{where}: {value!r} is not text")


def _order_key(param: TemplateParam, value: float | str | None) -> float | None:
    """Numbers as they are, durations in milliseconds: what min/max compare."""
    if value is None:
        return None
    if param.type == "number":
        if isinstance(value, str):
            raise ValueError(f"param {param.name}: {value!r} is not a number")
        return float(value)
    if param.type == "duration":
        if not (isinstance(value, str) and is_duration(value)):
            raise ValueError(f"param {param.name}: {value!r} is not a duration (e.g. 5m)")
        return float(duration_ms(value))
    return None


def order_key(param: TemplateParam, value: float | str) -> float | None:
    return _order_key(param, value)


class AlertTemplate(_Strict):
    name: str = Field(pattern=TEMPLATE_NAME_RE, max_length=63)
    description: str = Field("", max_length=4096)
    params: list[TemplateParam] = Field(default_factory=list, max_length=32)
    expr: str = Field(min_length=1, max_length=16 * 1024)
    for_: str | None = Field(None, alias="for", max_length=64)
    labels: dict[str, str] = Field(default_factory=dict, max_length=MAX_ENTRIES)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=MAX_ENTRIES)

    @model_validator(mode="after")
    def _placeholders(self) -> AlertTemplate:
        where = f"template {self.name}"
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: parameter names must be unique")
        texts = {"expr": self.expr, "for": self.for_ or ""}
        texts.update({f"labels.{k}": v for k, v in self.labels.items()})
        texts.update({f"annotations.{k}": v for k, v in self.annotations.items()})
        for field, text in texts.items():
            for used in PLACEHOLDER.findall(text):
                if used not in names:
                    raise ValueError(f"{where}: {field} uses ${{{used}}}, no such parameter")
        for key in self.labels:
            if key in RESERVED_LABELS or not is_label_name(key):
                raise ValueError(f"{where}: labels.{key}: not a label a template may set")
        fixed = self.for_ is not None and not PLACEHOLDER.search(self.for_)
        if fixed and not is_duration(self.for_ or ""):
            raise ValueError(f"{where}: for: {self.for_!r} is not a duration")
        return self

    def param(self, name: str) -> TemplateParam | None:
        return next((p for p in self.params if p.name == name), None)


class ThresholdRange(_Strict):
    """The allowed comparison values of plain expressions (not templates) whose
    threshold compares a series of `metric` (validate/catalogue_thresholds.py)."""

    metric: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=256)
    min: float | None = None
    max: float | None = None
    description: str = Field("", max_length=1024)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRange:
        if self.min is None and self.max is None:
            raise ValueError(f"thresholds {self.metric}: give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"thresholds {self.metric}: min {self.min} is above max {self.max}")
        return self
