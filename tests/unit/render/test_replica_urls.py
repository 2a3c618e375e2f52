"""Two Alertmanager replicas with one URL (a copy-paste typo) are one Alertmanager asked
twice: the other replica was never reloaded, kept routing with its old configuration (a
removed receiver still notified, a new customer's alerts to the default receiver), and
every object said Synced, "every replica" having loaded it. Refused, as for shards."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alertplane.render.platform import PlatformConfig


def _replicas(*urls: str | None) -> PlatformConfig:
    replicas = [{"name": f"am-{i}", "url": url} for i, url in enumerate(urls)]
    return PlatformConfig.model_validate({"alertmanager": {"replicas": replicas}})


def test_two_replicas_with_one_url_are_refused_naming_both() -> None:
    with pytest.raises(ValidationError, match=r"alertmanager\.replicas\[2\]\.url.*am-0"):
        _replicas("http://am-0:9093", "http://am-1:9093", "HTTP://AM-0:9093/")


def test_distinct_urls_and_replicas_without_one_are_fine() -> None:
    assert len(_replicas("http://a:9093", "http://b:9093", None, None).alertmanager.replicas) == 4
    assert len(_replicas("http://a:9093", "http://a:9094").alertmanager.replicas) == 2
