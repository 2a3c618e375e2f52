"""The REST API over a real Prometheus 2.42 scraping the demo exporter (acme, globex and
initech series), for the alert preview's tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alertplane.stack import exporter
from tests.support.api_env import ApiEnv, api_env
from tests.support.processes import Prometheus, free_port
from tests.support.waiting import eventually


@contextlib.contextmanager
def prometheus_env(tmp_path: Path) -> Iterator[tuple[ApiEnv, Prometheus]]:
    """The API over a real Prometheus scraping the demo exporter (acme, globex, initech)."""
    port = free_port()
    server = exporter.serve(port)
    try:
        with (
            api_env(f"sqlite:///{tmp_path / 'db'}", tmp_path) as env,
            Prometheus(tmp_path / "rules", scrape_targets={"demo": f"127.0.0.1:{port}"}) as prom,
        ):
            eventually(lambda: prom.query('node_filesystem_avail_ratio{customer_id="globex"}'))
            env.reconciler.settings.prometheus_url = prom.url
            yield env, prom
    finally:
        server.shutdown()
