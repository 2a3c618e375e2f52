"""`alertplane validate` and `alertplane render`: output, exit codes, never a traceback.

Most runs call `alertplane.cli.main` in-process; a few run the real command in a
subprocess (stdin, the installed script). The examples/invalid/ catalogue is checked
here: each file's exact output is in `<file>.expected`, and examples/invalid/README.md
is generated from the files' leading comments and those outputs
(`pytest tests/integration/test_cli.py --update-golden` rewrites both; review the diff).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.cli import Run, in_process, write
from tests.support.factories import alert, receiver
from tests.support.paths import EXAMPLES, ROOT

INVALID = EXAMPLES / "invalid"
PLATFORM = str(EXAMPLES / "platform.yaml")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    return in_process(capsys)


# --- validate


def test_the_customer_examples_are_valid(cli: Run) -> None:
    assert cli("validate", "-f", str(EXAMPLES / "customers")) == (
        0,
        "",
        "16 valid, 0 invalid, 0 problem(s)\n",
    )
    assert cli("validate", "-f", str(EXAMPLES / "customers"), "--platform-config", PLATFORM)[0] == 0


def test_validate_prints_one_line_per_problem_on_stdout(cli: Run, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", alert(severity="fatal"), receiver(webhook=[]), alert("globex"))
    assert cli("validate", "-f", f) == (
        1,
        # where the field is (file:line:column), then the problem
        f"{f}:10:3: CustomerAlert acme/acme-higherrorrate: spec.severity: 'fatal' is not "
        "allowed; use one of 'critical', 'warning' or 'info'\n"
        f"{f}:20:1: CustomerReceiver acme/acme-oncall: spec: no notification channel; add at "
        "least one of spec.email, spec.slack, spec.pagerduty, spec.webhook\n",
        "1 valid, 2 invalid, 2 problem(s)\n",
    )


def test_several_paths_are_validated_together(cli: Run, tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", alert(name="X"))
    b = write(tmp_path / "b.yml", alert(name="Y", alertName="X"))
    code, out, _ = cli("validate", "-f", a, "--filename", b)
    assert code == 1
    assert out.startswith(
        f"{b}:8:3: CustomerAlert acme/acme-y: spec.alertName: customer 'acme' already"
    )


def test_broken_yaml_and_unknown_kinds_are_named(cli: Run, tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("kind: ConfigMap\n---\nkind: CustomerAlert\nspec: [\n")
    assert cli("validate", "-f", str(f)) == (
        1,
        f"{f}:1 (document 1): kind: unknown kind 'ConfigMap'; alertplane reads CustomerAlert, "
        "CustomerReceiver, CustomerRecordingRule and CustomerSLO\n"
        f"{f}:5 (document 2): invalid YAML, column 1: did not find expected node content; fix "
        "the YAML syntax (indentation, quoting, ':' after keys)\n",
        "0 valid, 2 invalid, 2 problem(s)\n",
    )


def test_no_tools_skips_the_template_checks(cli: Run, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", alert(annotations={"summary": "{{ if }}"}))
    assert cli("validate", "--no-tools", "-f", f)[0] == 0
    code, out, _ = cli("validate", "-f", f)
    assert (code, out.split(": ")[2]) == (1, "spec.annotations.summary")
    assert out.startswith(f"{f}:13:5: CustomerAlert")  # summary: under annotations:


def test_platform_config_enables_the_smtp_check(cli: Run, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", receiver(email=[{"to": ["ops@acme.example"]}]))
    empty = tmp_path / "platform.yaml"
    empty.write_text("secretsDir: /s\n")
    assert cli("validate", "-f", f)[0] == 0
    assert cli("validate", "-f", f, "--platform-config", PLATFORM)[0] == 0
    code, out, _ = cli("validate", "-f", f, "--platform-config", str(empty))
    assert code == 1
    assert out == (
        f"{f}:11:3: CustomerReceiver acme/acme-oncall: spec.email: the platform has no SMTP server "
        "configured; ask the platform team to set alertmanager.global.smtp_smarthost and "
        "smtp_from, or use another channel\n"
    )


USAGE = [
    (
        ["validate"],
        "error: the following arguments are required: -f/--filename; see 'alertplane validate "
        "--help'",
    ),
    ([], "error: the following arguments are required: command; see 'alertplane --help'"),
    (
        ["validate", "-f"],
        "error: argument -f/--filename: expected one argument; see 'alertplane validate --help'",
    ),
    (
        ["validate", "-f", "examples/customers", "--frobnicate"],
        "error: unrecognized arguments: --frobnicate; see 'alertplane --help'",
    ),
    (["lint", "-f", "x"], "error: argument command: invalid choice: 'lint'"),
    (
        ["validate", "-f", "no/such/path.yaml"],
        "error: no/such/path.yaml: no such file or directory; check the path given to -f",
    ),
    (
        ["validate", "-f", "operator/alertplane/model"],
        "error: operator/alertplane/model: no .yaml or .yml files in this directory; check the "
        "path given to -f",
    ),
    (
        ["validate", "-f", "examples/customers", "--platform-config", "no/such.yaml"],
        "error: no/such.yaml: cannot read platform config: No such file or directory",
    ),
    (
        ["render", "-f", "examples/customers"],
        "error: --out is required; pass --out or set $ALERTPLANE_OUT",
    ),
]


@pytest.mark.parametrize(("argv", "message"), USAGE, ids=[" ".join(a) or "-" for a, _ in USAGE])
def test_usage_errors_exit_2(
    cli: Run, argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = cli(*argv)
    assert (code, out) == (2, "")
    last = err.splitlines()[-1]
    assert last.startswith(message), last


def test_a_bad_platform_config_is_a_usage_error(cli: Run, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", alert())
    bad = tmp_path / "platform.yaml"
    bad.write_text("alertmanager:\n  globals: {}\n")
    code, _, err = cli("validate", "-f", f, "--platform-config", str(bad))
    assert code == 2
    assert err == (
        f"error: {bad}: alertmanager.globals: Extra inputs are not permitted; see "
        "docs/configuration.md 'Platform configuration' for the allowed keys\n"
    )


YAML_HINT = "fix the YAML syntax (indentation, quoting, ':' after keys)"
BAD_PLATFORM: list[tuple[str, bytes, str]] = [
    (
        "unclosed quote",
        b'alertmanager:\n  global:\n    smtp_from: "ops@example\n  route: {}\n',
        ":5 (document 1): invalid YAML, column 1: found unexpected end of stream; " + YAML_HINT,
    ),
    (
        "bad indentation",
        b"alertmanager:\n  global:\n    smtp_from: a\n   route: {}\n",
        ":4 (document 1): invalid YAML, column 4: did not find expected key; " + YAML_HINT,
    ),
    (
        "two documents",
        b"secretsDir: /a\n---\nsecretsDir: /b\n",
        ":3 (document 2): a platform config is one YAML document; remove the '---' and merge "
        "the documents",
    ),
    ("not UTF-8", b"secretsDir: /caf\xe9\n", ": file is not UTF-8 text; save it as UTF-8"),
    (
        "a list, not a mapping",
        b"- secretsDir: /a\n",
        ": top level: Input should be a valid dictionary or instance of PlatformConfig; see "
        "docs/configuration.md 'Platform configuration' for the allowed keys",
    ),
]


@pytest.mark.parametrize("command", ["validate", "render"])
@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in BAD_PLATFORM], ids=[c[0] for c in BAD_PLATFORM]
)
def test_a_broken_platform_config_is_named_by_line(
    cli: Run, tmp_path: Path, command: str, text: bytes, message: str
) -> None:
    f = write(tmp_path / "m.yaml", alert())
    bad = tmp_path / "platform.yml"
    bad.write_bytes(text)
    out = tmp_path / "out"
    extra = ["--out", str(out)] if command == "render" else []
    assert cli(command, "-f", f, "--platform-config", str(bad), *extra) == (
        2,
        "",
        f"error: {bad}{message}\n",
    )
    assert not out.exists(), "nothing is rendered with a broken platform config"


def test_help_and_version_return_0(cli: Run) -> None:
    code, out, _ = cli("--version")
    assert (code, out.strip()) == (0, "alertplane 0.1.0")
    code, out, _ = cli("validate", "--help")
    assert code == 0 and "-f PATH, --filename PATH" in out


# --- render


def test_render_leaves_invalid_objects_out_and_renders_their_siblings(
    cli: Run, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    f = write(
        tmp_path / "m.yaml",
        alert("acme", "Good"),
        alert("acme", "Leaky", expr="up > 0"),
        alert("globex", "Broken", severity="fatal"),
        receiver("acme", "oncall"),
        receiver("acme", "nowhere", webhook=[]),
        alert("globex", "Fine"),
    )
    code, out, err = cli("render", "-f", f, "--out", str(out_dir))
    assert code == 1
    assert err.splitlines() == [
        f"{f}:25:3: CustomerAlert acme/acme-leaky: spec.expr: selector up{{}} has no "
        'customer_id="acme" matcher; add customer_id="acme" inside its braces',
        f"{f}:38:3: CustomerAlert globex/globex-broken: spec.severity: 'fatal' is not allowed; "
        "use one of 'critical', 'warning' or 'info'",
        f"{f}:59:1: CustomerReceiver acme/acme-nowhere: spec: no notification channel; add at "
        "least one of spec.email, spec.slack, spec.pagerduty, spec.webhook",
    ]
    assert out == (
        f"{out_dir}: 3 written, 0 unchanged, 0 removed, 0 kept; 3 valid, 3 invalid, 3 problem(s)\n"
    )
    acme = (out_dir / "rules" / "acme.yml").read_text()
    assert "alert: Good" in acme and "Leaky" not in acme
    globex = (out_dir / "rules" / "globex.yml").read_text()
    assert "alert: Fine" in globex and "Broken" not in globex
    am = (out_dir / "alertmanager.yml").read_text()
    assert "acme/oncall" in am and "nowhere" not in am


def test_render_the_examples(cli: Run, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    argv = ["render", "-f", str(EXAMPLES / "customers"), "--platform-config", PLATFORM]
    code, out, err = cli(*argv, "--out", str(out_dir))
    assert (code, err) == (0, "")
    assert out == (
        f"{out_dir}: 4 written, 0 unchanged, 0 removed, 0 kept; 16 valid, 0 invalid, 0 problem(s)\n"
    )
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.yml")) == [
        "alertmanager.yml",
        "rules/acme.yml",
        "rules/globex.yml",
        "rules/initech.yml",
    ]
    code, out, _ = cli(*argv, "--out", str(out_dir))
    assert (code, out.split("; ")[0]) == (
        0,
        f"{out_dir}: 0 written, 4 unchanged, 0 removed, 0 kept",
    )


def test_render_without_smtp_reports_email_receivers(cli: Run, tmp_path: Path) -> None:
    code, _, err = cli("render", "-f", str(EXAMPLES / "customers"), "--out", str(tmp_path))
    assert code == 1
    assert [line.split(": ")[0:3] for line in err.splitlines()] == [
        [f"{EXAMPLES}/customers/acme.yaml:107:3", "CustomerReceiver acme/acme-team", "spec.email"],
        [
            f"{EXAMPLES}/customers/globex.yaml:96:3",
            "CustomerReceiver globex/globex-infra-mail",
            "spec.email",
        ],
    ]


def test_render_group_by_all_labels(cli: Run, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", alert(), receiver(route={"groupBy": ["..."]}))
    code, _, err = cli("render", "-f", f, "--out", str(tmp_path / "out"))
    assert (code, err) == (0, "")
    assert "group_by:\n" in (tmp_path / "out" / "alertmanager.yml").read_text()


def test_render_into_an_impossible_directory_is_an_io_failure(cli: Run, tmp_path: Path) -> None:
    f = write(tmp_path / "m.yaml", alert())
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = cli("render", "-f", f, "--out", str(blocker / "out"))
    assert (code, out) == (3, "")
    assert err.startswith(f"error: {blocker}") and "Not a directory" in err


# --- the real command in a subprocess


def _run(*argv: str, stdin: str = "", script: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = (
        [shutil.which("alertplane") or "alertplane"]
        if script
        else [sys.executable, "-m", "alertplane.cli"]
    )
    env = {k: v for k, v in os.environ.items() if k != "ALERTPLANE_DEBUG"}
    proc = subprocess.run(
        [*cmd, *argv], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def test_stdin_dash(tmp_path: Path) -> None:
    text = yaml.safe_dump_all([alert(), alert(name="Bad", labels={"urgency": "x"})])
    proc = _run("validate", "-f", "-", stdin=text)
    assert (proc.returncode, proc.stdout) == (
        1,
        "<stdin>:28:5: CustomerAlert acme/acme-bad: spec.labels.urgency: label 'urgency' is "
        "set by alertplane; remove it; set spec.urgency\n",
    )
    proc = _run("validate", "-f", "-", stdin="kind: [\n")
    assert (proc.returncode, proc.stdout) == (
        1,
        "<stdin>:2 (document 1): invalid YAML, column 1: did not find expected node content; "
        "fix the YAML syntax (indentation, quoting, ':' after keys)\n",
    )


def test_the_installed_script() -> None:
    proc = _run("validate", "-f", "examples/customers", script=True)
    assert (proc.returncode, proc.stdout) == (0, "")
    proc = _run("validate", "-f", "examples/invalid/missing-tenant-matcher.yaml", script=True)
    assert proc.returncode == 1
    proc = _run("validate", script=True)
    assert proc.returncode == 2


# --- examples/invalid: one typical mistake per file, with its exact output


def _invalid_files() -> list[Path]:
    return sorted(INVALID.glob("*.yaml"))


def _explanation(path: Path) -> str:
    head = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        head.append(line.removeprefix("#").strip())
    return " ".join(head)


def _validate(cli: Run, path: Path) -> tuple[int, str]:
    code, out, _ = cli("validate", "-f", path.relative_to(ROOT).as_posix())
    return code, out


@pytest.mark.parametrize("path", _invalid_files(), ids=lambda p: p.name)
def test_invalid_example(
    cli: Run, path: Path, update_golden: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert _explanation(path), f"{path.name} must begin with a comment explaining the mistake"
    code, out = _validate(cli, path)
    expected = path.with_suffix(".expected")
    if update_golden:
        expected.write_text(out)
    assert code == 1
    assert out == expected.read_text(), f"run pytest {__file__} --update-golden and review"


def readme() -> str:
    parts = [
        "# Invalid examples\n\n"
        "One typical mistake per file. `alertplane validate -f examples/invalid/<file>` exits 1\n"
        "and prints exactly the lines shown (`<file>.expected`; generated and checked by\n"
        "`tests/integration/test_cli.py`, rewritten with\n"
        "`pytest tests/integration/test_cli.py --update-golden`).\n"
    ]
    for path in _invalid_files():
        out = path.with_suffix(".expected").read_text()
        parts.append(
            f"\n## {path.name}\n\n{_explanation(path)}\n\n"
            f"```\n$ alertplane validate -f examples/invalid/{path.name}\n{out}```\n"
        )
    return "".join(parts)


def test_invalid_examples_readme(update_golden: bool) -> None:
    if update_golden:
        (INVALID / "README.md").write_text(readme())
    assert (INVALID / "README.md").read_text() == readme()
    assert {p.stem for p in INVALID.glob("*.expected")} == {p.stem for p in _invalid_files()}


def test_the_readme_quotes_the_real_message() -> None:
    # docs/usage.md quotes it; README.md's tour shows it too (tests/integration/test_newcomer.py
    # runs that command and compares).
    (line,) = (INVALID / "missing-tenant-matcher.expected").read_text().splitlines()
    assert f"# {line}\n" in (ROOT / "docs" / "usage.md").read_text()
    assert f"\n{line}\n" in (ROOT / "README.md").read_text()


def test_the_whole_directory_prints_each_file_in_turn(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Also proves the examples do not interfere (no names shared between files).
    monkeypatch.chdir(ROOT)
    code, out, _ = cli("validate", "-f", "examples/invalid")
    assert code == 1
    assert out == "".join(p.with_suffix(".expected").read_text() for p in _invalid_files())
