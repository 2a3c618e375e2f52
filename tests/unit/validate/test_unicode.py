"""Strings no database or tool can hold: one precise message wherever they are."""

from __future__ import annotations

from typing import Any

from alertplane.manifests import load_text
from alertplane.validate.unicode import MAX_REPORTED, text_problems

LONE = "which is not valid Unicode; remove it (it is half of an encoded character, not text)"


def texts(data: Any, root: str = "") -> list[str]:
    return [p.text() for p in text_problems(data, root)]


def test_each_kind_of_unstorable_text_is_named_with_its_place() -> None:
    assert texts({"a": "ok", "b": ["fine", "x\udfff"]}) == [
        f"b[1]: contains an unpaired UTF-16 surrogate (U+DFFF) at character 2 of 2 "
        f"('x\\udfff'), {LONE}"
    ]
    assert texts({"s": "\ud83d\ude00"}, "spec") == [
        "spec.s: contains the UTF-16 surrogate pair U+D83D U+DE00 at character 1 of 2 "
        "('\\ud83d\\ude00'), which is not valid Unicode (a YAML \\u escape names one code "
        "point, not half); write the character U+1F600 itself, or the escape \\U0001F600"
    ]
    assert texts({"u": "a\x00b"}) == [
        "u: contains a NUL character (U+0000) at character 2 of 3 ('a\\x00b'), which no "
        "database stores; remove it"
    ]
    assert texts({"labels": {"k\ud800": "v"}}) == [
        f"labels: the key contains an unpaired UTF-16 surrogate (U+D800) at character 2 of 2 "
        f"('k\\ud800'), {LONE}"
    ]
    long = "a" * 100 + "\ud800" + "b" * 100
    assert texts({"x": long}) == [
        f"x: contains an unpaired UTF-16 surrogate (U+D800) at character 101 of 201 "
        f"(…'aaaaaaaaaaaa\\ud800bbbbbbbbbbbb'…), {LONE}"
    ]
    assert texts({"fine": ["é", "\U0001f600", "\u2028"]}) == []


def test_many_or_deep_bad_strings_cost_a_few_lines() -> None:
    assert len(text_problems(["\ud800"] * 100_000)) == MAX_REPORTED
    deep: Any = "\ud800"
    for _ in range(50_000):
        deep = [deep]
    (only,) = text_problems(deep)
    assert only.path == "[0]" * 50_000 and "U+D800" in only.message


def test_yaml_escapes_that_name_no_character_say_which() -> None:
    (surrogate,) = load_text('a: 1\nb: "ok \\udc00"\n').problems
    assert surrogate.text() == (
        "invalid YAML, column 10: the escape \\udc00 is a UTF-16 surrogate (U+DC00), half of "
        "an encoded character, not a character; remove it, or write the character itself "
        "(a \\U escape of 8 hex digits for one beyond U+FFFF, e.g. \\U0001F600)"
    )
    (beyond,) = load_text('a: "\\U00110000"').problems
    assert beyond.text() == (
        "invalid YAML, column 7: the escape \\U00110000 is beyond Unicode (at most "
        "\\U0010FFFF); fix the escape"
    )
    (other,) = load_text('a: "\\uzzzz"').problems
    assert other.message == "invalid YAML, column 7: did not find expected hexdecimal number"


def test_the_fast_check_agrees_with_the_walk() -> None:
    """`encodable` (json in C) only lets documents skip the walk that the walk would pass."""
    from alertplane.validate.unicode import encodable, text_problems

    clean = {"spec": {"labels": {"team": "ä€😀"}, "to": ["a@b.c"], "n": 1, "x": None}}
    assert encodable(clean) and text_problems(clean, nul=False) == []
    for bad in (
        {"spec": {"labels": {"team": "x\ud800y"}}},
        {"spec": {"x\udc00": "key"}},
        {"spec": {"to": ["ok", "\udfff"]}},
    ):
        assert not encodable(bad) and text_problems(bad, nul=False)
