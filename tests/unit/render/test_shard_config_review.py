"""Platform configurations a careless operator writes for shards (render/platform.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alertplane.render.platform import PlatformConfig


def _shards(*urls: str | None) -> PlatformConfig:
    shards = [{"name": f"s{i}", "url": u} for i, u in enumerate(urls)]
    return PlatformConfig.model_validate({"prometheus": {"shards": shards}})


def test_two_shards_with_one_prometheus_are_refused() -> None:
    """One Prometheus named as two shards loads one shard's directory (the other's
    customers wait Pending forever, 'not loaded') or both (every move evaluates twice in
    one server, and nothing is sharded): a copy-paste slip, refused with both names."""
    with pytest.raises(ValidationError) as caught:
        _shards("http://prom-a:9090", "http://prom-b:9090", "http://PROM-A:9090/")
    said = str(caught.value)
    assert "prometheus.shards[2].url" in said and "s0" in said, said


def test_distinct_urls_and_shards_without_url_are_accepted() -> None:
    config = _shards("http://prom-a:9090", "http://prom-a:9091", None, None)
    assert config.prometheus.shard_names() == ["s0", "s1", "s2", "s3"]
