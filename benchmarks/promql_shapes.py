"""How long and how deep real PromQL is: the data behind the parser limits.

    python3 benchmarks/promql_shapes.py FILE_OR_DIR...

Reads every `expr:` of Prometheus rule files, PrometheusRule objects and CustomerAlert
manifests (YAML, directories walked), and prints the count, the longest expression and
the deepest one as `alertplane.validate.promql_limits.depth` measures it, next to the
limits. Used on the examples, the goldens, the benchmark workloads and upstream mixins
(kube-prometheus' rendered rules): benchmarks/README.md, "Adversarial limits".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from alertplane.validate.promql_limits import MAX_DEPTH, MAX_EXPR_CHARS, depth


def exprs(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "expr" and isinstance(value, str | int | float):
                yield str(value)
            else:
                yield from exprs(value)
    elif isinstance(data, list):
        for item in data:
            yield from exprs(item)


def files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            yield path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    found: list[tuple[str, str]] = []
    for path in files(args.paths):
        try:
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                found.extend((str(path), e) for e in exprs(doc))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            print(f"skipped {path}: {str(exc).splitlines()[0]}", file=sys.stderr)
    if not found:
        print("no expressions found")
        return 1
    lengths = sorted(len(e) for _, e in found)
    depths = sorted(depth(e) for _, e in found)
    longest = max(found, key=lambda f: len(f[1]))
    deepest = max(found, key=lambda f: depth(f[1]))
    n = len(found)
    print(f"expressions: {n}")
    print(
        f"length: median {lengths[n // 2]}, p99 {lengths[n * 99 // 100]}, "
        f"max {lengths[-1]} ({longest[0]}); limit {MAX_EXPR_CHARS}"
    )
    print(
        f"depth:  median {depths[n // 2]}, p99 {depths[n * 99 // 100]}, "
        f"max {depths[-1]} ({deepest[0]}); limit {MAX_DEPTH}"
    )
    print(f"deepest: {' '.join(deepest[1].split())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
