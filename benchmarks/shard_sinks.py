"""The sinks bench_shards.py drives: one reconciler, three layouts (1 Prometheus, 4 and 8
shards), each layout a real sink over its own directory tree.

`Layouts` is the reconciler's sink. The layout being measured (`active`) gets every write
at once and is made live through its own reloads; the others collect the writes in a
backlog that is written (and checked by promtool) when they become active, before their
Prometheus servers start. So the one initial full sync serves every layout, and each
measured change pays for exactly one layout's write, check and reload.

A sharded layout is the product's files sink when it knows `prometheus.shards` (branch
s12-shards; `product_shards()`), else `OwnShards` below: a files sink per shard directory,
customers placed with render/placement.py, the same placement the product uses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from alertplane.errors import Problem
from alertplane.model import CustomerReceiver
from alertplane.render.placement import place
from alertplane.render.platform import PlatformConfig, PrometheusSettings, Shard
from alertplane.sinks.base import (
    ALERTMANAGER,
    PROMETHEUS,
    Files,
    Liveness,
    Receivers,
    ReloadOutcome,
    Sink,
)
from alertplane.sinks.factory import SinkSettings, build_sink
from alertplane.sinks.files import FileSink
from alertplane.sinks.reload import Reloader

NOT_ACTIVE = Liveness(True, "Written", "written; layout not measured now")


def customer_of(output: str) -> str | None:
    """`rules/<customerId>.yml` → the customer; None for the shared outputs."""
    if output.startswith("rules/") and output.endswith(".yml"):
        return output[len("rules/") : -len(".yml")]
    return None


def platform(shards: Mapping[str, str]) -> PlatformConfig:
    """A platform config naming `shards` (name → base URL)."""
    listed = [Shard(name=n, url=u) for n, u in shards.items()]
    return PlatformConfig(prometheus=PrometheusSettings(shards=listed))


def single(root: Path, url: str) -> FileSink:
    """One Prometheus over `root/rules`: the product's unsharded files sink."""
    return FileSink(root, Reloader(lambda: {PROMETHEUS: url, ALERTMANAGER: None}))


def product_shards(root: Path, shards: Mapping[str, str]) -> tuple[Sink, dict[str, Path]] | None:
    """The product's sharded files sink, when this checkout has one (branch s12-shards:
    `<root>/shards/<shard>/rules/`): (sink, shard → rules directory). None before it."""
    try:
        from alertplane.sinks.sharded_layout import shard_dir  # type: ignore[import-not-found]
    except ImportError:
        return None
    sink = build_sink(SinkSettings(out_dir=root, platform=platform(shards)))
    return sink, {name: Path(shard_dir(root, name)) / "rules" for name in shards}


class OwnShards:
    """A files sink per shard (`root/<shard>/rules/<customerId>.yml`), each reloading only
    its own Prometheus; alertmanager.yml in `root/alertmanager/`, reloaded by nobody (the
    benchmark changes rules only). Stands in for s12-shards' sink until it lands."""

    name = "files"
    written_message: str | None = None

    def __init__(self, root: Path, shards: Mapping[str, str]) -> None:
        self.settings = platform(shards).prometheus
        self.shards = {
            name: FileSink(root / name, Reloader(lambda u=url: {PROMETHEUS: u}))
            for name, url in shards.items()
        }
        self.rest = FileSink(root / "alertmanager", Reloader(lambda: {}))

    def rules_dirs(self, root: Path) -> dict[str, Path]:
        return {name: root / name / "rules" for name in self.shards}

    def _sink(self, output: str) -> FileSink:
        customer = customer_of(output)
        if customer is None:
            return self.rest
        return self.shards[place(customer, self.settings) or ""]

    def _split(self, outputs: Collection[str]) -> dict[int, tuple[FileSink, list[str]]]:
        by: dict[int, tuple[FileSink, list[str]]] = {}
        for output in outputs:
            sink = self._sink(output)
            by.setdefault(id(sink), (sink, []))[1].append(output)
        return by

    def start(self) -> None:
        """Nothing to read ahead (the files sinks compare files on every write)."""

    def refresh(self) -> None:
        """Nothing cached."""

    def generated_outputs(self) -> list[str]:
        return [rel for sink in self.shards.values() for rel in sink.generated_outputs()]

    def write(self, files: Files, receivers: Receivers) -> list[str]:
        written: list[str] = []
        for sink, outputs in self._split(files).values():
            written += sink.write({o: files[o] for o in outputs}, receivers)
        return written

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        outcomes: dict[str, ReloadOutcome] = {}
        parts = self._split(written)
        for name, sink in self.shards.items():  # a shard left pending retries on every pass
            for target, outcome in sink.make_live(parts.get(id(sink), (sink, []))[1]).items():
                outcomes[f"{target}/{name}"] = outcome
        return outcomes

    def liveness(self, output: str, customer_id: str) -> Liveness:
        return self._sink(output).liveness(output, customer_id)

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        return []

    def location(self, output: str, customer_id: str) -> str:
        sink = self._sink(output)
        shard = next((n for n, s in self.shards.items() if s is sink), "alertmanager")
        return f"{shard}/{output}"


class Layouts:
    """The reconciler's sink: writes go to the active layout now and to the others when
    they become active (`activate`); everything else is the active layout's."""

    name = "files"
    written_message: str | None = None

    def __init__(self, names: Collection[str]) -> None:
        self.sink: Sink | None = None  # None: the initial sync, written everywhere later
        self.active: str | None = None
        self.backlog: dict[str, dict[str, str | None]] = {name: {} for name in names}
        self.receivers: Receivers = {}

    def activate(self, name: str, sink: Sink) -> None:
        """Measure `name` through `sink` (built now: its servers' ports are fresh) after
        writing what it missed while others were measured (checked by promtool, not
        reloaded: its Prometheus servers start after this and read the files then)."""
        pending, self.backlog[name] = self.backlog[name], {}
        sink.start()
        if pending:
            sink.write(pending, self.receivers)
        self.sink, self.active = sink, name

    def start(self) -> None:
        """Nothing to read ahead: every layout starts empty."""

    def refresh(self) -> None:
        if self.sink is not None:
            self.sink.refresh()

    def generated_outputs(self) -> list[str]:
        return [] if self.sink is None else self.sink.generated_outputs()

    def write(self, files: Files, receivers: Receivers) -> list[str]:
        self.receivers = receivers
        for name, backlog in self.backlog.items():
            if name != self.active:
                backlog.update(files)
        return sorted(files) if self.sink is None else self.sink.write(files, receivers)

    def make_live(self, written: Collection[str]) -> dict[str, ReloadOutcome]:
        return {} if self.sink is None else self.sink.make_live(written)

    def liveness(self, output: str, customer_id: str) -> Liveness:
        return NOT_ACTIVE if self.sink is None else self.sink.liveness(output, customer_id)

    def check_receiver(self, obj: CustomerReceiver) -> list[Problem]:
        return []

    def location(self, output: str, customer_id: str) -> str:
        return output if self.sink is None else self.sink.location(output, customer_id)
