"""A throwaway real Kubernetes API server for tests, in the spirit of controller-runtime's envtest.

    with KubeEnv() as env:
        env.kubectl("apply", "-f", "crd.yaml")
        token = env.create_token("team-a", "alertplane")  # run the operator with its RBAC

Only etcd + kube-apiserver run (no controller-manager, scheduler or kubelet), so objects are
stored, validated, admitted and authorized for real, but nothing reconciles them: pods never
start, ServiceAccounts and their namespaces' "default" SA are not created for you, and a
deleted namespace stays Terminating. Give each test its own namespace instead of deleting.

Binaries come from hack/k8s/build.sh (built once into a cache outside the repo) unless
`bin_dir` or $ALERTPLANE_K8S_BIN names a directory holding kube-apiserver, kubectl and etcd.
Set KUBEENV_KEEP=1 to keep the temp dir (logs, certs, kubeconfig) after exit.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD_SH = ROOT / "hack" / "k8s" / "build.sh"
ADMIN_TOKEN = "kubeenv-admin-token"  # only ever valid on a loopback server that lives for one run


class KubeEnvError(RuntimeError):
    """Something did not come up; the message carries the tail of the relevant logs."""


def find_bin_dir() -> Path:
    """The directory with kube-apiserver, kubectl and etcd, building them on first use."""
    if env := os.environ.get("ALERTPLANE_K8S_BIN"):
        return Path(env)
    # stderr is not captured: a first build takes minutes and its progress should show.
    proc = subprocess.run(["bash", str(BUILD_SH)], stdout=subprocess.PIPE, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise KubeEnvError(f"{BUILD_SH} failed (exit {proc.returncode}); see its stderr above")
    return Path(lines[-1])


def _free_ports(n: int) -> list[int]:
    # All sockets stay open until each has a port, so the n ports are distinct. Still racy
    # against other processes once closed, which is acceptable on loopback in tests.
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class KubeEnv:
    def __init__(
        self,
        bin_dir: str | Path | None = None,
        timeout: float = 120.0,
        apiserver_args: Sequence[str] = (),
    ) -> None:
        self._bin_dir = Path(bin_dir) if bin_dir else None
        self.timeout = timeout
        self.apiserver_args = list(apiserver_args)
        self.token = ADMIN_TOKEN
        self.server = ""
        self.tmp = Path()
        self.kubeconfig = Path()
        self.ca_file = Path()
        self._procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return self._bin_dir

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> KubeEnv:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        bin_dir = self.bin_dir  # before the temp dir: a build may take minutes
        for tool in ("kube-apiserver", "kubectl", "etcd"):
            if not (bin_dir / tool).is_file():
                raise KubeEnvError(f"{bin_dir / tool} missing: run {BUILD_SH}")
        self.tmp = Path(tempfile.mkdtemp(prefix="kubeenv-"))
        try:
            self._start()
        except BaseException:
            self.stop()  # never leave half an environment running
            raise

    def _start(self) -> None:
        certs = self.tmp / "certs"
        certs.mkdir()
        self._make_certs(certs)
        self.ca_file = certs / "ca.crt"

        etcd_port, peer_port, api_port = _free_ports(3)
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                f"--data-dir={self.tmp / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",  # test data: durability buys nothing, fsync costs seconds
            ],
        )
        deadline = time.monotonic() + self.timeout
        self._wait("etcd", f"{etcd_url}/health", deadline)

        (self.tmp / "tokens.csv").write_text(f'{ADMIN_TOKEN},kubeenv-admin,1,"system:masters"\n')
        self.server = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={certs}",
                f"--tls-cert-file={certs / 'apiserver.crt'}",
                f"--tls-private-key-file={certs / 'apiserver.key'}",
                f"--client-ca-file={self.ca_file}",
                f"--token-auth-file={self.tmp / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={certs / 'sa.pub'}",
                f"--service-account-signing-key-file={certs / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                # Without a controller-manager nothing creates the "default" ServiceAccount,
                # and this plugin would reject every pod for lacking one (envtest does the same).
                "--disable-admission-plugins=ServiceAccount",
                *self.apiserver_args,
            ],
        )
        self._wait("kube-apiserver", f"{self.server}/readyz", deadline, auth=True)
        self.kubeconfig = self.write_kubeconfig(self.token, self.tmp / "kubeconfig", "admin")

    def stop(self) -> None:
        # API server first so it does not spend its shutdown retrying a dead etcd.
        for name in ("kube-apiserver", "etcd"):
            if name in self._procs:
                proc, _ = self._procs.pop(name)
                _kill_group(proc)
        if self.tmp != Path() and not os.environ.get("KUBEENV_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers for tests -----------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this server as the admin; raises with stderr when check fails."""
        cmd = [str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise KubeEnvError(f"kubectl {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def apply(self, *objects: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """kubectl apply the given objects (dicts) as one List."""
        items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        return self.kubectl("apply", "-f", "-", input=json.dumps(items))

    def wait_established(self, *crds: str, timeout: float = 120) -> None:
        """Until every named CRD (`customeralerts.alertplane.io`, with or without `crd/`)
        reports Established=True. `kubectl wait --for=condition=Established` fails at once
        (`.status.conditions accessor error: <nil>`) when it reads a CRD before the API
        server wrote any condition, which a loaded machine makes likely; this polls the
        objects and treats absent conditions as not yet."""
        names = [c.removeprefix("crd/") for c in crds]
        deadline = time.monotonic() + timeout
        while True:
            found = self.kubectl("get", "crd", *names, "-o", "json", check=False)
            pending = set(names)
            if found.returncode == 0:
                data = json.loads(found.stdout)
                for crd in data.get("items", [data]):
                    conditions = (crd.get("status") or {}).get("conditions") or []
                    if any(
                        c.get("type") == "Established" and c.get("status") == "True"
                        for c in conditions
                    ):
                        pending.discard(crd["metadata"]["name"])
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KubeEnvError(
                    f"CRDs not Established within {timeout:.0f}s: {', '.join(sorted(pending))}"
                )
            time.sleep(0.2)

    def create_token(
        self, namespace: str, serviceaccount: str, *, create: bool = True, duration: str = "1h"
    ) -> str:
        """A bearer token for namespace/serviceaccount (TokenRequest API, like in a pod).

        With create=True the namespace and ServiceAccount are created if missing. Bind roles
        to it yourself; pass the token to write_kubeconfig() to act with exactly that RBAC.
        """
        if create:
            docs = [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": serviceaccount, "namespace": namespace},
                },
            ]
            self.apply(*docs)
        out = self.kubectl(
            "create", "token", serviceaccount, "-n", namespace, f"--duration={duration}"
        )
        return out.stdout.strip()

    def write_kubeconfig(self, token: str, path: str | Path | None = None, user: str = "") -> Path:
        """A kubeconfig for this server authenticating with `token` (JSON is valid YAML)."""
        user = user or "user"
        if path is None:
            fd, name = tempfile.mkstemp(".kubeconfig", dir=self.tmp)
            os.close(fd)
            path = name
        path = Path(path)
        ca = base64.b64encode(self.ca_file.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kubeenv",
                    "cluster": {"server": self.server, "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": {"cluster": "kubeenv", "user": user}}],
            "current-context": user,
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    # -- internals -------------------------------------------------------------------------

    def _make_certs(self, d: Path) -> None:
        # A CA of our own (not the apiserver's self-signed fallback) so clients can verify TLS
        # exactly as against a real cluster. EC keys: generated in milliseconds.
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        (d / "ext.cnf").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
            "extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
        )
        steps = [
            ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=kubeenv-ca",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", *ec, "-keyout", "apiserver.key", "-out", "apiserver.csr",
             "-subj", "/CN=kube-apiserver"],
            ["x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "apiserver.crt"],
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-out", "sa.key"],
            ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
        ]  # fmt: skip
        for step in steps:
            proc = subprocess.run(["openssl", *step], cwd=d, capture_output=True, text=True)
            if proc.returncode != 0:
                raise KubeEnvError(f"openssl {' '.join(step)} failed:\n{proc.stderr}")

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = self.tmp / f"{name}.log"
        # setpriv --pdeathsig: if the test process is SIGKILLed (CI timeout), the servers die
        # with it instead of lingering on the machine. Their own session lets stop() kill
        # the whole group.
        prefix = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*prefix, *cmd],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._procs[name] = (proc, log)

    def _wait(self, name: str, url: str, deadline: float, auth: bool = False) -> None:
        proc, log = self._procs[name]
        ctx = ssl.create_default_context(cafile=str(self.ca_file)) if auth else None
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        last = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KubeEnvError(
                    f"{name} exited with {proc.returncode} while starting; last log lines:\n"
                    + _tail(log)
                )
            try:
                req = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:
                    if resp.status == 200:
                        return
            except urllib.error.HTTPError as e:  # e.g. 500 while post-start hooks run
                failed = [
                    ln for ln in e.read().decode(errors="replace").splitlines() if "[-]" in ln
                ]
                last = f"HTTP {e.code} {' '.join(failed)}"
            except (OSError, ssl.SSLError) as e:
                last = repr(e)
            time.sleep(0.2)
        raise KubeEnvError(
            f"{name} not ready at {url} within {self.timeout:g}s (last: {last});"
            f" last log lines:\n{_tail(log)}"
        )


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
