"""docs/escalation.md, every pattern proven (issue 15 §4): its manifests pass validation as
written (amtool included), every `routes` line holds for `amtool config routes test` on the
rendered alertmanager.yml, and a real Alertmanager 0.25 delivers each line's alert to
exactly those receivers (channels redirected to a capture webhook, waits shortened to
seconds). Pattern 4's on-call receiver is re-notified (its repeat interval)."""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertplane.render.platform import PlatformConfig
from alertplane.validate import tools
from tests.support.am_live import LiveAm, render_checked
from tests.support.paths import ROOT
from tests.support.waiting import eventually

DOC = ROOT / "docs" / "escalation.md"
SMTP = PlatformConfig.model_validate(
    {"alertmanager": {"global": {"smtp_smarthost": "mail.example:25", "smtp_from": "a@b.example"}}}
)
PLATFORM = "platform-default"
# Shortened for the delivery; amtool checks the durations as written.
FAST = {"groupWait": "1s", "groupInterval": "1s", "repeatInterval": "2s"}


def patterns() -> list[tuple[str, list[dict[str, Any]], list[tuple[dict[str, str], list[str]]]]]:
    """(heading, manifests, [(labels, receivers)]) of every `### Pattern` section."""
    out = []
    for section in DOC.read_text(encoding="utf-8").split("\n### ")[1:]:
        if not section.startswith("Pattern"):
            continue
        heading = section.splitlines()[0]
        (manifests,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
        (routes,) = re.findall(r"```routes\n(.*?)```", section, re.S)
        lines = []
        for line in routes.strip().splitlines():
            left, right = line.split("→")
            labels = dict(pair.split("=") for pair in left.split())
            lines.append(({**labels, "customer_id": "acme"}, [r.strip() for r in right.split(",")]))
        out.append((heading, list(yaml.safe_load_all(manifests)), lines))
    return out


PATTERNS = patterns()


def test_the_doc_has_its_four_patterns() -> None:
    assert [h.split(":")[0] for h, _, _ in PATTERNS] == [f"Pattern {i}" for i in range(1, 5)]


@pytest.fixture(scope="module")
def live() -> Iterator[LiveAm]:
    with tempfile.TemporaryDirectory() as tmp, LiveAm(Path(tmp)) as am:
        yield am


def _captured(manifests: list[dict[str, Any]], hook: str) -> list[dict[str, Any]]:
    """The manifests with every channel replaced by the capture webhook and waits shortened."""
    out = []
    for m in copy.deepcopy(manifests):
        spec = m["spec"]
        for channel in ("email", "slack", "pagerduty", "webhook"):
            spec.pop(channel, None)
        spec["webhook"] = [{"url": f"{hook}/acme/{spec['receiverName']}"}]
        route = spec.setdefault("route", {})
        route.update({k: v for k, v in FAST.items()})
        out.append(m)
    return out


@pytest.mark.parametrize(("n", "pattern"), list(enumerate(PATTERNS)), ids=[p[0] for p in PATTERNS])
def test_pattern(live: LiveAm, n: int, pattern: Any) -> None:
    heading, manifests, lines = pattern
    written = Path(live.config.parent / f"pattern-{n}.yml")
    written.write_text(render_checked(manifests, SMTP), encoding="utf-8")
    for labels, receivers in lines:
        assert tools.routes_test(written, labels) == receivers, (heading, labels)

    live.load(render_checked(_captured(manifests, live.hook), SMTP))
    alerts = [{**labels, "alertname": f"P{n}L{i}"} for i, (labels, _) in enumerate(lines)]
    live.post(alerts)
    want = {
        (f"/{r}", a["alertname"])
        for a, (_, receivers) in zip(alerts, lines, strict=True)
        for r in receivers
        if r != PLATFORM
    }

    def delivered() -> set[tuple[str, str]]:
        got = {
            (p, lab["alertname"])
            for p, lab in live.delivered()
            if lab["alertname"].startswith(f"P{n}L")
        }
        if not got <= want:
            pytest.fail(f"{heading}: delivered beyond the doc: {sorted(got - want)}")
        return got

    eventually(lambda: delivered() == want, 90)
    if heading.startswith("Pattern 4"):
        # Re-notified while firing: the repeat interval (2 s here, 30m as written).
        def repeats() -> int:
            return sum(
                1
                for p, lab in live.delivered()
                if (p, lab["alertname"]) == ("/acme/oncall", "P3L0")
            )

        eventually(lambda: repeats() >= 2, 90)
