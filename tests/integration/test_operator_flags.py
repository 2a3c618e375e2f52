"""`alertplane operator` as a process: --api-service-account needs the admission webhook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.processes import free_port


def test_api_service_account_flag_needs_the_webhook(tmp_path: Path) -> None:
    def operator(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "alertplane.cli", "operator", "--sink=configmap", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    done = operator("--api-service-account=alertplane-system/alertplane-api")
    assert done.returncode != 0
    assert "--api-service-account needs the admission webhook" in done.stderr
    assert "Traceback" not in done.stderr
    cert = tmp_path / "x"
    cert.write_text("")
    hook = [f"--webhook-port={free_port()}", f"--webhook-cert={cert}", f"--webhook-key={cert}"]
    done = operator("--api-service-account=alertplane-api", *hook)
    assert done.returncode != 0 and "not NAMESPACE/NAME" in done.stderr
    done = operator("--resync-interval=-5")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--resync-interval -5 is not a number of seconds" in done.stderr
