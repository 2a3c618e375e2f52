"""Validate + render N customers × M alerts, including the promtool/amtool gates.

    python3 benchmarks/bench_core.py [--customers 500] [--alerts 20] [--repeat 3]

Prints one line per phase (best of --repeat) and the split between in-process work and
the external tools. Results are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform as host
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workload import core_manifests

from alertplane.core import evaluate
from alertplane.manifests import load_text
from alertplane.render import render
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.files import write_rendered
from alertplane.validate import check_with_tools, validate_objects
from alertplane.validate.rulecheck import forget_accepted
from alertplane.validate.schema import parse_documents


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        forget_accepted()  # every run pays for promtool in full, as a cold process would
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=500)
    ap.add_argument("--alerts", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    text = core_manifests(args.customers, args.alerts)
    platform = PlatformConfig()
    n_rules = args.customers * args.alerts
    print(
        f"# {args.customers} customers × {args.alerts} alerts = {n_rules} rules, "
        f"{len(text) / 1e6:.1f} MB of YAML; {host.processor() or host.machine()}, "
        f"Python {host.python_version()}"
    )

    t_load, loaded = timed(lambda: load_text(text), args.repeat)
    t_parse, (parsed, _) = timed(lambda: parse_documents(loaded.documents), args.repeat)
    t_pure, problems = timed(lambda: validate_objects(parsed, platform), args.repeat)
    assert not problems, problems[:3]
    t_tools, problems = timed(lambda: check_with_tools(parsed), args.repeat)
    assert not problems, problems[:3]
    objects = [p.obj for p in parsed]
    t_render, rendered = timed(lambda: render(objects, platform), args.repeat)

    def write() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            write_rendered(Path(tmp), rendered)

    t_write, _ = timed(write, args.repeat)

    def end_to_end() -> None:
        loaded = load_text(text)
        outcome = evaluate(loaded.documents, platform)
        assert outcome.ok
        with tempfile.TemporaryDirectory() as tmp:
            write_rendered(Path(tmp), render(outcome.valid, platform))

    t_total, _ = timed(end_to_end, args.repeat)
    in_process = t_load + t_parse + t_pure + t_render
    rows = [
        ("load YAML", t_load),
        ("parse (pydantic)", t_parse),
        ("validate: fields + PromQL isolation + uniqueness", t_pure),
        ("validate: templates/expr via promtool + amtool (2 calls, parallel)", t_tools),
        ("render", t_render),
        ("write + promtool check rules + amtool check-config", t_write),
    ]
    for name, seconds in rows:
        print(f"{name:70s} {seconds:7.3f} s")
    print(f"{'in-process total':70s} {in_process:7.3f} s")
    print(f"{'external tools total':70s} {t_tools + t_write:7.3f} s")
    print(f"{'end to end (alertplane render equivalent)':70s} {t_total:7.3f} s")


if __name__ == "__main__":
    main()
