"""A customer token's POST /diff never shows the platform's own Alertmanager settings.

The rendered alertmanager.yml of a diff holds, besides the customer's routes and
receivers, the platform's `global` section (SMTP password, Slack/PagerDuty API URLs) and
its default receiver (a webhook URL with a token). A unified diff shows three lines of
context around each change: a customer adding its first receiver got the platform default
receiver's URL as context. Both are the platform team's, never a customer's to read, and
no door shows clear secrets: rendered for a diff, every value of those two sections is
hidden (both sides alike, so the diff itself is unchanged).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from alertplane.errors import Source
from alertplane.manifests import Document
from alertplane.render.platform import PlatformConfig
from alertplane.service.diff import compare
from tests.support.api_env import ACME, api_env
from tests.support.factories import receiver

SECRETS = ("PLATFORM-SMTP-SECRET", "PLATFORM-SLACK-SECRET", "PLATFORM-WEBHOOK-SECRET")
PLATFORM_AM = {
    "global": {
        "smtp_smarthost": "127.0.0.1:2525",
        "smtp_from": "am@example.com",
        "smtp_auth_password": SECRETS[0],
        "slack_api_url": f"https://hooks.slack.example/{SECRETS[1]}",
    },
    "defaultReceiver": {
        "webhook_configs": [{"url": f"http://127.0.0.1:9097/platform?token={SECRETS[2]}"}]
    },
}


def test_a_customers_diff_shows_nothing_of_the_platforms_alertmanager(tmp_path: Path) -> None:
    with api_env(
        f"sqlite:///{tmp_path / 'db'}",
        tmp_path,
        run_reconciler=False,
        platform_extra={"alertmanager": PLATFORM_AM},
    ) as env:
        headers = {**ACME, "Content-Type": "application/yaml"}
        body = yaml.safe_dump(receiver("acme"))
        r = env.client.post("/diff?tools=false", content=body, headers=headers)
        assert r.status_code == 200, r.text
        (output,) = r.json()["outputs"]
        assert output["path"] == "alertmanager.yml"
        assert "+- name: acme/oncall\n" in output["diff"]
        assert [s for s in SECRETS if s in r.text] == []


def test_every_platform_value_is_hidden_in_the_rendered_diff() -> None:
    platform = PlatformConfig.model_validate({"alertmanager": PLATFORM_AM})
    report = compare([], [_doc(receiver("acme"))], platform)
    (output,) = report.outputs
    assert '- name: platform-default\n   webhook_configs:\n   - url: "<platform>"\n' in output.diff
    assert [s for s in SECRETS if s in output.diff] == []


def _doc(manifest: dict[str, object]) -> Document:
    return Document(Source("in", 1), manifest)
