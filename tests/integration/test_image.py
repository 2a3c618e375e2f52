"""The image `make image` builds from the Dockerfile, run with podman as the chart runs it
(read-only root, emptyDirs on /tmp and /var/lib/alertplane only, no capabilities): the
version the chart names, `validate` with the real promtool/amtool inside, the operator's
entry point, `serve` answering /healthz and /readyz, the tools, and nothing of the build
left in it.

A missing image FAILS (never skips): `.ci/run` builds it (`make image`, a few minutes cold,
benchmarks/README.md "Image"); run `make image` first when running this file alone.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.request

import pytest

from tests.support import image as img
from tests.support.paths import EXAMPLES, ROOT
from tests.support.processes import free_port
from tests.support.waiting import eventually

EXAMPLES_RO = f"{EXAMPLES}:/examples:ro"


@pytest.fixture(scope="module")
def image() -> str:
    name = img.chart_image()
    if not img.PODMAN.exists():
        pytest.fail(f"{img.PODMAN} is missing")
    found = img.podman("image", "exists", name)
    if found.returncode != 0:
        pytest.fail(
            f"image {name} (the chart's default) not built: run `make image` "
            f"(hack/image/build.sh); podman said: {found.stderr.strip() or found.returncode}"
        )
    # An image of another commit would test other code: build.sh labels the commit.
    label = '{{index .Config.Labels "org.opencontainers.image.revision"}}'
    built = img.podman("image", "inspect", f"--format={label}", name).stdout.strip()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if head and built != head:
        pytest.fail(
            f"image {name} was built from {built or '?'}, the checkout is {head}: run `make image`"
        )
    return name


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}: exit {done.returncode}: {done.stderr}"
    return done.stdout


def test_image_is_the_charts_default_and_runs_as_the_charts_uid(image: str) -> None:
    config = json.loads(_ok(img.podman("image", "inspect", "--format={{json .Config}}", image)))
    # The chart's securityContext: runAsNonRoot (a numeric USER), uid/gid 10001.
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["alertplane"] and config["Cmd"] == ["operator"]
    assert config["Labels"]["org.opencontainers.image.version"] == img.app_version()
    assert _ok(img.run(image, "--version")).strip() == f"alertplane {img.app_version()}"
    ids = _ok(img.run(image, "-c", "id -u; id -g; echo $HOME", entrypoint="/bin/sh"))
    assert ids.split() == ["10001", "10001", "/var/lib/alertplane"]


def test_validate_runs_the_tools_inside_the_image(image: str) -> None:
    valid = img.run(
        image,
        "validate",
        "-f",
        "/examples/customers",
        "--platform-config",
        "/examples/platform.yaml",
        volumes=(EXAMPLES_RO,),
    )
    assert valid.returncode == 0, valid.stderr
    assert " 0 invalid, 0 problem(s)" in valid.stdout + valid.stderr
    # Only promtool finds this one (a Go template error): validate really ran the tool
    # inside the image, and its message reaches the user unchanged.
    bad = EXAMPLES / "invalid" / "bad-annotation-template"
    invalid = img.run(
        image, "validate", "-f", f"/examples/invalid/{bad.name}.yaml", volumes=(EXAMPLES_RO,)
    )
    assert invalid.returncode != 0
    expected = bad.with_suffix(".expected").read_text().strip().splitlines()[0]
    assert expected in invalid.stdout + invalid.stderr


def test_operator_entry_point(image: str) -> None:
    out = _ok(img.run(image, "operator", "--help"))
    assert "usage: alertplane operator" in out and "--sink" in out
    # --help stops before the operator's imports; these are what it and serve run on.
    imports = "import alertplane.k8s.operator, alertplane.web, psycopg, kopf"
    _ok(img.run(image, "-c", imports, entrypoint="python3"))


def test_promtool_and_amtool_inside(image: str) -> None:
    assert _ok(img.run(image, "--version", entrypoint="promtool")).startswith("promtool, version")
    assert _ok(img.run(image, "--version", entrypoint="amtool")).startswith("amtool, version")


def test_nothing_of_the_build_is_left(image: str) -> None:
    # No compiler, no pip, no apt lists or package cache, no Prometheus/Alertmanager servers
    # (only their tools), no source tree, and nothing of the build secret (the CA bundle
    # pip was given) as a file or in the environment.
    probe = (
        "for t in gcc cc make pip pip3 python3-config prometheus prometheus-alertmanager; do"
        " command -v $t; done; ls /var/lib/apt/lists /var/cache/apt/archives | grep -v :$"
        " | grep -v -x -e lock -e partial -e auxfiles; ls -d /src /run/secrets 2>/dev/null;"
        " env | grep -i -e PIP_ -e ca-bundle; true"
    )
    left = _ok(img.run(image, "-c", probe, entrypoint="/bin/sh"))
    assert left.strip() == "", f"left in the image: {left!r}"


def test_serve_answers_health_and_ready_on_a_read_only_root(image: str) -> None:
    port = free_port()
    args = ["serve", "--db", "sqlite:////var/lib/alertplane/alertplane.db"]
    args += ["--out", "/var/lib/alertplane/out", "--host", "127.0.0.1", "--port", str(port)]
    with img.detached(image, *args) as name:

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    return r.status, r.read().decode()
            except OSError as exc:  # not listening yet, or 503 before the first sync
                logs = img.podman("logs", "--tail=20", name)
                raise AssertionError(f"{path}: {exc}; logs: {logs.stdout}{logs.stderr}") from exc

        assert eventually(lambda: get("/healthz"), timeout=90) == (200, '{"status":"ok"}')
        # Ready only after the first sync: rendered and checked with the tools in the image.
        assert eventually(lambda: get("/readyz")[0] == 200, timeout=90)
        state = img.podman("inspect", "--format={{.State.Running}}", name)
        assert state.stdout.strip() == "true", shlex.join(args)
