"""Templates and rule tests: what they cost admission (docs/authoring.md).

    PYTHONPATH=operator python3 benchmarks/bench_templates.py [--alerts 1000] [--rounds 3]

- admission (no tools) of N alerts from a catalogue template vs N plain alerts: the
  instantiation and the tenant injection, proven on the parse tree, per alert;
- `promtool test rules` for the largest `spec.tests` an object may carry (32 series,
  9,984 samples, a day of evaluations), cold;
- N/5 alerts with one passing test each, cold (one promtool process per core) and again
  (verdicts kept per content: no promtool).

Prints the median of the rounds with the machine's load average; wall seconds, so read
them beside the load (the test machine has 2 shared cores).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.factories import DROP, alert  # noqa: E402

from alertplane.core import evaluate  # noqa: E402
from alertplane.importer import templated as instances  # noqa: E402
from alertplane.manifests import load_text  # noqa: E402
from alertplane.render.platform import load_platform_config  # noqa: E402
from alertplane.validate import rulecheck, ruletests  # noqa: E402

PLATFORM = load_platform_config(str(ROOT / "examples" / "platform-templates.yaml"))


def admitted_in(docs: list[dict[str, Any]], tools: bool) -> float:
    loaded = load_text(yaml.safe_dump_all(copy.deepcopy(docs)), "bench.yaml")
    assert not loaded.problems, loaded.problems[:1]
    start = time.perf_counter()
    outcome = evaluate(loaded.documents, PLATFORM, tools=tools)
    took = time.perf_counter() - start
    assert outcome.problems == [], outcome.problems[:2]
    return took


def templated(n: int) -> list[dict[str, Any]]:
    params = {"selector": 'job="api"', "threshold": "0.1"}
    return [
        alert(
            f"c{i}", expr=DROP, annotations=DROP, template={"name": "error-ratio", "params": params}
        )
        for i in range(n)
    ]


def worst_tests() -> dict[str, Any]:
    series = [{"series": f'errors_total{{service="s{i}"}}', "values": "0+1x311"} for i in range(32)]
    checks = [{"evalTime": "1d"} for _ in range(16)]
    tests = [{"interval": "1s", "inputSeries": series, "alertRuleTests": checks}]
    return alert(expr='rate(errors_total{customer_id="acme"}[5m]) > 1e9', tests=tests)


def passing(n: int) -> list[dict[str, Any]]:
    test = {
        "inputSeries": [{"series": 'errors_total{service="a"}', "values": "0+120x20"}],
        "alertRuleTests": [
            {
                "evalTime": "10m",
                "expAlerts": [
                    {"expLabels": {"service": "a"}, "expAnnotations": {"summary": "a fails"}}
                ],
            }
        ],
    }
    return [alert(f"c{i}", tests=[copy.deepcopy(test)]) for i in range(n)]


def median(rounds: int, run: Callable[[], float], fresh: bool = True) -> float:
    out = []
    for _ in range(rounds):
        if fresh:
            ruletests._VERDICTS.clear()
            rulecheck.forget_accepted()
            instances._injected.cache_clear()
        out.append(run())
    return statistics.median(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = args.alerts, args.rounds
    print(f"load average before: {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    t = median(rounds, lambda: admitted_in(templated(n), tools=False))
    p = median(rounds, lambda: admitted_in([alert(f"c{i}") for i in range(n)], tools=False))
    print(f"admission, {n} alerts, no tools: templated {t:.2f} s, plain {p:.2f} s "
          f"({(t - p) / n * 1000:.1f} ms per instance)")  # fmt: skip
    w = median(rounds, lambda: admitted_in([worst_tests()], tools=True))
    print(f"largest spec.tests (32 series, 9,984 samples, 1d), promtool cold: {w:.2f} s")
    docs = passing(n // 5)
    cold = median(rounds, lambda: admitted_in(docs, tools=True))
    warm = median(rounds, lambda: admitted_in(docs, tools=True), fresh=False)
    print(
        f"{n // 5} alerts with a passing test, tools: cold {cold:.2f} s, kept verdicts {warm:.2f} s"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
