"""The route matcher behind POST /customers/{id}/routing/test, held to the real `amtool config
routes test` on random rendered configurations."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertplane.model import CustomerReceiverSpec
from alertplane.render.alertmanager import render_alertmanager
from alertplane.render.platform import PlatformConfig
from alertplane.routing import receivers_for
from alertplane.validate import tools
from tests.support.routing_cases import label_sets, setups


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(customers=setups(), probes=st.lists(label_sets, min_size=1, max_size=4))
def test_matcher_agrees_with_amtool(
    tmp_path: Path,
    customers: dict[str, list[tuple[str, CustomerReceiverSpec]]],
    probes: list[dict[str, str]],
) -> None:
    config = render_alertmanager(customers, PlatformConfig())
    path = tmp_path / "alertmanager.yml"
    path.write_text(config, encoding="utf-8")
    for labels in probes:
        assert receivers_for(config, labels) == tools.routes_test(path, labels), (config, labels)
