"""The Mimir sink's settings and protocol members (no Mimir: its behaviour is proven on
the real one in tests/integration/test_mimir_sink.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertplane.errors import UsageError
from alertplane.render.mimir import Limits
from alertplane.render.platform import PlatformConfig
from alertplane.sinks.factory import MIMIR, SinkSettings, build_sink
from alertplane.sinks.mimir import MimirSink


def test_builds_without_a_cluster_client_and_has_the_protocol() -> None:
    sink = build_sink(SinkSettings(kind=MIMIR, mimir_url="http://127.0.0.1:1"))
    assert isinstance(sink, MimirSink) and sink.name == "mimir"
    for member in (
        "written_message", "start", "refresh", "generated_outputs", "write",
        "make_live", "liveness", "check_receiver", "location",
    ):  # fmt: skip
        assert hasattr(sink, member), member
    sink.start()  # reads nothing: a Mimir still starting fails the first sync, not this
    assert sink.location("rules/acme.yml", "acme").startswith("Mimir tenant acme")


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        (SinkSettings(kind=MIMIR), "--sink mimir needs --mimir-url URL"),
        (
            SinkSettings(kind=MIMIR, mimir_url="http://m", prometheus_url="http://p"),
            "do not apply to --sink mimir",
        ),
        (
            SinkSettings(kind="files", out_dir=Path("o"), mimir_url="http://m"),
            "--mimir-url needs --sink mimir",
        ),
        (
            SinkSettings(
                kind=MIMIR,
                mimir_url="http://m",
                platform=PlatformConfig.model_validate(
                    {"alertmanager": {"global": {"slack_api_url_file": "/x"}}}
                ),
            ),
            "alertmanager.global.slack_api_url_file: Mimir refuses every *_file field",
        ),
        (
            SinkSettings(kind=MIMIR, mimir_url="http://m", mimir_limits=Limits(0, 70)),
            "--mimir-max-rules-per-group must be at least 1",
        ),
    ],
)
def test_usage_errors_say_what_to_do(settings: SinkSettings, said: str) -> None:
    with pytest.raises(UsageError) as err:
        settings.check()
    assert said in str(err.value)
