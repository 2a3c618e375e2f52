"""The shape the lost updates were found in: a real `alertplane serve` (uvicorn, its own
process and database pool) and several HTTP clients writing one alert at once."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from alertplane.service.objects import object_name
from alertplane.store.db import open_db
from alertplane.store.repo import Store
from tests.adversarial.concurrency_env import Ack, at_once, check_chain, eventually, marker
from tests.support.api_env import alert_spec
from tests.support.api_serve import ApiServer

N = 40


def call(
    url: str, method: str, token: str, body: Any = None, if_match: str | None = None
) -> tuple[int, Any, str | None]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    if if_match is not None:
        headers["if-match"] = if_match
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw, status, tag = resp.read(), resp.status, resp.headers.get("etag")
    except urllib.error.HTTPError as exc:
        raw, status, tag = exc.read(), exc.code, exc.headers.get("etag")
    return status, json.loads(raw) if raw else None, tag


def spec(mark: str) -> dict[str, Any]:
    return alert_spec(annotations={"summary": "s", "description": mark})


def test_serve_concurrent_writers(db_url: str, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    created = subprocess.run(
        [sys.executable, "-m", "alertplane.cli", "token", "create", "acme-ci",
         "--role", "customer:acme", "--append", str(tokens)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = created.stdout.splitlines()[0]
    platform = tmp_path / "platform.yaml"
    platform.write_text(f"secretsDir: {tmp_path / 'secrets'}\n")
    out = tmp_path / "out"
    args = ["--db", db_url, "--out", str(out), "--platform-config", str(platform)]
    with ApiServer(tmp_path / "serve", [*args, "--tokens", str(tokens)], {}) as server:
        base = f"{server.url}/customers/acme/alerts"
        item = f"{base}/HighErrorRate"
        status, body, tag = call(base, "POST", token, spec("w-create"))
        assert status == 201, body
        status, body, tag = call(item, "PUT", token, spec("w-first"))
        assert (status, tag) == (200, '"2"'), body
        calls = []
        for i in range(N):
            calls.append(lambda i=i: ("put", f"p{i}", call(item, "PUT", token, spec(f"p{i}"))))
            if i % 4 == 0:
                on = {"enabled": bool(i % 8)}
                calls.append(
                    lambda on=on: ("patch", None, call(f"{item}/enabled", "PATCH", token, on))
                )
            if i % 10 == 0:
                calls.append(
                    lambda: ("stale", None, call(item, "PUT", token, spec("stale"), '"1"'))
                )
        acks = [Ack("create", 1, "w-create"), Ack("put", 2, "w-first")]
        for op, mark, (status, body, tag) in at_once(calls, workers=16):
            if op == "stale":
                assert status == 412 and body["problems"][0]["path"] == "If-Match", body
                continue
            assert status == 200, body
            assert tag == f'"{body["metadata"]["generation"]}"'
            if op == "put":
                acks.append(Ack("put", body["metadata"]["generation"], mark))
        store = Store(open_db(db_url))
        try:
            rows = store.history(name=object_name("acme", "HighErrorRate"), limit=100_000)
        finally:
            store.engine.dispose()
        check_chain(rows, acks)
        assert "stale" not in {marker(r.after) for r in rows}  # refused: left nothing

        def synced() -> Any:
            _, body, tag = call(item, "GET", token)
            st = body.get("status") or {}
            gen = body["metadata"]["generation"]
            return body if st.get("observedGeneration") == gen and tag == f'"{gen}"' else None

        final = eventually(synced, what="final generation observed")
        assert final["metadata"]["generation"] == rows[-1].generation
        assert final["spec"] == rows[-1].after
        rules = out / "rules" / "acme.yml"
        if final["spec"].get("enabled", True):
            assert final["status"]["phase"] == "Synced"
            assert f"description: {marker(final['spec'])}" in rules.read_text()
        else:
            assert final["status"]["phase"] == "Disabled"
