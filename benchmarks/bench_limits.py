"""What the adversarial limits cost a real workload: validate with and without them,
side by side in one run.

    python3 benchmarks/bench_limits.py [--customers 50] [--repeat 15]

The workload is realworld.py's 1,250 alerts (50 customers × 25 mixin-like rules). Each
repetition times the in-process part of `alertplane validate` — read the YAML, build the
models, the field and PromQL checks — once with the guards and once without, the order
alternating, so that a busy machine slows both alike; the medians and their ratio are
printed. The tools (promtool/amtool) are left out: the guards do not touch them, and
their seconds would only hide the difference. "Without" switches off exactly what the
limits added: the PromQL length/depth measure and the large-stack thread
(validate/promql.py), the search for a possible anchor and the constructor wrapper
(manifests.py); the nesting check main already had stays in both.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform as host
import statistics
import time
from collections.abc import Callable, Iterator

from realworld import text as workload

from alertplane import manifests
from alertplane.manifests import load_text
from alertplane.validate import promql, validate_objects
from alertplane.validate.schema import parse_documents


@contextlib.contextmanager
def guards(on: bool) -> Iterator[None]:
    saved = (promql.check_size, promql.SMALL_EXPR, manifests._may_have_anchor, manifests._Loader)
    if not on:
        promql.check_size = lambda expr: None
        promql.SMALL_EXPR = 1 << 62
        manifests._may_have_anchor = lambda text: False  # left: the depth check main had
        manifests._Loader = manifests._Base  # type: ignore[misc]
    try:
        yield
    finally:
        (promql.check_size, promql.SMALL_EXPR, manifests._may_have_anchor, manifests._Loader) = (
            saved
        )


def phases(text: str) -> tuple[float, float, float]:
    """CPU seconds (of every thread of this process: a busy machine stretches wall-clock
    time, not these) to load, to parse into models, to run the field + PromQL checks."""
    t0 = time.process_time()
    loaded = load_text(text)
    t1 = time.process_time()
    parsed, problems = parse_documents(loaded.documents)
    t2 = time.process_time()
    problems += validate_objects(parsed)
    t3 = time.process_time()
    assert not loaded.problems and not problems, (loaded.problems + problems)[:3]
    return t1 - t0, t2 - t1, t3 - t2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    text = workload(args.customers)
    print(
        f"# {args.customers * 25} rules, {len(text) / 1e6:.2f} MB of YAML; "
        f"{host.processor() or host.machine()}, Python {host.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    for rep in range(args.repeat + 1):
        for on in (True, False) if rep % 2 else (False, True):
            gc.collect()  # each run starts from the same heap, not the other's garbage
            with guards(on):
                timing = phases(text)
            if rep:  # the first round only warms up imports and caches
                runs[on].append(timing)
    names = ("load YAML", "parse (pydantic)", "validate: fields + PromQL", "total")
    print(
        f"{'CPU, median of ' + str(args.repeat):32s} {'without':>10s} {'with':>10s} {'ratio':>7s}"
    )
    for i, name in enumerate(names):
        off = statistics.median(sum(t) if i == 3 else t[i] for t in runs[False])
        on_ = statistics.median(sum(t) if i == 3 else t[i] for t in runs[True])
        print(f"{name:32s} {off * 1000:8.1f} ms {on_ * 1000:8.1f} ms {on_ / off:7.3f}")
    # The guards' own work, alone: the PromQL measure over every expression of the
    # workload, and the search for a possible YAML anchor over the whole text.
    exprs = [d.data["spec"]["expr"] for d in load_text(text).documents]
    measure = min(_cpu(lambda: [promql.check_size(e) for e in exprs]) for _ in range(5))
    anchors = min(_cpu(lambda: manifests._may_have_anchor(text)) for _ in range(5))
    print(f"PromQL length/depth measure, {len(exprs)} expressions: {measure * 1000:.1f} ms CPU")
    print(f"YAML anchor search, {len(text) / 1e6:.2f} MB: {anchors * 1000:.2f} ms CPU")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


if __name__ == "__main__":
    main()
