"""A small synchronous Kubernetes API client (httpx) sharing kopf's login.

kopf watches; everything alertplane writes (status, finalizers, events, sink objects, the
REST API's custom resources) goes through this client. Credentials come from kopf's own
login functions, so the operator and kopf always authenticate the same way: `--kubeconfig`,
else the pod's ServiceAccount, else $KUBECONFIG / ~/.kube/config. A 401 re-reads them
once (ServiceAccount tokens are rotated by the kubelet). Paths come from paths.py.

Why hand-written and not a library (measured 2026-12-07, benchmarks/bench_kube_client.py,
real kube-apiserver, 10,000 CustomerAlerts, on top of the operator's own imports; see
benchmarks/README.md "Kubernetes client"): the libraries cost memory and buy no speed.
- lightkube 1.0.1: +3.1 MB and +0.34-0.43 s to import, +6.0 MB RSS once a client exists
  (the operator's 10,000-object target is 150 MB and it runs at 132-133 MB); the same
  latencies within noise (get, one 500-object page, server-side apply, merge patch);
  10,000 objects as its generic resources 40 MB vs 37 MB as dicts. It has no DeleteOptions
  preconditions (the REST API's delete of exactly the version its signed notes name,
  resources.py) and no retries on 429/5xx, and 1.0 brings httpx2, a second HTTP stack
  next to httpx.
- kubernetes 37.0.3: +9.3 MB and +0.8 s to import, +7.4 MB RSS with a client; no faster.
  kopf imports it at start whenever it is installed, used or not.
Either way a wrapper would stay: dict bodies end to end (the operator's state keeps
compact JSON, not typed objects), retries with Retry-After, kopf's login on 401, errors
as `ApiError` with the API server's Status. What is left here is that wrapper plus five
calls of httpx.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import kopf

from ..errors import AlertplaneError

FIELD_MANAGER = "alertplane"
RETRIES = 6  # transient answers (429, 5xx, connection errors): ~6 s in all
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class ApiError(AlertplaneError):
    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}  # the API server's Status object (reason, message, details)


def login(kubeconfig: str | None = None) -> kopf.ConnectionInfo:
    """--kubeconfig FILE, else in-cluster, else $KUBECONFIG or ~/.kube/config."""
    settings = kopf.OperatorSettings()
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig  # kopf's reader takes it from the environment
        info = kopf.login_with_kubeconfig(settings=settings)
    elif os.path.exists(SA_TOKEN):
        info = kopf.login_with_service_account(settings=settings)
    else:
        info = kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise AlertplaneError(
            "no Kubernetes credentials found",
            "pass --kubeconfig, run in a pod with a ServiceAccount, or set KUBECONFIG",
        )
    return info


class KubeClient:
    def __init__(
        self,
        credentials: Callable[[], kopf.ConnectionInfo],
        timeout: float = 30.0,
        fence: Callable[[], None] | None = None,
        agent: str | None = None,
    ):
        """`fence`: called before every write (each attempt), raises when this process may
        not write now (an operator replica that does not hold the leader Lease,
        k8s/leader.py). `agent`: the User-Agent, so the audit log names the replica."""
        self._credentials = credentials
        self._timeout = timeout
        self._fence = fence
        self._agent = agent
        self._lock = threading.Lock()
        self.info = credentials()
        self._http = self._connect(self.info)

    def _connect(self, info: kopf.ConnectionInfo) -> httpx.Client:
        headers = info.as_http_headers()
        if self._agent:
            headers["User-Agent"] = self._agent
        return httpx.Client(
            base_url=info.server,
            verify=info.as_ssl_context(),
            headers=headers,
            timeout=self._timeout,
        )

    def _relogin(self) -> None:
        with self._lock:
            old = self._http
            self.info = self._credentials()
            self._http = self._connect(self.info)
            old.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else {}
        relogged = False
        for attempt in range(1, RETRIES + 1):
            if self._fence is not None and method != "GET":
                self._fence()  # as late as possible: a retry may come seconds later
            try:
                resp = self._http.request(
                    method, path, content=content, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt == RETRIES:
                    raise ApiError(0, f"{method} {path}: {exc}") from exc
                time.sleep(_backoff(attempt))
                continue
            except httpx.HTTPError as exc:
                raise ApiError(0, f"{method} {path}: {exc}") from exc
            if resp.status_code == 401 and not relogged:
                relogged = True
                self._relogin()
                continue
            if resp.status_code in RETRY_STATUS and attempt < RETRIES:
                time.sleep(_backoff(attempt, resp.headers.get("Retry-After")))
                continue
            if resp.status_code >= 400:
                raise ApiError(resp.status_code, f"{method} {path}: {_reason(resp)}", _status(resp))
            data = resp.json() if resp.content else {}
            return data if isinstance(data, dict) else {}
        raise AssertionError("unreachable")

    # -- conveniences ------------------------------------------------------------------
    def get(self, path: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str, label_selector: str | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, str] = {"limit": "500"}
        if label_selector:
            params["labelSelector"] = label_selector
        while True:
            page = self.request("GET", path, params=params)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return
            params["continue"] = token

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply: create or update in one call, owning the fields we set."""
        return self.request(
            "PATCH",
            path,
            body,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type="application/apply-patch+yaml",
        )

    def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "PATCH",
            path,
            body,
            params={"fieldManager": FIELD_MANAGER},
            content_type="application/merge-patch+json",
        )

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body, params={"fieldManager": FIELD_MANAGER})

    def delete(self, path: str) -> bool:
        try:
            self.request("DELETE", path)
            return True
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise


def _backoff(attempt: int, retry_after: str | None = None) -> float:
    if retry_after and retry_after.isdigit():
        return min(float(retry_after), 5.0)
    return float(min(0.1 * 2**attempt, 2.0))


def _status(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _reason(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"
    if isinstance(data, dict) and data.get("message"):
        return f"HTTP {resp.status_code}: {data['message']}"
    return f"HTTP {resp.status_code}"
