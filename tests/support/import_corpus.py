"""A real-world corpus for the importer, fetched at test-build time from Go modules the
project already builds with or beside (`go mod download`, the Go module proxy; cached in
the Go module cache), so no upstream rule text is copied into this repository.

- github.com/thanos-io/thanos v0.36.1 (Apache-2.0): examples/alerts/alerts.yaml (48 alerts
  of the Thanos mixin), rules.yaml (recording rules), tests.yaml (upstream's promtool tests
  of those alerts)
- github.com/prometheus-operator/prometheus-operator v0.85.0 (Apache-2.0):
  example/mixin/alerts.yaml (9 alerts), example/user-guides/alerting/
  prometheus-example-rules.yaml (a PrometheusRule)
- github.com/prometheus/prometheus v0.305.0 (Apache-2.0): cmd/promtool/testdata/rules.yml
- github.com/prometheus/alertmanager v0.28.1 (Apache-2.0): doc/examples/simple.yml
- github.com/grafana/mimir at the commit hack/mimir/build.sh builds (aced80d74930):
  operations/mimir-mixin-compiled/rules.yaml (122 recording rules) and alerts.yaml (119
  alerts, many reading those recorded series). Mimir's LICENSING.md: the project is
  AGPL-3.0-only except `operations/` and `vendor/`, which are under their upstream licences
  (the mixin descends from the Apache-2.0 cortex-jsonnet mixin). Read at test time only.

A module that cannot be fetched fails the test that needs it, with go's message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

MODULES = {
    "thanos": "github.com/thanos-io/thanos@v0.36.1",
    "promop": "github.com/prometheus-operator/prometheus-operator@v0.85.0",
    "prometheus": "github.com/prometheus/prometheus@v0.305.0",
    "alertmanager": "github.com/prometheus/alertmanager@v0.28.1",
    "mimir": "github.com/grafana/mimir@v1.3.1-0.20260423142704-aced80d74930",
}
THANOS_ALERTS = ("thanos", "examples/alerts/alerts.yaml")
THANOS_RULES = ("thanos", "examples/alerts/rules.yaml")
THANOS_TESTS = ("thanos", "examples/alerts/tests.yaml")
PROMOP_ALERTS = ("promop", "example/mixin/alerts.yaml")
PROMOP_EXAMPLE = ("promop", "example/user-guides/alerting/prometheus-example-rules.yaml")
PROMTOOL_RULES = ("prometheus", "cmd/promtool/testdata/rules.yml")
ALERTMANAGER_SIMPLE = ("alertmanager", "doc/examples/simple.yml")
MIMIR_RULES = ("mimir", "operations/mimir-mixin-compiled/rules.yaml")
MIMIR_ALERTS = ("mimir", "operations/mimir-mixin-compiled/alerts.yaml")
RULE_FILES = (THANOS_ALERTS, THANOS_RULES, PROMOP_ALERTS, PROMOP_EXAMPLE, PROMTOOL_RULES)


@cache
def module_dir(key: str) -> Path:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    done = subprocess.run(
        [go, "mod", "download", "-json", MODULES[key]],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
    )
    info = json.loads(done.stdout or "{}")
    assert done.returncode == 0 and "Dir" in info, (
        f"go mod download {MODULES[key]} failed: {info.get('Error') or done.stderr}"
    )
    return Path(info["Dir"])


def path(item: tuple[str, str]) -> Path:
    return module_dir(item[0]) / item[1]


def corpus_exprs() -> list[str]:
    """Every rule expression of the corpus' rule files (alerting and recording)."""
    out: list[str] = []
    for item in RULE_FILES:
        for doc in yaml.safe_load_all(path(item).read_text(encoding="utf-8")):
            groups: Any = doc.get("groups") or (doc.get("spec") or {}).get("groups") or []
            out.extend(str(r["expr"]) for g in groups for r in g["rules"])
    return out
