"""The alertplane image `make image` builds (hack/image/build.sh), run with podman through
hack/image/podman: the same storage and the settings this machine needs (runc, ulimits)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import yaml

from tests.support.paths import ROOT

PODMAN = ROOT / "hack" / "image" / "podman"
CHART = ROOT / "charts" / "alertplane"
# What the chart's pod gets (values.yaml securityContext, deployment.yaml volumes): a
# read-only root with emptyDirs on /tmp and /var/lib/alertplane only, no capabilities.
# --read-only-tmpfs=false: podman would otherwise add writable /run and /var/tmp the
# chart does not have. The chart's emptyDirs are writable by uid/gid 10001 (fsGroup);
# `U` gives the tmpfs to the image's user (podman's plain tmpfs is root's 0755, and with
# runc `mode=` is not applied: the database could not be created there).
RESTRICTED = (
    "--read-only",
    "--read-only-tmpfs=false",
    "--tmpfs=/tmp",
    "--tmpfs=/var/lib/alertplane:U",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)


def app_version() -> str:
    return str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])


def chart_image() -> str:
    """The chart's default image: `image.repository`:(`image.tag` or appVersion)."""
    image = yaml.safe_load((CHART / "values.yaml").read_text())["image"]
    return f"{image['repository']}:{image['tag'] or app_version()}"


def podman(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PODMAN), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def run(
    image: str, *args: str, entrypoint: str | None = None, volumes: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`podman run --rm` restricted like the chart's pod; the completed process."""
    opts = [f"--volume={v}" for v in volumes]
    if entrypoint:
        opts.append(f"--entrypoint={entrypoint}")
    return podman("run", "--rm", *RESTRICTED, *opts, image, *args)


@contextmanager
def detached(image: str, *args: str) -> Iterator[str]:
    """A restricted container on the host's network, removed afterwards; its name."""
    name = f"alertplane-test-{uuid.uuid4().hex[:12]}"
    started = podman(
        "run", "--detach", f"--name={name}", "--network=host", *RESTRICTED, image, *args
    )
    assert started.returncode == 0, started.stderr
    try:
        yield name
    finally:
        podman("rm", "--force", "--time=2", name)
