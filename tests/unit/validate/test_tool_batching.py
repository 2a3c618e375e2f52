"""How tool calls are cut into batches by size (validate/tools.py, templates.py): pure parts.

The real tools' side (exec's limits, amtool's verdicts) is in
tests/integration/test_tool_batches.py and tests/adversarial/test_tool_batch_hostile.py.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertplane.validate import templates, tools


@given(st.lists(st.integers(0, 50)), st.integers(1, 60))
def test_batches_keep_order_and_stay_within_the_limit(sizes: list[int], limit: int) -> None:
    cut = tools.batches(sizes, lambda n: n, limit)
    assert [n for batch in cut for n in batch] == sizes
    assert all(batch for batch in cut)
    # Over the limit only alone: an item larger than the limit is the caller's question.
    assert all(sum(batch) <= limit or len(batch) == 1 for batch in cut)
    # Never cut early: the next batch's first item would not have fitted.
    assert all(sum(a) + b[0] > limit for a, b in itertools.pairwise(cut))


def test_file_batches_fit_the_argument_budget_and_the_files_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tools, "argv_budget", lambda: 1024 + 10 * tools.arg_size("x" * 91))
    names = [f"{i:090d}" for i in range(95)]  # 91 bytes each with the NUL
    cut = tools.file_batches(names, dict.fromkeys(names, 1))
    assert [len(b) for b in cut] == [10] * 9 + [5]
    big = dict.fromkeys(names, tools.FILES_CEILING // 3)
    assert [len(b) for b in tools.file_batches(names, big)] == [3] * 31 + [2]


def test_argv_budget_counts_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sysconf", lambda name: 1_000_000)  # below the ceiling
    before = tools.argv_budget()
    assert 0 < before <= 500_000
    monkeypatch.setenv("ALERTPLANE_TEST_FILLER", "x" * 200_000)
    assert tools.argv_budget() <= max(0, before - 200_000)


@pytest.mark.parametrize(
    ("text", "contained"),
    [
        ("plain", True),
        ("{{ if .A }}x{{ else if .B }}y{{ else }}z{{ end }}", True),
        ("{{ range .Alerts }}{{ with .Labels }}{{ .x }}{{ end }}{{ end }}", True),
        ("{{/* {{ end }} */}}ok", True),
        ("ok{{ end }}{{ if true }}{{ .Nope }}", False),  # ends the wrapper early
        ("{{ if true }}", False),  # the wrapper's end would close it
        ('{{ define "x" }}{{ end }}', False),
        ('{{ block "x" . }}{{ end }}', False),
        ("{{ .Unclosed ", False),  # Go would not parse it: alone, for amtool's words
    ],
)
def test_only_self_contained_texts_are_batched(text: str, contained: bool) -> None:
    assert templates._self_contained(text) is contained


def test_positions_from_the_file_are_given_as_in_the_argument() -> None:
    prefix = len(tools._DEFINE)
    output = (
        f'amtool: error: template: text.tmpl:1:{prefix + 6}: executing "alertplane.text" '
        "at <.Nope>: can't evaluate field Nope"
    )
    assert tools._as_argument(output) == (
        'amtool: error: template: :1:6: executing "" at <.Nope>: can\'t evaluate field Nope'
    )
    assert tools._as_argument("template: text.tmpl:3:7: x") == "template: :3:7: x"
    assert tools._as_argument("template: text.tmpl:1: unclosed") == "template: :1: unclosed"
