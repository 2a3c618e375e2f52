"""Rendering 1,000 CustomerSLOs: validation, render, and promtool on the result.

    PYTHONPATH=operator python3 benchmarks/bench_slo.py [--slos 1000] [--customers 100]

The SLOs are spread over --customers customers (same SLO names in every customer, as
customers copy each other's); each renders 11 recording rules and 2 alerts into its
customer's rule file. Phases, each in CPU and wall seconds (best of --repeat):

1. parse: the manifests into models (pydantic: the schema stage of admission);
2. checks: validate/slo.py on every SLO (the placeholder rules, the isolation check of both
   queries and of every rendered expression — 15 PromQL parses per SLO);
3. render: every customer's SLO groups, written as YAML (render/slo.py, render/yamlout.py);
4. promtool: `promtool check rules` over the customers' files, cold (the accepted-content
   cache cleared), as validation and every sink run it (validate/rulecheck.py: one process
   per core, files batched);
5. end to end: what `alertplane render` does with the manifests — admission with the tools
   (schema, checks, promtool over each customer's file) and rendering (core.evaluate,
   core.render_valid), promtool's cache cleared first.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from alertplane.core import evaluate, render_valid
from alertplane.errors import Source
from alertplane.manifests import Document
from alertplane.model.slo import CustomerSLO
from alertplane.render.platform import PlatformConfig
from alertplane.render.slo import slo_groups
from alertplane.render.yamlout import dump
from alertplane.validate.rulecheck import check_rule_texts, forget_accepted
from alertplane.validate.slo import check_slo

QUERY = 'sum(rate(http_requests_total{{customer_id="{c}", service="{s}"{bad}}}[{{{{.window}}}}]))'


def slo(customer: str, name: str, **spec: Any) -> dict[str, Any]:
    events = {
        "errorQuery": QUERY.format(c=customer, s=name, bad=', code=~"5.."'),
        "totalQuery": QUERY.format(c=customer, s=name, bad=""),
    }
    return {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerSLO",
        "metadata": {"name": f"{customer}-{name}", "namespace": customer},
        "spec": {"customerId": customer, "sloName": name, "sli": {"events": events}, **spec},
    }


def manifests(slos: int, customers: int) -> list[dict[str, Any]]:
    per = max(1, slos // customers)
    out = []
    for n in range(slos):
        customer, index = f"customer-{n // per:04d}", n % per
        out.append(
            slo(
                customer,
                f"service-{index:03d}",
                objective=[99.9, 99.5, 99.95, 99.0][index % 4],
                alerting={
                    "pageAlertName": f"Service{index}BudgetBurn",
                    "ticketAlertName": f"Service{index}BudgetBurn",
                    "labels": {"team": f"team-{index % 7}"},
                },
            )
        )
    return out


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    best_cpu = best_wall = float("inf")
    result = None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        result = fn()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    docs = manifests(args.slos, args.customers)

    def parse() -> list[CustomerSLO]:
        return [CustomerSLO.model_validate(d) for d in docs]

    def render() -> dict[str, str]:
        specs: dict[str, list[Any]] = {}
        for obj in objs:
            specs.setdefault(obj.spec.customer_id, []).append(obj.spec)
        return {f"{c}.yml": dump({"groups": slo_groups(c, s)}) for c, s in specs.items()}

    def promtool() -> dict[str, list[str]]:
        forget_accepted()
        return check_rule_texts(files)

    rows = []
    cpu, wall, objs = timed(parse, args.repeat)
    rows.append(("parse", cpu, wall))
    cpu, wall, problems = timed(lambda: [p for o in objs for p in check_slo(o)], args.repeat)
    assert problems == [], problems[:3]
    rows.append(("checks", cpu, wall))
    cpu, wall, files = timed(render, args.repeat)
    rows.append(("render", cpu, wall))
    # promtool runs in child processes: their CPU is not this process's; wall is the figure.
    _, wall, verdicts = timed(promtool, args.repeat)
    assert not any(verdicts.values()), [v for v in verdicts.values() if v][:3]
    rows.append(("promtool", float("nan"), wall))

    def end_to_end() -> dict[str, str]:
        forget_accepted()
        outcome = evaluate([Document(Source("bench", i), d) for i, d in enumerate(docs, 1)])
        assert outcome.ok, [p.text() for p in outcome.problems[:3]]
        return render_valid(outcome, PlatformConfig()).rules

    cpu, wall, rendered = timed(end_to_end, args.repeat)
    assert len(rendered) == len(files)
    rows.append(("end to end (CPU: this process only)", cpu, wall))
    rules = sum(
        text.count("\n  - record: ") + text.count("\n  - alert: ") for text in files.values()
    )
    size = sum(len(text.encode()) for text in files.values())
    print(
        f"{args.slos} SLOs, {len(files)} customers, {rules} rules, {size / 1e6:.1f} MB of "
        f"rules; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print("| phase | CPU s | wall s |\n|---|---:|---:|")
    for name, cpu, wall in rows:
        shown = "—" if cpu != cpu else f"{cpu:.2f}"
        print(f"| {name} | {shown} | {wall:.2f} |")
    total = sum(wall for _, _, wall in rows[:4])
    print(f"| phases 1-4 | | {total:.2f} |")


if __name__ == "__main__":
    main()
