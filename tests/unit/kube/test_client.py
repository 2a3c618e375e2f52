"""The hand-written Kubernetes client (kube/client.py) against a fake API server: retries,
the 401 re-login, 404s, paging and the API server's Status on errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import kopf
import pytest

from alertplane.kube import client as kube_client
from alertplane.kube.client import ApiError, KubeClient

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClient(KubeClient):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.logins = 0
        super().__init__(self._login)

    def _login(self) -> kopf.ConnectionInfo:
        self.logins += 1
        return kopf.ConnectionInfo(server="https://kube.test", token=f"token-{self.logins}")

    def _connect(self, info: kopf.ConnectionInfo) -> httpx.Client:
        return httpx.Client(
            base_url=info.server,
            headers=info.as_http_headers(),
            transport=httpx.MockTransport(self.handler),
        )


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_client, "_backoff", lambda *_: 0.0)


def test_transient_answers_are_retried() -> None:
    answers = iter([503, 429, 200])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        status = next(answers)
        return httpx.Response(status, json={"kind": "ConfigMap"} if status == 200 else {})

    assert FakeClient(handler).get("/api/v1/namespaces/x/configmaps/y") == {"kind": "ConfigMap"}
    assert seen == ["GET", "GET", "GET"]


def test_401_logs_in_again_once() -> None:
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["Authorization"])
        return httpx.Response(401 if len(tokens) < 3 else 200, json={})

    client = FakeClient(handler)
    with pytest.raises(ApiError) as refused:
        client.get("/api/v1/namespaces")
    assert refused.value.status == 401
    assert tokens == ["Bearer token-1", "Bearer token-2"]
    assert client.logins == 2


def test_not_found() -> None:
    client = FakeClient(lambda request: httpx.Response(404, json={"reason": "NotFound"}))
    assert client.get("/api/v1/namespaces/gone") is None
    assert client.delete("/api/v1/namespaces/gone") is False


def test_error_carries_the_status_object() -> None:
    status = {"kind": "Status", "reason": "Invalid", "message": "spec.x: Required value"}
    client = FakeClient(lambda request: httpx.Response(422, json=status))
    with pytest.raises(ApiError) as refused:
        client.create("/api/v1/namespaces/x/configmaps", {"kind": "ConfigMap"})
    assert refused.value.status == 422
    assert refused.value.body == status
    assert "HTTP 422: spec.x: Required value" in str(refused.value)


def test_list_follows_continue_tokens() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["limit"] == "500"
        assert params["labelSelector"] == "app=x"
        if params.get("continue") == "page2":
            return httpx.Response(200, json={"items": [{"n": 2}], "metadata": {}})
        return httpx.Response(200, json={"items": [{"n": 1}], "metadata": {"continue": "page2"}})

    items = FakeClient(handler).list("/api/v1/configmaps", label_selector="app=x")
    assert list(items) == [{"n": 1}, {"n": 2}]


def test_apply_and_merge_patch_say_what_they_are() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={})

    client = FakeClient(handler)
    client.apply("/api/v1/namespaces/x/configmaps/y", {"data": {}})
    client.merge_patch("/api/v1/namespaces/x/configmaps/y", {"data": {"a": "b"}})
    apply, merge = requests
    assert apply.method == merge.method == "PATCH"
    assert apply.headers["Content-Type"] == "application/apply-patch+yaml"
    assert dict(apply.url.params) == {"fieldManager": "alertplane", "force": "true"}
    assert merge.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(merge.content) == {"data": {"a": "b"}}
