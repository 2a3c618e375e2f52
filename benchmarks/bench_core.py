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

import yaml
from workload import alert_manifest

from alertplane.core import evaluate
from alertplane.manifests import load_text
from alertplane.render import render
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.files import write_rendered
from alertplane.validate import check_with_tools, validate_objects
from alertplane.validate.rulecheck import forget_accepted
from alertplane.validate.schema import parse_documents


def manifests(customers: int, alerts: int) -> str:
    docs: list[dict[str, Any]] = []
    for c in range(customers):
        cid = f"customer-{c:04d}"
        for a in range(alerts):
            doc = alert_manifest(cid, a, threshold=0)
            # Heavier than the runtime benchmarks' alert: two selectors, a label, templates.
            doc["spec"].update(
                expr=(
                    f'sum by (service) (rate(http_requests_total{{customer_id="{cid}",'
                    f'code=~"5.."}}[5m])) / sum by (service) (rate(http_requests_total'
                    f'{{customer_id="{cid}"}}[5m])) > 0.0{a % 9 + 1}'
                ),
                labels={"team": f"team-{a % 4}"},
                annotations={
                    "summary": "{{ $labels.service }} error ratio {{ $value | humanize }}",
                    "runbookUrl": f"https://runbooks.example/{a}",
                },
            )
            docs.append(doc)
        for r, sev in enumerate(("critical", "warning")):
            docs.append(
                {
                    "apiVersion": "alertplane.io/v1alpha1",
                    "kind": "CustomerReceiver",
                    "metadata": {"name": f"{cid}-r{r}", "namespace": cid},
                    "spec": {
                        "customerId": cid,
                        "receiverName": f"r{r}",
                        "webhook": [{"url": f"http://127.0.0.1:9097/{cid}/{r}"}],
                        "slack": [
                            {
                                "apiURLSecretRef": {"name": "slack", "key": "url"},
                                "titleTemplate": "[" + cid + "] {{ .CommonLabels.alertname }}",
                            }
                        ],
                        "route": {"priority": r, "match": {"severity": [sev]}, "continue": r == 0},
                    },
                }
            )
    return yaml.safe_dump_all(docs, sort_keys=False)


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
    text = manifests(args.customers, args.alerts)
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
