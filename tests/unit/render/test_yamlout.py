"""The YAML emitter must round-trip anything rendering can produce, exactly."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alertplane.render.yamlout import dump, scalar

# Keys and text as users write them: label names, YAML 1.1 traps, templates, unicode.
TRAPS = [
    "on",
    "off",
    "yes",
    "No",
    "Y",
    "n",
    "null",
    "~",
    "true",
    "1e3",
    "0x1F",
    "0o7",
    "1_000",
    "12:30",
    ".5",
    "-",
    "- x",
    "? x",
    "a: b",
    "a #b",
    "#x",
    "*a",
    "&a",
    "!x",
    "%x",
    "@x",
    "`x",
    "|",
    ">",
    "'",
    '"',
    "[",
    "{",
    "",
    " ",
    "5m",
    "1h30m",
    "0s",
    "<<",
]
text = st.one_of(st.sampled_from(TRAPS), st.text(max_size=40))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    text,
    st.floats(allow_nan=False),
)
trees = st.recursive(
    scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(text, kids, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(text, trees, max_size=5))
def test_round_trip(data: dict[str, Any]) -> None:
    assert yaml.safe_load(dump(data)) == (data or None)


@given(text)
def test_scalar_round_trip(value: str) -> None:
    assert yaml.safe_load(f"k: {scalar(value)}") == {"k": value}


def test_multiline_text_is_a_literal_block() -> None:
    expr = 'sum(rate(x{customer_id="a"}[5m]))\n  /\nsum(rate(y{customer_id="a"}[5m]))\n'
    out = dump({"expr": expr})
    assert out == (
        'expr: |\n  sum(rate(x{customer_id="a"}[5m]))\n    /\n  sum(rate(y{customer_id="a"}[5m]))\n'
    )


def test_yaml11_booleans_stay_strings() -> None:
    assert dump({"on": "yes", "labels": {"y": "n"}}) == '"on": "yes"\nlabels:\n  "y": "n"\n'


def test_nan_and_infinity() -> None:
    out = yaml.safe_load(dump({"a": float("inf"), "b": float("-inf")}))
    assert out == {"a": float("inf"), "b": float("-inf")}
