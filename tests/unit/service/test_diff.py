"""service/diff.compare, pure: clear secrets (Kubernetes mode keeps them in the object)
never reach a diff, per object or rendered; an object given to another customer renders
both customers; unchanged input renders nothing."""

from __future__ import annotations

from alertplane.errors import Source
from alertplane.manifests import Document
from alertplane.model.common import dump_spec
from alertplane.model.records import ObjectRecord
from alertplane.render.platform import PlatformConfig
from alertplane.service.diff import CHANGED, UNCHANGED, compare
from tests.support.factories import alert, obj, receiver

SECRET = "https://hooks.slack.example/services/T0/B0/very-secret"
PLATFORM = PlatformConfig()


def docs(*manifests: dict[str, object]) -> list[Document]:
    return [Document(Source("in", n), m) for n, m in enumerate(manifests, 1)]


def stored(*manifests: dict[str, object]) -> list[ObjectRecord]:
    """As a source holds them: specs in the model's shape (the store writes them so,
    `alertplane diff --kubernetes` reads the cluster's so)."""
    out = []
    for n, m in enumerate(manifests, 1):
        rec = ObjectRecord.from_manifest(m, serial=n)
        rec.spec = dump_spec(obj(m).spec)
        out.append(rec)
    return out


def test_clear_secrets_never_in_any_diff() -> None:
    before = receiver(slack=[{"apiURL": SECRET, "channel": "#a"}])
    after = receiver(slack=[{"apiURL": SECRET + "-rotated", "channel": "#b"}])
    report = compare(stored(before), docs(after), PLATFORM)
    assert [o.action for o in report.objects] == [CHANGED]
    texts = [o.diff for o in report.objects] + [o.diff for o in report.outputs]
    assert [o.path for o in report.outputs] == ["alertmanager.yml"]
    assert '-    channel: "#a"\n+    channel: "#b"\n' in report.outputs[0].diff
    assert '  - api_url: "<redacted>"\n' in report.outputs[0].diff
    assert not any("very-secret" in t for t in texts)
    assert any("<redacted>" in t for t in texts)


def test_an_object_given_to_another_customer_renders_both() -> None:
    old = alert("globex")
    new = alert("acme")
    new["metadata"] = dict(old["metadata"])  # acme's document at globex's identity
    report = compare(stored(old), docs(new), PLATFORM)
    assert [(o.customer, o.action) for o in report.objects] == [("acme", CHANGED)]
    assert sorted(o.path for o in report.outputs) == [
        "alertmanager.yml",
        "rules/acme.yml",
        "rules/globex.yml",
    ]
    removed = [o for o in report.outputs if o.path == "rules/globex.yml"]
    assert removed[0].action == "removed"


def test_unchanged_renders_nothing() -> None:
    same = alert()
    report = compare(stored(same, receiver()), docs(same, receiver()), PLATFORM)
    assert [o.action for o in report.objects] == [UNCHANGED, UNCHANGED]
    assert report.outputs == [] and not report.changed
