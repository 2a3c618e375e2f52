"""Faults a new user meets first (issue 10, items 15-19), through real processes.

A database setting that cannot work, a busy port, SIGTERM, a Prometheus that refuses
reloads, a database that is down, an abbreviated flag, a setting only in the environment:
each gets one exact sentence naming the setting and the fix, a documented exit code, no
traceback, no file created — and `serve` waits for a database that is down instead of
exiting, is ready only when it can do its job, and stops cleanly on SIGTERM like on SIGINT.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alertplane.cli import build_parser, main
from alertplane.errors import UsageError
from alertplane.lifecycle import GRACE_S
from alertplane.stack.ports import DEMO_PORTS
from alertplane.store.db import FIX_DOWN
from tests.adversarial.faults_env import (
    SIGNALS,
    ReloadStub,
    Serve,
    clean_env,
    cli,
    metric,
    wait_for,
    write_manifest,
)
from tests.support.processes import Postgres, free_port

SECRET = "hunter2"
SUPPORTED = "use sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DB"
NO_DB = "run `alertplane apply` first, or pass --db (or set $ALERTPLANE_DB)"
# Every command that opens the database, with what it needs besides --db.
DB_COMMANDS = {
    "apply": ["apply", "-f", "m.yaml"],
    "get": ["get", "alerts"],
    "history": ["history"],
    "delete": ["delete", "alert", "acme-higherrorrate"],
    "rollback": ["rollback", "alert", "acme-higherrorrate", "--to", "1"],
    "serve": ["serve", "--port", "0"],
    "operator": ["operator", "--sink", "files", "--out", "o", "--metrics-port", "0"],
}
READS = ("get", "history", "delete", "rollback")


def no_crash(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err and "this is a bug" not in err
    assert SECRET not in err


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """An empty working directory; the manifest lives elsewhere, so 'nothing created' is
    'the directory stays empty'."""
    work = tmp_path / "work"
    work.mkdir()
    write_manifest(tmp_path / "m.yaml")
    (work / "m.yaml").symlink_to(tmp_path / "m.yaml")
    return work


def created(cwd: Path) -> list[str]:
    return sorted(p.name for p in cwd.iterdir() if p.name != "m.yaml")


# -- item 15: database settings ---------------------------------------------------------


@pytest.mark.parametrize("command", DB_COMMANDS)
@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        (
            f"mysql://alertplane:{SECRET}@db.example/alerts",
            2,
            "error: unsupported database URL 'mysql://alertplane:***@db.example/alerts': "
            f"alertplane stores its objects in SQLite or PostgreSQL; {SUPPORTED}",
        ),
        (
            "sqlite:////nonexistent/folder/a.db",
            2,
            "error: database 'sqlite:////nonexistent/folder/a.db': the folder "
            "/nonexistent/folder does not exist; create it (mkdir -p /nonexistent/folder) or "
            "pass another --db",
        ),
        ("nonsense", 2, f"error: invalid database URL 'nonsense'; {SUPPORTED}"),
    ],
    ids=["mysql", "sqlite-missing-folder", "garbage"],
)
def test_a_database_url_that_cannot_work_is_a_usage_error(
    cwd: Path, command: str, url: str, code: int, message: str
) -> None:
    got, _, err = cli(*DB_COMMANDS[command], "--db", url, cwd=cwd)
    assert (got, err.splitlines()[-1]) == (code, message), err
    no_crash(err)
    assert "serving on" not in err and created(cwd) == []


@pytest.mark.parametrize("command", [c for c in DB_COMMANDS if c not in ("serve", "operator")])
def test_an_unreachable_postgresql_is_named_with_the_password_masked(
    cwd: Path, command: str
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://alertplane:{SECRET}@127.0.0.1:{port}/alerts"
    code, _, err = cli(*DB_COMMANDS[command], "--db", url, cwd=cwd)
    last = err.splitlines()[-1]
    assert code == 3, err
    assert last.startswith(
        f"error: database postgresql+psycopg://alertplane:***@127.0.0.1:{port}/alerts "
        "unavailable: connection failed:"
    ), last
    assert "Connection refused" in last and last.endswith(FIX_DOWN)
    no_crash(err)
    assert created(cwd) == []


@pytest.mark.parametrize(
    ("command", "how"),
    [*((c, "default") for c in READS), ("get", "flag"), ("get", "env")],
)
def test_a_read_never_creates_a_database(cwd: Path, command: str, how: str) -> None:
    args, env, where = DB_COMMANDS[command], clean_env(), "./alertplane.db"
    if how == "flag":
        args, where = [*args, "--db", f"sqlite:///{cwd}/x.db"], f"{cwd}/x.db"
    elif how == "env":
        env, where = clean_env(ALERTPLANE_DB=f"sqlite:///{cwd}/x.db"), f"{cwd}/x.db"
    code, out, err = cli(*args, cwd=cwd, env=env)
    assert (code, out, err) == (2, "", f"error: no database at {where}; {NO_DB}\n")
    assert created(cwd) == []


def test_a_read_of_an_empty_postgresql_database_creates_no_tables(
    cwd: Path, postgres: Postgres
) -> None:
    import psycopg

    url = postgres.create_database("faults_empty")
    code, _, err = cli("get", "alerts", "--db", url, cwd=cwd)
    assert (code, err) == (2, f"error: no database at {url}; {NO_DB}\n")
    dsn = f"host=127.0.0.1 port={postgres.port} user=postgres dbname=faults_empty"
    with psycopg.connect(dsn) as conn:
        tables = conn.execute("select tablename from pg_tables where schemaname='public'")
        assert tables.fetchall() == []


# -- item 19: one way to read settings ----------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--prometheus", "http://127.0.0.1:9090"],
        ["serve", "--alertmanager", "http://127.0.0.1:9093"],
        ["get", "alerts", "--cust", "acme"],
        ["validate", "-f", "m.yaml", "--no-t"],
        ["render", "-f", "m.yaml", "--platform", "p.yaml", "--out", "o"],
        ["operator", "--sink", "files", "--metrics", "9999"],
        ["operator", "--sink", "files", "--resync", "5"],
        ["token", "create", "me", "--role", "admin", "--app", "tokens.csv"],
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_abbreviated_flags_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERTPLANE_DB", raising=False)
    assert main(argv) == 2
    flag = next(a for a in argv if a.startswith("--") and a not in ("--sink", "--out", "--role"))
    assert f"error: unrecognized arguments: {flag}" in capsys.readouterr().err


# A minimal valid command line per subcommand: the abbreviation is the only thing wrong.
BASE = {
    "validate": ["-f", "m.yaml"],
    "diff": ["-f", "m.yaml"],
    "import": ["-f", "m.yaml", "--customer", "acme"],
    "render": ["-f", "m.yaml"],
    "crds": [],
    "apply": ["-f", "m.yaml"],
    "delete": [],
    "get": ["alerts"],
    "history": [],
    "rollback": ["alert", "n", "--to", "1"],
    "serve": [],
    "operator": ["--sink", "files"],
    "token create": ["n", "--role", "admin"],
    "shards": [],
    "silence list": ["acme"],
    "silence create": ["acme", "-m", "a=b", "--comment", "c", "--duration", "1h"],
    "silence extend": ["acme", "id", "--duration", "1h"],
    "silence expire": ["acme", "id"],
}

# The base without its member of a required mutually exclusive group (`import --customer`
# or `--customer-label`): the other member is tried in its place.
EXCLUSIVE_BASE = {
    "import": ["-f", "m.yaml"],
    "silence create": ["acme", "-m", "a=b", "--comment", "c"],
    "silence extend": ["acme", "id"],
}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _subparsers(sub)
                out |= {f"{name} {k}": v for k, v in nested.items()} or {name: sub}
    return out


def test_no_prefix_of_any_flag_of_any_command_is_accepted() -> None:
    """Every proper prefix (3+ characters) of every long flag of every subcommand, the
    operator's included, is refused; the full flag is accepted."""
    parser = build_parser()
    commands = _subparsers(parser)
    assert sorted(commands) == sorted(BASE)
    tried = 0
    for command, sub in commands.items():
        base = [*command.split(), *BASE[command]]
        parser.parse_args(base)  # valid as it is
        flags = {f: a for a in sub._actions for f in a.option_strings if f.startswith("--")}
        for flag, action in flags.items():
            if flag in ("--help", "--version"):
                continue
            value = [] if action.nargs == 0 else [_value(action)]
            try:
                parser.parse_args([*base, flag, *value])
            except UsageError as exc:  # the other of a mutually exclusive pair: instead
                assert "not allowed with argument" in str(exc), exc
                parser.parse_args([*command.split(), *EXCLUSIVE_BASE[command], flag, *value])
            for end in range(3, len(flag)):
                prefix = flag[:end]
                if prefix in flags:
                    continue
                with pytest.raises(UsageError, match=f"unrecognized arguments: {prefix}"):
                    parser.parse_args([*base, prefix, *value])
                tried += 1
    assert tried > 500


def _value(action: argparse.Action) -> str:
    if action.choices:
        return str(next(iter(action.choices)))
    return "1"


def test_abbreviated_flag_refused_by_the_real_command(cwd: Path) -> None:
    code, _, err = cli("serve", "--prometheus", "http://127.0.0.1:9090", cwd=cwd)
    assert (code, err.splitlines()[-1]) == (
        2,
        "error: unrecognized arguments: --prometheus http://127.0.0.1:9090; did you mean "
        "--prometheus-url? Flags must be spelled out",
    )
    assert created(cwd) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "-f", "m.yaml", "--no-tools"],
        ["render", "-f", "m.yaml", "--out", "o"],
        ["apply", "-f", "m.yaml", "--db", "sqlite:///a.db"],
        ["get", "alerts", "--db", "sqlite:///a.db"],
        ["history", "--db", "sqlite:///a.db"],
        ["serve", "--port", "0", "--db", "sqlite:///a.db"],
        ["operator", "--sink", "files", "--out", "o", "--metrics-port", "0"],
    ],
    ids=lambda a: a[0],
)
def test_every_command_reads_the_platform_config_from_the_environment(
    cwd: Path, argv: list[str]
) -> None:
    """$ALERTPLANE_PLATFORM_CONFIG pointing at a broken file: every command says so (it
    was ignored by validate and render); the flag still wins over the variable."""
    broken = cwd.parent / "platform.yaml"
    broken.write_text("alertmanager:\n  globals: {}\n", encoding="utf-8")
    env = clean_env(ALERTPLANE_PLATFORM_CONFIG=str(broken))
    code, _, err = cli(*argv, cwd=cwd, env=env)
    assert code == 2, err
    assert err.splitlines()[-1] == (
        f"error: {broken}: alertmanager.globals: Extra inputs are not permitted; see "
        "docs/configuration.md 'Platform configuration' for the allowed keys"
    )
    if argv[0] == "validate":
        good = cwd.parent / "good.yaml"
        good.write_text("alertmanager: {}\n", encoding="utf-8")
        assert cli(*argv, "--platform-config", str(good), cwd=cwd, env=env)[0] == 0


def test_render_out_from_the_environment(cwd: Path) -> None:
    env = clean_env(ALERTPLANE_OUT=str(cwd.parent / "rendered"))
    code, _, err = cli("render", "-f", "m.yaml", cwd=cwd, env=env)
    assert code == 0, err
    assert (cwd.parent / "rendered" / "rules" / "acme.yml").is_file()
    code, _, err = cli("render", "-f", "m.yaml", cwd=cwd)
    assert (code, err) == (2, "error: --out is required; pass --out or set $ALERTPLANE_OUT\n")


# -- item 16: a busy port ------------------------------------------------------------------


@pytest.fixture
def busy() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_serve_names_a_busy_port_before_anything_slow(cwd: Path, busy: int) -> None:
    code, _, err = cli("serve", "--port", str(busy), "--db", f"sqlite:///{cwd}/a.db", cwd=cwd)
    assert (code, err) == (
        3,
        f"error: port {busy} on 127.0.0.1 is already in use; stop the process listening "
        f"there (`ss -ltnp 'sport = :{busy}'` shows it) or choose another port with --port\n",
    )
    assert created(cwd) == []  # no database, no output: nothing started


def test_operator_names_a_busy_metrics_port_before_anything_slow(cwd: Path, busy: int) -> None:
    # No cluster at all: the port is checked before kopf loads or a cluster is asked.
    code, _, err = cli(
        "operator", "--sink", "files", "--out", "o", "--metrics-port", str(busy),
        "--kubeconfig", "/nonexistent", cwd=cwd,
    )  # fmt: skip
    assert (code, err) == (
        3,
        f"error: port {busy} on 0.0.0.0 is already in use; stop the process listening "
        f"there (`ss -ltnp 'sport = :{busy}'` shows it) or choose another port with "
        "--metrics-port\n",
    )


def test_make_run_names_a_busy_demo_port_before_anything_slow(cwd: Path) -> None:
    import subprocess
    import sys

    held = []
    for port in DEMO_PORTS:  # hold every demo port that is free; others are busy anyway
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
            held.append(s)
        except OSError:
            s.close()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "alertplane.stack.local", "--state", str(cwd / "state")],
            cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        for s in held:
            s.close()
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [f"error: port {p}" for p in DEMO_PORTS]
    assert all("stop the process listening there" in ln for ln in lines)
    assert created(cwd) == []  # no state directory: Prometheus & co never started


# -- item 17: SIGTERM and SIGINT -----------------------------------------------------------


@pytest.mark.parametrize("sig", SIGNALS)
def test_serve_stops_cleanly_on_sigterm_and_sigint(cwd: Path, sig: str) -> None:
    db = cwd / "a.db"
    serve = Serve(cwd, "--db", f"sqlite:///{db}")
    try:
        serve.wait_ready()
        assert cli("apply", "-f", "m.yaml", "--db", f"sqlite:///{db}", cwd=cwd)[0] == 0
        wait_for(lambda: (cwd / "out" / "rules" / "acme.yml").exists(), "the rule file")
        code, seconds = serve.signal(SIGNALS[sig], timeout=GRACE_S + 60)
    finally:
        serve.close()
    assert code == 0, serve.text()
    assert f"received {sig}: shutting down" in serve.text()
    assert sorted(p.name for p in cwd.glob("a.db*")) == ["a.db"]  # no -wal, no -shm
    assert seconds < GRACE_S + 60  # never reached: the wait above raises first


# -- items 15 and 18: a database that is down, readiness -----------------------------------


def test_serve_waits_for_postgresql_and_is_ready_only_while_it_is_up(cwd: Path) -> None:
    with Postgres() as pg:
        url = pg.create_database("faults_wait")
        pg.stop()  # down before serve starts
        serve = Serve(cwd, "--db", url, "--readiness-grace", "0")
        try:
            serve.wait_healthy()  # alive: it answers while it waits
            body = serve.wait_unready()
            assert "database unreachable" in body["reasons"], body
            wait_for(lambda: "unavailable" in serve.text() and "retrying in" in serve.text(), "log")
            assert serve.alive()
            pg.start()
            serve.wait_ready()
            assert cli("apply", "-f", "m.yaml", "--db", url, cwd=cwd)[0] == 0
            wait_for(lambda: (cwd / "out" / "rules" / "acme.yml").exists(), "the rule file")
            pg.stop()  # down while running: not ready, and says why
            body = serve.wait_unready()
            assert "database unreachable" in body["reasons"], body
            pg.start()
            serve.wait_ready()
            code, _ = serve.signal(SIGNALS["SIGTERM"], timeout=GRACE_S + 60)
            assert code == 0, serve.text()
        finally:
            serve.close()
    assert "Traceback" not in serve.text()


def test_readyz_is_503_while_reloads_fail_and_200_after(cwd: Path) -> None:
    stub = ReloadStub()
    db = f"sqlite:///{cwd / 'a.db'}"
    serve = Serve(cwd, "--db", db, "--prometheus-url", stub.url, "--readiness-grace", "0")
    try:
        serve.wait_ready()  # nothing written yet: no reload
        assert metric(serve.url, "alertplane_sync_failing_since_seconds", serve.token) == 0
        assert cli("apply", "-f", "m.yaml", "--db", db, cwd=cwd)[0] == 0
        body = serve.wait_unready()
        assert body["syncFailure"] == "reload of prometheus failed", body
        assert body["reasons"] == [
            f"syncs failing since {body['syncFailingSince']}: reload of prometheus failed"
        ]
        since = metric(serve.url, "alertplane_sync_failing_since_seconds", serve.token)
        assert since > 0
        stub.status = 200  # Prometheus accepts again: the retry clears it
        assert serve.wait_ready() == {"status": "ready", "reconciler": "this process"}
        assert metric(serve.url, "alertplane_sync_failing_since_seconds", serve.token) == 0
    finally:
        serve.close()
        stub.close()


def test_a_grace_period_keeps_one_failed_reload_from_flipping_readiness(cwd: Path) -> None:
    stub = ReloadStub()
    db = f"sqlite:///{cwd / 'a.db'}"
    serve = Serve(cwd, "--db", db, "--prometheus-url", stub.url, "--readiness-grace", "3600")
    try:
        serve.wait_ready()
        assert cli("apply", "-f", "m.yaml", "--db", db, cwd=cwd)[0] == 0
        body = wait_for(lambda: _failing(serve), "the failed reload in /readyz")
        assert body["status"] == "ready" and body["syncFailure"] == "reload of prometheus failed"
        assert stub.calls >= 1
    finally:
        serve.close()
        stub.close()


def _failing(serve: Serve) -> dict[str, Any] | None:
    body = serve._ready(200)
    return body if body is not None and "syncFailure" in body else None


@pytest.mark.parametrize("sig", SIGNALS)
def test_operator_stops_cleanly_on_sigterm_and_sigint(
    sig: str, cluster: object, tmp_path: Path
) -> None:
    from tests.support.operator_env import Cluster, OperatorProcess

    assert isinstance(cluster, Cluster)
    db = tmp_path / "mirror.db"
    args = ["--sink", "files", "--out", str(tmp_path / "out"), f"--db=sqlite:///{db}"]
    op = OperatorProcess(cluster.env, args, tmp_path / "operator.log").start(timeout=120)
    assert op.proc is not None
    proc = op.proc
    proc.send_signal(SIGNALS[sig])
    code = proc.wait(GRACE_S + 60)
    op.proc = None
    assert code == 0, op.tail()
    assert sorted(p.name for p in tmp_path.glob("mirror.db*")) == ["mirror.db"]
    assert "Traceback" not in op.tail(400)
