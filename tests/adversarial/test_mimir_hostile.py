"""The Mimir sink against a hostile customer and a careless platform: secrets that Mimir
quotes back in escaped form, a gateway answering 200 with a login page, and Mimir answering
megabytes of words that would end up in a status.

The Mimir answers here are served by a small HTTP server on loopback where they are faults
(a gateway's HTML, a huge body) a healthy Mimir does not produce on demand; a Mimir run
without multitenancy is the real one. The refusal of
a configuration is quoted verbatim from the real Mimir 3.0.5 (hack/mimir/build.sh).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alertplane.render.mimir import TenantConfig, scrub
from alertplane.render.platform import PlatformConfig
from alertplane.sinks import mimir_client
from alertplane.sinks.base import SinkError
from alertplane.sinks.mimir import RULER, MimirSink
from alertplane.sinks.mimir_client import MimirClient, MimirUnavailable
from alertplane.sinks.mimir_tenant import Tenant
from tests.support.mimir_env import Mimir

# (method, path) → (status, body); anything else: 404
Answers = dict[tuple[str, str], tuple[int, bytes]]


@pytest.fixture
def fake_mimir() -> Iterator[tuple[str, Answers]]:
    answers: Answers = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = answers.get((self.command, self.path), (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("secret", "mimir_said"),
    [
        # A Secret made with `kubectl create secret --from-file` (or `echo url > file`)
        # ends in a newline; Mimir's url.Parse error quotes the value Go-style (%q).
        (
            "https://hooks.slack.com/services/T0/B0/SECRETXYZ\n",
            'error validating Alertmanager config: parse "https://hooks.slack.com/'
            'services/T0/B0/SECRETXYZ\\n": net/url: invalid control character in URL\n',
        ),
        (
            'https://hooks.slack.com/services/SECRET"XYZ\x7f',
            'error validating Alertmanager config: parse "https://hooks.slack.com/'
            'services/SECRET\\"XYZ\\x7f": net/url: invalid control character in URL\n',
        ),
    ],
)
def test_a_secret_mimir_quotes_go_style_is_scrubbed(secret: str, mimir_said: str) -> None:
    """Adversarial: Mimir echoes an unparsable secret URL escaped (Go's %q), so the plain
    value is not in its words; they must still not reach a status or a log."""
    said = scrub(mimir_said, [secret])
    assert "SECRET" not in said, said
    assert "<secret>" in said


def test_a_refused_configuration_never_shows_the_secret(
    fake_mimir: tuple[str, Answers],
) -> None:
    """Adversarial: the refusal (verbatim Mimir words) of a config whose secret holds
    whitespace Mimir keeps: the status message is scrubbed before it is reflowed."""
    url, answers = fake_mimir
    secret = "https://hooks.slack.com/services/T0/B0/SECRET  XYZ"
    answers["POST", "/api/v1/alerts"] = (
        400,
        b"error validating Alertmanager config: parse "
        b'"https://hooks.slack.com/services/T0/B0/SECRET  XYZ": invalid character',
    )
    tenant = Tenant(MimirClient(url), "acme")
    want = TenantConfig("body", "# generated\nconfig", (secret,))
    with pytest.raises(SinkError) as err:
        tenant.push_config(want)
    assert "SECRET" not in str(err.value), str(err.value)


@pytest.mark.parametrize(
    "path", ["/ruler/tenants", "/prometheus/api/v1/rules"], ids=["tenants", "loaded"]
)
def test_a_gateway_login_page_answered_200_is_a_sink_error(
    fake_mimir: tuple[str, Answers], path: str
) -> None:
    """Careless operator: the gateway in front of Mimir answers 200 with an HTML login
    page. Before, json.loads raised out of the pass (statuses never saved, a traceback);
    now the sink says what Mimir answered."""
    url, answers = fake_mimir
    answers["GET", path] = (200, b"<html><body>Please log in</body></html>")
    sink = MimirSink(MimirClient(url), PlatformConfig(), lambda: lambda *_: None)
    if path == "/ruler/tenants":
        with pytest.raises(SinkError, match="not JSON"):
            sink.generated_outputs()
        return
    sink.want_rules["acme"] = {"alertplane-x": [{"name": "acme-x", "rules": []}]}
    outcome = sink.make_live([])[RULER]
    assert not outcome.ok and "not JSON" in outcome.message, outcome.message


@pytest.mark.parametrize("json_kind", [b"[]", b'"x"', b'{"data": "x", "tenants": "x"}'])
def test_json_of_the_wrong_shape_is_a_sink_error(
    fake_mimir: tuple[str, Answers], json_kind: bytes
) -> None:
    """Careless operator: a 200 whose JSON is not Mimir's shape (another service)."""
    url, answers = fake_mimir
    answers["GET", "/ruler/tenants"] = (200, json_kind)
    answers["GET", "/prometheus/api/v1/rules"] = (200, json_kind)
    sink = MimirSink(MimirClient(url), PlatformConfig(), lambda: lambda *_: None)
    with pytest.raises(SinkError):
        sink.generated_outputs()
    sink.want_rules["acme"] = {"alertplane-x": [{"name": "acme-x", "rules": []}]}
    assert not sink.make_live([])[RULER].ok


def test_megabytes_of_refusal_stay_out_of_the_status(fake_mimir: tuple[str, Answers]) -> None:
    """Hostile/careless: Mimir (or a proxy) answers a refusal with megabytes of text; it
    went whole into the object's status (the DB row, a Kubernetes status patch over
    etcd's limit) and the log. Each quote of Mimir is bounded."""
    url, answers = fake_mimir
    huge = b"bad rule " + b"x" * 2_000_000
    answers["POST", "/prometheus/config/v1/rules/alertplane-x"] = (400, huge)
    answers["POST", "/api/v1/alerts"] = (400, huge)
    answers["DELETE", "/prometheus/config/v1/rules/alertplane-old"] = (400, huge)
    tenant = Tenant(MimirClient(url), "acme")
    _, refusals = tenant.push_rules({"alertplane-x": [{"name": "acme-x", "rules": []}]})
    assert refusals and len(refusals[0]) < 4000, len(refusals[0])
    with pytest.raises(SinkError) as err:
        tenant.push_config(TenantConfig("body", "# generated\nconfig", ()))
    assert len(str(err.value)) < 4000
    assert tenant.groups is not None
    tenant.groups["alertplane-old"] = {"g": "print"}
    with pytest.raises(SinkError) as err:
        tenant.push_rules({})
    assert len(str(err.value)) < 4000


def test_a_mimir_trickling_its_answer_does_not_hold_the_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hostile network / a starved proxy: Mimir's answer arrives a byte at a time, each
    within the socket timeout, so the timeout never fires and a pass waited as long as the
    body lasted (up to 64 MB). Each attempt has a deadline for the whole answer now."""
    monkeypatch.setattr(mimir_client, "TIMEOUT_S", 0.5)
    monkeypatch.setattr(mimir_client, "ATTEMPTS", 1)
    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)

        def trickle() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
                while not stop.wait(0.05):
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        return

        server = threading.Thread(target=trickle, daemon=True)
        server.start()
        client = MimirClient(f"http://127.0.0.1:{listener.getsockname()[1]}")
        outcome: list[object] = []

        def ask() -> None:
            try:
                outcome.append(client.call("GET", "/ruler/tenants", None))
            except SinkError as exc:
                outcome.append(exc)

        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        asker.join(30)  # generous: the deadline is 3 × 0.5 s; before, ~58 days
        stop.set()
    assert outcome, "the request is still reading the trickle"
    assert isinstance(outcome[0], MimirUnavailable), outcome
    assert "did not finish answering" in str(outcome[0])


def test_a_mimir_that_does_not_separate_tenants_is_refused(tmp_path: Path) -> None:
    """Careless operator: the real Mimir run with `-auth.multitenancy-enabled=false` (or a
    gateway rewriting X-Scope-OrgID) puts every customer into ONE tenant (`anonymous`).
    Before, each customer's push deleted the other customers' groups in the namespace it
    shares with them (and the first sync deleted every customer's, as the orphan tenant
    `anonymous`); now alertplane sees another customer's groups and writes nothing."""
    with Mimir(tmp_path, extra=["-auth.multitenancy-enabled=false"]) as mimir:
        client = MimirClient(mimir.url)
        rule = {"alert": "Down", "expr": "up == 0"}
        acme = Tenant(client, "acme")
        acme.push_rules({"alertplane-x": [{"name": "acme-x", "rules": [rule]}]})
        zeta = Tenant(client, "zeta")
        with pytest.raises(SinkError, match="multitenancy"):
            zeta.push_rules({"alertplane-x": [{"name": "zeta-x", "rules": [rule]}]})
        with pytest.raises(SinkError, match="multitenancy"):
            Tenant(client, "anonymous").push_rules({})  # the first sync's orphan clean-up
        status, text = mimir.get("/prometheus/config/v1/rules", "acme")
    assert status == 200 and "acme-x" in text and "zeta-x" not in text, text


@pytest.mark.parametrize(
    "content", ["tok-SECRET\nsecond-SECRET\n", "tok-SECRET\r\nold-SECRET", "  \n"]
)
def test_a_token_file_of_several_lines_never_shows_the_token(
    fake_mimir: tuple[str, Answers], tmp_path: Path, content: str
) -> None:
    """Careless operator: a token file holding two tokens (a rotation appended) or none.
    Before, http.client refused the header with ValueError('Invalid header value
    b"Bearer tok-SECRET\\nsecond-SECRET"'), a traceback with the token in the log."""
    url, _ = fake_mimir
    token = tmp_path / "token"
    token.write_text(content)
    client = MimirClient(url, str(token))
    with pytest.raises(SinkError) as err:
        client.call("GET", "/ruler/tenants", None)
    assert "SECRET" not in str(err.value) and "--mimir-token-file" in str(err.value)


@pytest.mark.parametrize("status", [403, 429])
def test_one_tenant_refused_does_not_block_the_others(
    fake_mimir: tuple[str, Answers], tmp_path: Path, status: int
) -> None:
    """Hostile/careless: the gateway forbids one tenant (403: suspended) or Mimir limits
    its request rate (429, per tenant). Before, that answer failed the whole write: no
    customer sorted after it was ever pushed. Now that customer is Failed with the answer,
    the others are pushed, and the pass is retried."""
    url, answers = fake_mimir
    seen: list[str] = []

    class Client(MimirClient):
        def call(self, method: str, path: str, tenant: str | None, body: str | None = None):  # type: ignore[no-untyped-def]
            seen.append(f"{method} {path} {tenant}")
            if tenant == "acme":
                return mimir_client.Answer(status, "tenant acme: no")
            return super().call(method, path, tenant, body)

    answers["POST", "/prometheus/config/v1/rules/alertplane-errors"] = (202, b"{}")
    sink = MimirSink(Client(url), PlatformConfig(), lambda: lambda *_: None)
    monkey = pytest.MonkeyPatch()
    monkey.setattr("alertplane.sinks.mimir.check_output", lambda files: None)
    try:
        rules = "groups:\n- name: {c}-errors\n  rules:\n  - alert: A\n    expr: up == 0\n"
        written = sink.write({f"rules/{c}.yml": rules.format(c=c) for c in ("acme", "zeta")}, {})
    finally:
        monkey.undo()
    assert "POST /prometheus/config/v1/rules/alertplane-errors zeta" in seen, seen
    assert written == ["rules/zeta.yml"]
    failed = sink.liveness("rules/acme.yml", "acme")
    assert not failed.synced and f"HTTP {status}" in failed.message, failed
    outcome = sink.make_live(written)
    assert any(not o.ok and "acme" in o.message for o in outcome.values()), outcome
