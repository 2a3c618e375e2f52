"""Issue 14's Speed section: import + validate + render of the real-world corpus and of a
10,000-rule file, with the split between in-process work and the tools; the live
preview's latency against a Prometheus holding 10,000 rules.

    PYTHONPATH=operator python3 benchmarks/bench_authoring.py [--rules 10000] \
        [--previews 50] [--skip-corpus] [--json out.json]

Phases, each through the functions the doors call (importer.run.import_text,
core.evaluate, render.render, validate.output.check_output — promtool/amtool verdicts
are cached by content, so every phase starts cold): wall seconds, this process' CPU
seconds (in-process work) and its children's (promtool/amtool) from getrusage.
The preview: `POST /customers/acme/alerts/preview` through the REST app (FastAPI's
TestClient, the product's admission and /api/v1/query on a real Prometheus 2.42 that
evaluates the 10,000 rendered rules every 10 s and scrapes the demo exporter), the same
expressions before the rules are loaded and after, p50/p90/max over --previews calls.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from realworld import EXPRESSIONS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the corpus and the API environment

from alertplane.core import evaluate  # noqa: E402
from alertplane.errors import Source  # noqa: E402
from alertplane.importer.alerts import Options  # noqa: E402
from alertplane.importer.run import import_text  # noqa: E402
from alertplane.manifests import Document  # noqa: E402
from alertplane.render import render  # noqa: E402
from alertplane.render.platform import PlatformConfig  # noqa: E402
from alertplane.render.yamlout import dump  # noqa: E402
from alertplane.stack import exporter  # noqa: E402
from alertplane.validate.output import check_output  # noqa: E402
from alertplane.validate.rulecheck import forget_accepted  # noqa: E402

CUSTOMER = "acme"
SEVERITIES = ("critical", "warning", "info")


def big_rule_file(rules: int) -> str:
    """A Prometheus rule file of `rules` alerting rules in groups of 100, in the shapes
    of realworld.py, written as a team would (no customer_id: the importer adds it)."""
    groups = []
    for g in range(0, rules, 100):
        group = []
        for n in range(g, min(g + 100, rules)):
            expr = EXPRESSIONS[n % len(EXPRESSIONS)].format(c='env="prod"')
            group.append(
                {
                    "alert": f"Rule{n:05d}",
                    "expr": expr,
                    "for": "5m",
                    "labels": {"severity": SEVERITIES[n % 3], "team": f"t{n % 7}"},
                    "annotations": {"summary": "{{ $labels.instance }} breached"},
                }
            )
        groups.append({"name": f"group-{g // 100:03d}", "rules": group})
    return dump({"groups": groups})


def measured(name: str, work: Callable[[], Any], rows: list[dict[str, Any]]) -> Any:
    forget_accepted()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = work()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    tools = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    rows.append({"phase": name, "wall_s": wall, "cpu_s": cpu, "tools_cpu_s": tools})
    print(f"  {name:<34} wall {wall:7.2f} s  in-process CPU {cpu:7.2f} s  tools CPU {tools:6.2f} s")
    return out


def pipeline(label: str, texts: dict[str, str], platform: PlatformConfig) -> dict[str, Any]:
    """import → validate (without, then with the tools) → render → the output check."""
    print(f"{label}:")
    rows: list[dict[str, Any]] = []
    options = Options(customer=CUSTOMER)

    def do_import() -> tuple[list[Document], int, int]:
        manifests, refused = [], 0
        for name, text in texts.items():
            result = import_text(text, name, options)
            manifests += result.manifests
            refused += len(result.refused)
        docs = [Document(Source("import", i), m) for i, m in enumerate(manifests, 1)]
        return docs, len(manifests), refused

    docs, imported, refused = measured("import", do_import, rows)
    measured("validate (in-process checks)", lambda: evaluate(docs, platform, tools=False), rows)
    outcome = measured("validate (+ promtool/amtool)", lambda: evaluate(docs, platform), rows)
    rendered = measured("render", lambda: render(outcome.valid, platform), rows)
    measured("output check (promtool, amtool)", lambda: check_output(rendered.files()), rows)
    total = {k: sum(r[k] for r in rows) for k in ("wall_s", "cpu_s", "tools_cpu_s")}
    print(
        f"  {imported} imported, {refused} refused, {len(outcome.problems)} problem(s); "
        f"total wall {total['wall_s']:.2f} s, in-process {total['cpu_s']:.2f} s, "
        f"tools {total['tools_cpu_s']:.2f} s"
    )
    return {"label": label, "imported": imported, "refused": refused, "rows": rows,
            "problems": len(outcome.problems), "rendered": rendered, "docs": docs,
            **total}  # fmt: skip


def diff_at_scale(docs: list[Document], platform: PlatformConfig, work: Path) -> dict[str, Any]:
    """`alertplane diff`'s comparison (service/diff.compare) of the imported file against
    a store that holds it, with one alert changed: what a GitOps check of a big customer
    costs."""
    from alertplane.service.diff import compare
    from alertplane.store.db import open_db
    from alertplane.store.repo import Store
    from alertplane.validate import parse_documents

    print("diff against a store holding the file, one alert changed:")
    store = Store(open_db(f"sqlite:///{work / 'diff.db'}"), secrets_dir=str(work))
    parsed, _ = parse_documents(docs)
    store.apply([p.obj for p in parsed], "bench", "bench")
    current = store.get(customers=[CUSTOMER])
    changed = [dict(d.data) for d in docs]
    changed[0] = {**changed[0], "spec": {**changed[0]["spec"], "for": "42m"}}
    edited = [Document(d.source, c) for d, c in zip(docs, changed, strict=True)]
    rows: list[dict[str, Any]] = []
    report = measured(
        "compare (no tools)", lambda: compare(current, edited, platform, tools=False), rows
    )
    measured("compare (+ promtool/amtool)", lambda: compare(current, edited, platform), rows)
    print(f"  {report.summary()}")
    assert report.counts()["changed"] == 1
    return {"rows": rows, "counts": report.counts()}


def corpus_texts() -> dict[str, str]:
    from tests.support.import_corpus import RULE_FILES, path

    return {str(path(item)): path(item).read_text(encoding="utf-8") for item in RULE_FILES}


PREVIEW_EXPRS = {
    "simple": {"expr": 'node_filesystem_avail_ratio{customer_id="acme"} < 0.9'},
    "ratio, autoInject": {
        "expr": 'sum by (service) (rate(app_http_requests_total{code="500"}[5m])) / '
        "sum by (service) (rate(app_http_requests_total[5m])) > 0.01",
        "autoInject": True,
    },
}


def previews(client: Any, headers: dict[str, str], n: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, spec in PREVIEW_EXPRS.items():
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = client.post(f"/customers/{CUSTOMER}/alerts/preview", json=spec, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
        times.sort()
        out[name] = {
            "p50_ms": statistics.median(times),
            "p90_ms": times[int(len(times) * 0.9) - 1],
            "max_ms": times[-1],
            "firing": r.json()["firing"],
        }
        row = out[name]
        print(f"  {name:<20} p50 {row['p50_ms']:7.1f} ms  p90 {row['p90_ms']:7.1f} ms  "
              f"max {row['max_ms']:7.1f} ms  ({row['firing']} series)")  # fmt: skip
    return out


def preview_latency(rules_text: str, n: int, work: Path) -> dict[str, Any]:
    from tests.support.api_env import ACME, api_env
    from tests.support.processes import Prometheus, free_port, http_json
    from tests.support.waiting import eventually

    port = free_port()
    server = exporter.serve(port)
    rules_dir = work / "rules"
    rules_dir.mkdir()
    result: dict[str, Any] = {}
    try:
        with (
            api_env(f"sqlite:///{work / 'db'}", work / "api", run_reconciler=False) as env,
            Prometheus(
                rules_dir,
                scrape_targets={"demo": f"127.0.0.1:{port}"},
                interval="10s",
                workdir=work / "prom",
            ) as prom,  # fmt: skip
        ):
            eventually(lambda: prom.query('up{job="demo"} == 1'), timeout=120)
            env.reconciler.settings.prometheus_url = prom.url
            print("preview, Prometheus without rules:")
            result["no_rules"] = previews(env.client, ACME, n)
            (rules_dir / f"{CUSTOMER}.yml").write_text(rules_text, encoding="utf-8")
            http_json(f"{prom.url}/-/reload", method="POST", timeout=300)
            count = eventually(lambda: len(prom.rules()), timeout=300)
            time.sleep(12)  # at least one evaluation round of every group
            print(f"preview, Prometheus evaluating {count} rules every 10 s:")
            result["rules"] = count
            result["with_rules"] = previews(env.client, ACME, n)
    finally:
        server.shutdown()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--previews", type=int, default=50)
    ap.add_argument("--skip-corpus", action="store_true")
    ap.add_argument("--skip-preview", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    platform = PlatformConfig()
    report: dict[str, Any] = {}
    if not args.skip_corpus:
        report["corpus"] = pipeline("real-world corpus", corpus_texts(), platform)
    big = pipeline(f"{args.rules:,}-rule file", {"big.yml": big_rule_file(args.rules)}, platform)
    report["big"] = big
    rules_text = big.pop("rendered").rules[f"rules/{CUSTOMER}.yml"]
    docs = big.pop("docs")
    report.get("corpus", {}).pop("rendered", None)
    report.get("corpus", {}).pop("docs", None)
    with tempfile.TemporaryDirectory() as tmp:
        report["diff"] = diff_at_scale(docs, platform, Path(tmp))
    if args.skip_preview:
        return _write(args.json, report)
    with tempfile.TemporaryDirectory() as tmp:
        report["preview"] = preview_latency(rules_text, args.previews, Path(tmp))
    _write(args.json, report)


def _write(path: str | None, report: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
