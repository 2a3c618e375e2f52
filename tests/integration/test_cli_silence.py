"""`alertplane silence create|list|extend|expire` against `alertplane serve` and a real
Alertmanager 0.25: the CLI is one more client of the API (token from the environment or a
file, never the command line), matchers as amtool writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alertplane.stack.processes import Alertmanager
from tests.support.api_env import ACME_TOKEN
from tests.support.cli import Run, in_process
from tests.support.silences import am_config, am_silences, served


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return in_process(capsys)


def test_silence_commands_round_trip(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Alertmanager(am_config(tmp_path), tmp_path / "am") as am, served(tmp_path, am.url) as api:
        monkeypatch.setenv("ALERTPLANE_API_URL", api.url)
        monkeypatch.setenv("ALERTPLANE_TOKEN", ACME_TOKEN)
        code, out, err = run(
            "silence", "create", "acme",
            "-m", "alertname=~Disk.*", "-m", "severity!=info", "-m", "team=db",
            "--comment", "disk swap", "--duration", "2h",
        )  # fmt: skip
        assert code == 0, err
        sid = out.strip()
        [held] = am_silences(am.url)
        assert held["id"] == sid
        assert [(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in held["matchers"]] == [
            ("customer_id", "acme", False, True),
            ("alertname", "Disk.*", True, True),
            ("severity", "info", False, False),
            ("team", "db", False, True),
        ]
        assert err.startswith(f"{sid}  active ")
        assert 'customer_id="acme",alertname=~"Disk.*",severity!="info",team="db"  disk swap' in err

        code, out, _ = run("silence", "list", "acme", "-o", "json")
        assert code == 0 and [s["id"] for s in json.loads(out)] == [sid]
        code, out, err = run("silence", "extend", "acme", sid, "--duration", "5h")
        assert code == 0, err
        sid = out.strip()
        code, out, err = run("silence", "expire", "acme", sid)
        assert (code, out.strip()) == (0, sid) and " expired " in err
        code, out, _ = run("silence", "list", "acme", "--state", "active")
        assert (code, out) == (0, "")

        # Refusals: the API's problems, exit 1; another customer: 404, exit 3.
        code, _, err = run(
            "silence",
            "create",
            "acme",
            "-m",
            "customer_id=~.*",
            "--comment",
            "x",
            "--duration",
            "1h",
        )
        assert code == 1
        assert err.splitlines() == [
            "error: HTTP 422: 1 problem",
            'matchers[0]: a matcher on customer_id must be customer_id="acme" (equal, not a '
            'regex); leave it out; alertplane adds customer_id="acme" to every silence',
        ]
        code, _, err = run("silence", "list", "globex")
        assert (code, err.strip()) == (3, "error: HTTP 404: customer not found")
        code, _, err = run(
            "silence", "create", "acme", "-m", "alertname", "--comment", "x", "--duration", "1h"
        )
        assert (code, err.strip()) == (
            2,
            "error: -m 'alertname': not a matcher; write name=value, name!=value, name=~regex "
            "or name!~regex",
        )
        monkeypatch.delenv("ALERTPLANE_TOKEN")
        code, _, err = run("silence", "list", "acme")
        assert (code, err.strip()) == (
            2,
            "error: no token; set $ALERTPLANE_TOKEN or --token-file (alertplane token create)",
        )
        token_file = tmp_path / "token"
        token_file.write_text(ACME_TOKEN + "\n", encoding="utf-8")
        code, out, _ = run("silence", "list", "acme", "--token-file", str(token_file))
        assert code == 0 and sid in out

    # The API gone: a clear error, no traceback.
    monkeypatch.setenv("ALERTPLANE_TOKEN", ACME_TOKEN)
    code, _, err = run("silence", "list", "acme")
    assert code == 3 and err.startswith(f"error: cannot reach the alertplane API at {api.url}: ")
    assert err.rstrip().endswith("is `alertplane serve` running? (--api-url, $ALERTPLANE_API_URL)")
