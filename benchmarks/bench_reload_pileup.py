"""Reloads a real Prometheus runs when alertplane's patience is shorter than its reload.

Starts Prometheus 2.42 over RULES rules, then does what the reconciler does: a pass calls
`alertplane.sinks.reload.reload(url, timeout_s=WAIT)`, a pass that did not end in a
successful reload is followed by another one a second later, up to PASSES passes.
Reported: passes until a successful answer, seconds, POSTs, and the reloads Prometheus ran
(counted in its own log, after a last plain reload that queues behind any pending one).
Run it with the PYTHONPATH of the tree to measure (main or a branch):

    PYTHONPATH=operator python3 benchmarks/bench_reload_pileup.py --rules 10000 --wait 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path

from alertplane.sinks.reload import reload
from alertplane.stack.processes import Prometheus

DONE = "Completed loading of configuration file"


class _Prometheus(Prometheus):
    def command(self) -> list[str]:
        return [a.replace("--log.level=warn", "--log.level=info") for a in super().command()]

    def reloads(self) -> int:
        return self.log.read_text(errors="replace").count(DONE)


def _rules(directory: Path, n: int) -> None:
    directory.mkdir()
    per = 500
    for f in range(0, n, per):
        body = "".join(
            f"  - alert: A{i}\n"
            f'    expr: rate(x_total{{customer_id="c{f}",i="{i}"}}[5m]) > {i}\n'
            f'    annotations: {{summary: "{{{{ $labels.i }}}} is {{{{ $value }}}}"}}\n'
            for i in range(f, min(n, f + per))
        )
        (directory / f"c{f}.yml").write_text(f"groups:\n- name: g{f}\n  rules:\n{body}")


def _posts(url: str, attempts: int) -> int:
    """Requests sent: counted by reload_flight where it exists; before it, one per attempt."""
    try:
        from alertplane.sinks import reload_flight
    except ImportError:
        return attempts
    return reload_flight.POSTS.get(url + "/-/reload", 0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", type=int, default=10_000)
    p.add_argument("--wait", type=float, default=2.0, help="timeout_s of each pass's reload")
    p.add_argument("--passes", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _rules(Path(tmp) / "rules", args.rules)
        with _Prometheus(Path(tmp) / "rules", workdir=Path(tmp) / "prom") as prom:
            while prom.reloads() < 1:
                time.sleep(0.2)
            before, start = prom.reloads(), time.monotonic()
            passes, ok, attempts = 0, False, 0
            while passes < args.passes and not ok:
                passes += 1
                outcome = reload(prom.url, timeout_s=args.wait)
                ok, attempts = outcome.ok, attempts + outcome.attempts
                if not ok:
                    time.sleep(1.0)
            seconds = time.monotonic() - start
            req = urllib.request.Request(f"{prom.url}/-/reload", method="POST", data=b"")
            settle = time.monotonic()
            with urllib.request.urlopen(req, timeout=3600):
                pass
            print(
                json.dumps(
                    {
                        "rules": args.rules,
                        "wait_s": args.wait,
                        "passes": passes,
                        "ok": ok,
                        "seconds_to_answer": round(seconds, 1),
                        "posts": _posts(prom.url, attempts),
                        "reloads_run_by_prometheus": prom.reloads() - before - 1,
                        "seconds_until_prometheus_idle": round(time.monotonic() - start, 1),
                        "last_plain_reload_s": round(time.monotonic() - settle, 1),
                    }
                )
            )


if __name__ == "__main__":
    main()
