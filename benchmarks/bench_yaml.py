"""render/yamlout.py against PyYAML and ruamel.yaml: same bytes as the goldens? how fast?

    python3 benchmarks/bench_yaml.py [--customers 500] [--alerts 20] [--repeat 5]

1. Goldens: every file under tests/golden/ is read back (yaml.safe_load keeps key order),
   its leading comment lines kept as the header, and written again by each emitter; a
   file counts as matched only if the bytes equal the golden's. yamlout must match all
   (else the read-back lost something and the comparison says nothing).
2. Speed: the documents `render()` passes to the emitter for bench_core's workload
   (10,000 alerts: rule files and alertmanager.yml) are captured, then each emitter
   writes all of them; CPU seconds, best of --repeat.
3. Traps: YAML 1.1 look-alikes ("on", "yes", "1e3", "0x1", "12:30", "~") written by each
   emitter and read back by PyYAML (a YAML 1.1 reader, as Go's yaml.v2 in Prometheus and
   Alertmanager is): does each still read as the same string?

Emitters, all with deterministic settings (insertion order kept, no line folding,
unicode written as is, block style, multi-line strings as literal blocks):
PyYAML with libyaml's C emitter (CSafeDumper) and pure (SafeDumper); the same two with a
representer that copies yamlout's quoting rule (plain when yamlout writes plain, else
double-quoted), the closest a library gets; ruamel.yaml (safe, pure and C).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from workload import core_manifests

from alertplane.render import render as render_all
from alertplane.render import yamlout
from alertplane.render.platform import PlatformConfig
from alertplane.validate import parse_document

ROOT = Path(__file__).resolve().parent.parent
WIDE = 1_000_000_000  # no folding of long lines
TRAPS = ["on", "off", "yes", "No", "Y", "n", "null", "~", "true", "1e3", "0x1F", "0o7",
         "1_000", "12:30", ".5", "- x", "a: b", "a #b", "#x", "*a", "&a", "!x", "@x", "",
         " x", "x ", "5m", "<<", "=", "ünïcödé", "tab\there", "bell\x07"]  # fmt: skip
Emit = Callable[[Any, str], str]


def pyyaml(base: type[yaml.SafeDumper], mimic: bool) -> Emit:
    class Dumper(base):  # type: ignore[valid-type,misc]
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        if "\n" in value and yamlout._block(value, 0) is not None:
            style: str | None = "|"
        elif mimic:
            style = None if yamlout.scalar(value) == value else '"'
        else:
            style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)

    def emit(data: Any, header: str) -> str:
        out = yaml.dump(data, Dumper=Dumper, sort_keys=False, width=WIDE, allow_unicode=True,
                        default_flow_style=False)  # fmt: skip
        return header + out

    return emit


def ruamel(pure: bool) -> Emit | None:
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.representer import SafeRepresenter
    except ImportError:
        return None
    y = YAML(typ="safe", pure=pure)
    y.default_flow_style = False
    y.width = WIDE
    y.allow_unicode = True
    y.sort_base_mapping_type_on_output = False  # type: ignore[assignment]

    def text(rep: SafeRepresenter, value: str) -> Any:
        style = "|" if "\n" in value and yamlout._block(value, 0) is not None else None
        return rep.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    y.representer.add_representer(str, text)

    def emit(data: Any, header: str) -> str:
        buf = io.StringIO()
        y.dump(data, buf)
        return header + buf.getvalue()

    return emit


def emitters() -> dict[str, Emit]:
    found: dict[str, Emit | None] = {
        "yamlout": lambda data, header: yamlout.dump(data, header),
        "PyYAML C (CSafeDumper)": pyyaml(yaml.CSafeDumper, False),
        "PyYAML pure (SafeDumper)": pyyaml(yaml.SafeDumper, False),
        "PyYAML C, yamlout's quoting": pyyaml(yaml.CSafeDumper, True),
        "PyYAML pure, yamlout's quoting": pyyaml(yaml.SafeDumper, True),
        "ruamel.yaml safe, pure": ruamel(True),
        "ruamel.yaml safe, C": ruamel(False),
    }
    return {name: emit for name, emit in found.items() if emit is not None}


def goldens() -> list[tuple[Path, str, Any]]:
    """(path, header, data) of every golden file."""
    out = []
    for path in sorted((ROOT / "tests" / "golden").rglob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        n = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
        out.append((path, "".join(lines[:n]), yaml.safe_load(text)))
    return out


def captured(customers: int, alerts: int) -> list[tuple[Any, str]]:
    """The (data, header) pairs render() gives the emitter for bench_core's workload."""
    objects = []
    for doc in yaml.load_all(core_manifests(customers, alerts), Loader=yaml.CSafeLoader):
        obj, problems = parse_document(doc)
        assert obj is not None, problems
        objects.append(obj)
    calls: list[tuple[Any, str]] = []
    real = yamlout.dump

    def spy(data: Any, header: str = "") -> str:
        calls.append((data, header))
        return real(data, header)

    modules = [
        m for m in list(sys.modules.values())
        if m and m.__name__.startswith("alertplane.render") and hasattr(m, "dump")
    ]  # fmt: skip
    for module in modules:
        module.dump = spy  # type: ignore[attr-defined]
    try:
        render_all(objects, PlatformConfig())
    finally:
        for module in modules:
            module.dump = real  # type: ignore[attr-defined]
    return calls


def cpu() -> float:
    return time.process_time()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=500)
    ap.add_argument("--alerts", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    emits = emitters()
    files = goldens()
    calls = captured(args.customers, args.alerts)
    n_rules = args.customers * args.alerts
    size = sum(len(yamlout.dump(d, h)) for d, h in calls) / 1e6
    print(f"# {len(files)} golden files; speed on {len(calls)} documents ({n_rules} rules, "
          f"{size:.1f} MB); PyYAML {yaml.__version__}, "
          f"libyaml {yaml.__with_libyaml__}")  # fmt: skip
    print(f"{'emitter':32s} {'goldens equal':>13s} {'bench equal':>11s} {'traps kept':>10s}"
          f" {'CPU s':>7s} {'ratio':>6s}")  # fmt: skip
    expected = [yamlout.dump(data, header) for data, header in calls]
    base = 0.0
    for name, emit in emits.items():
        equal = sum(emit(data, header) == p.read_text(encoding="utf-8")
                    for p, header, data in files)  # fmt: skip
        same = sum(emit(d, h) == e for (d, h), e in zip(calls, expected, strict=True))
        kept = sum(yaml.safe_load(emit({"k": t}, "")) == {"k": t} for t in TRAPS)
        best = float("inf")
        for _ in range(args.repeat):
            yamlout.scalar.cache_clear()  # cold, as in a CLI run: no scalar seen before
            start = cpu()
            for data, header in calls:
                emit(data, header)
            best = min(best, cpu() - start)
        base = base or best
        print(f"{name:32s} {equal:>6d} of {len(files):<3d} {same:>5d} of {len(calls):<3d}"
              f" {kept:>4d} of {len(TRAPS):<3d} {best:7.3f} {best / base:6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
