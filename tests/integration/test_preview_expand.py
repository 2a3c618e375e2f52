"""The preview's annotation expansion by the real promtool: label values with quotes,
backslashes, newlines and non-ASCII survive the round trip (our quoting into the test
file, promtool's Go quoting back), special values, and the cap on expanded series."""

from __future__ import annotations

from alertplane.service.preview_expand import MAX_EXPANDED, _unquote, expand
from tests.support.factories import DROP, alert, obj

HOSTILE = 'a"b\\c\nd é \u2603 \t{}=,'


def spec(**over: object):  # type: ignore[no-untyped-def]
    return obj(alert(annotations={"summary": "{{ $labels.host }}|{{ $value }}"}, **over))


def test_hostile_label_values_round_trip() -> None:
    got = expand(spec(), [({"host": HOSTILE}, "0.25"), ({"host": "plain"}, "+Inf")])
    by_host = {g["labels"]["host"]: g for g in got}
    assert set(by_host) == {HOSTILE, "plain"}
    assert by_host[HOSTILE]["annotations"] == {"summary": f"{HOSTILE}|0.25"}
    assert by_host["plain"]["annotations"] == {"summary": "plain|+Inf"}
    assert by_host["plain"]["labels"]["customer_id"] == "acme"  # the rule's labels too


def test_no_annotations_no_run_and_the_cap() -> None:
    assert expand(obj(alert(annotations=DROP)), [({"host": "x"}, "1")]) == []
    many = [({"host": f"h{i}"}, "1") for i in range(MAX_EXPANDED + 5)]
    assert len(expand(spec(), many)) == MAX_EXPANDED


def test_go_unquote() -> None:
    assert _unquote(r"a\"b\\c\nd\x41\u00e9\U0001F600\t") == 'a"b\\c\nd' + "A\u00e9\U0001f600\t"
