"""The real Grafana Mimir in tests: one monolithic process (`-target=all,alertmanager`) with
filesystem storage, its ruler and multi-tenant Alertmanager on, and remote write to feed it.

    with Mimir(workdir) as mimir:
        remote_write(mimir.url, "acme", [({"__name__": "up", "customer_id": "acme"}, [(ts, 1)])])
        mimir.rules("acme")                      # GET /prometheus/api/v1/rules, as the tenant

The binary comes from hack/mimir/build.sh (built once into a cache outside the repo; ~15
minutes cold on 2 cores) unless $ALERTPLANE_MIMIR_BIN names a directory holding `mimir`.
`SINK_FLAGS` are the Mimir settings the sink relies on (docs/mimir.md lists them with the
reasons); the rest makes one process on loopback with dynamic ports and no phoning home.

Remote write is Prometheus' protocol 1.0: a protobuf `WriteRequest`, snappy-compressed. No
Python package for either is installed here, and both are small: the protobuf is written
field by field below, and the snappy stream is literals only (valid snappy, not compressed),
which Mimir decodes with the real snappy library.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.k8s_env import ROOT
from tests.support.processes import Process, free_port

BUILD_SH = ROOT / "hack" / "mimir" / "build.sh"

# What the sink relies on (docs/mimir.md, "Mimir settings"): the ruler and Alertmanager config
# APIs, rule changes synced on push (not only every -ruler.poll-interval), and the
# Alertmanager picking up a new tenant configuration quickly.
SINK_FLAGS = (
    "-auth.multitenancy-enabled=true",
    "-ruler.enable-api=true",
    "-alertmanager.enable-api=true",
    "-ruler.sync-rules-on-changes-enabled=true",
    "-ruler.outbound-sync-queue-poll-interval=1s",
    "-ruler.inbound-sync-queue-poll-interval=1s",
    "-ruler.poll-interval=1m",
    "-alertmanager.configs.poll-interval=1s",
)


class MimirError(RuntimeError):
    """The build failed; the message says where to look."""


@functools.cache
def bin_dir() -> Path:
    """The directory holding `mimir`, built on first use (a cold build takes many minutes)."""
    if env := os.environ.get("ALERTPLANE_MIMIR_BIN"):
        return Path(env)
    # stderr is not captured: a first build should show its progress.
    proc = subprocess.run(["bash", str(BUILD_SH)], stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise MimirError(f"{BUILD_SH} failed (exit {proc.returncode}); see its stderr")
    return Path(lines[-1])


class Mimir(Process):
    """One monolithic Mimir on loopback. `overrides`: per-tenant limits (runtime config)."""

    name = "mimir"

    def __init__(
        self,
        workdir: Path | None = None,
        evaluation_interval: str = "5s",
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir)
        self.port, self.grpc_port, self.gossip_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.evaluation_interval = evaluation_interval
        self.extra = list(extra)
        self.runtime = self.dir / "runtime.yaml"
        self.runtime.write_text(yaml.safe_dump({"overrides": dict(overrides or {})}))

    def command(self) -> list[str]:
        d, url = self.dir, self.url
        rings = ("ingester.ring", "distributor.ring", "store-gateway.sharding-ring",
                 "compactor.ring", "ruler.ring", "alertmanager.sharding-ring")  # fmt: skip
        ring_flags = [
            f"-{r}.{k}" for r in rings for k in ("store=inmemory", "instance-addr=127.0.0.1")
        ]
        return [
            str(bin_dir() / "mimir"),
            "-target=all,alertmanager",
            "-usage-stats.enabled=false",
            "-log.level=warn",
            "-server.http-listen-address=127.0.0.1",
            f"-server.http-listen-port={self.port}",
            "-server.grpc-listen-address=127.0.0.1",
            f"-server.grpc-listen-port={self.grpc_port}",
            *ring_flags,
            "-query-frontend.instance-addr=127.0.0.1",  # else a guess from the interfaces
            # Some rings (the querier's) always gossip: its own port, on loopback, no peers.
            "-memberlist.bind-addr=127.0.0.1",
            f"-memberlist.bind-port={self.gossip_port}",
            "-memberlist.advertise-addr=127.0.0.1",
            "-ingester.ring.replication-factor=1",
            "-ingester.ring.min-ready-duration=0s",
            "-store-gateway.sharding-ring.replication-factor=1",
            "-alertmanager.sharding-ring.replication-factor=1",
            "-blocks-storage.backend=filesystem",
            f"-blocks-storage.filesystem.dir={d}/blocks",
            f"-blocks-storage.tsdb.dir={d}/tsdb",
            f"-blocks-storage.bucket-store.sync-dir={d}/tsdb-sync",
            "-ruler-storage.backend=filesystem",
            f"-ruler-storage.filesystem.dir={d}/rules",
            "-alertmanager-storage.backend=filesystem",
            f"-alertmanager-storage.filesystem.dir={d}/alertmanager",
            f"-alertmanager.storage.path={d}/alertmanager-data",
            f"-alertmanager.web.external-url={url}/alertmanager",
            f"-compactor.data-dir={d}/compactor",
            f"-ruler.rule-path={d}/ruler",
            f"-ruler.alertmanager-url={url}/alertmanager",
            f"-ruler.evaluation-interval={self.evaluation_interval}",
            f"-runtime-config.file={self.runtime}",
            *SINK_FLAGS,
            *self.extra,
        ]

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/ready", timeout=2) as resp:
            return bool(resp.status == 200)

    def get(self, path: str, tenant: str | None) -> tuple[int, str]:
        headers = {} if tenant is None else {"X-Scope-OrgID": tenant}
        req = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def rules(self, tenant: str) -> list[dict[str, Any]]:
        """The groups the ruler evaluates for `tenant`."""
        status, text = self.get("/prometheus/api/v1/rules", tenant)
        assert status == 200, text
        return list(json.loads(text)["data"]["groups"])

    def alerts(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's alerts as the ruler holds them (pending and firing)."""
        status, text = self.get("/prometheus/api/v1/alerts", tenant)
        assert status == 200, text
        return list(json.loads(text)["data"]["alerts"])

    def config(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's Alertmanager configuration as Mimir answers it (None: none)."""
        status, text = self.get("/api/v1/alerts", tenant)
        if status == 404:
            return None
        assert status == 200, text
        data = yaml.safe_load(text)
        assert isinstance(data, dict)
        return data


# -- remote write ---------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1  # int64 as protobuf writes a negative one
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def write_request(series: Iterable[tuple[Mapping[str, str], Sequence[tuple[int, float]]]]) -> bytes:
    """prometheus.WriteRequest{timeseries: [TimeSeries{labels, samples}]} as protobuf."""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name, text in sorted(labels.items()):  # sorted by name, as remote write requires
            ts += _field(1, _field(1, name.encode()) + _field(2, text.encode()))
        for ms, value in samples:
            sample = bytes([1 << 3 | 1]) + struct.pack("<d", value) + _varint(2 << 3) + _varint(ms)
            ts += _field(2, sample)
        out += _field(1, bytes(ts))
    return bytes(out)


def snappy_literal(data: bytes) -> bytes:
    """A snappy block of literals only: the uncompressed length, then chunks of at most
    65,536 bytes, each tagged 61 (a 2-byte little-endian length - 1 follows)."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i : i + 65536]
        out += bytes([61 << 2]) + struct.pack("<H", len(chunk) - 1) + chunk
    return bytes(out)


def remote_write(
    url: str,
    tenant: str,
    series: Iterable[tuple[Mapping[str, str], Sequence[tuple[int, float]]]],
) -> None:
    body = snappy_literal(write_request(series))
    req = urllib.request.Request(
        f"{url}/api/v1/push",
        data=body,
        method="POST",
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "X-Scope-OrgID": tenant,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30):
            return
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"remote write for {tenant}: HTTP {exc.code}: {exc.read()!r}") from exc
