"""Who made a change of a custom resource (k8s/changes.py), without a cluster: the REST
API's audit annotations are believed only for changes `alertplane-api` made itself, and,
with the admission webhook and `--api-service-account`, only when the webhook admitted the
change for the API's ServiceAccount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alertplane.errors import ObjectRef, UsageError
from alertplane.k8s.changes import Change, api_change, attribute, service_account_user
from alertplane.k8s.state import DELETE, ClusterState
from alertplane.kube.signing import SIGNATURE, load_key, sign
from tests.support.factories import alert

ALERT = "CustomerAlert"

# -- who made a change: the operator's reading of the API's annotations (no cluster) ------

NOTES = {"alertplane.io/changed-by": "acme-team", "alertplane.io/change-source": "api"}
OWNS_NOTES = {"f:metadata": {"f:annotations": {f"f:{k}": {} for k in NOTES}}}


def _mf(manager: str, time: str, *fields: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for f in fields:
        merged.update(f)
    return {"manager": manager, "operation": "Update", "time": time, "fieldsV1": merged}


SPEC = {"f:spec": {"f:expr": {}}}


@pytest.mark.parametrize(
    ("managed", "deleting", "expected"),
    [
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES)], False,
         ("acme-team", "api")),
        # kubectl changed the spec after the API: the annotations are stale, not believed.
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES),
          _mf("kubectl-edit", "2026-01-01T00:00:05Z", SPEC)], False, None),
        # Someone wrote the annotations themselves (they own them): forged, not believed.
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC),
          _mf("kubectl-annotate", "2026-01-01T00:00:05Z", OWNS_NOTES)], False, None),
        # A delete: the API's last update (annotations only) is the newest change.
        ([_mf("kubectl-client-side-apply", "2026-01-01T00:00:01Z", SPEC),
          _mf("alertplane-api", "2026-01-01T00:00:09Z", OWNS_NOTES),
          _mf("alertplane", "2026-01-01T00:00:10Z", {"f:metadata": {"f:finalizers": {}}})],
         True, ("acme-team", "api")),
        # ... but not when someone else changed the object after it.
        ([_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES),
          _mf("kubectl-label", "2026-01-01T00:00:05Z", {"f:metadata": {"f:labels": {}}})],
         True, None),
    ],
    ids=["api-write", "kubectl-after", "forged-annotations", "api-delete", "other-after"],
)  # fmt: skip
def test_api_annotations_count_only_for_the_apis_own_changes(
    managed: list[dict[str, Any]], deleting: bool, expected: tuple[str, str] | None
) -> None:
    meta = {"annotations": dict(NOTES), "managedFields": managed}
    assert api_change(meta, deleting) == expected
    assert api_change({"managedFields": managed}, deleting) is None  # no annotations


API_USER = service_account_user("alertplane-system/alertplane-api")
API_WRITE = [_mf("alertplane-api", "2026-01-01T00:00:01Z", SPEC, OWNS_NOTES)]


@pytest.mark.parametrize(
    ("api_user", "admitted", "expected"),
    [
        # Webhook on, the API's account known: its own admitted change is the token's.
        (API_USER, API_USER, ("acme-team", "api")),
        # Someone else wrote as field manager alertplane-api with the annotations: the
        # webhook saw who it was, and that user is recorded.
        (API_USER, "kubeenv-admin", ("kubeenv-admin", "kubernetes")),
        # Nobody admitted it (webhook failurePolicy Ignore, or not called): not believed.
        (API_USER, "", ("alertplane-api", "kubernetes")),
        # Without --api-service-account only the managedFields rule applies.
        (None, "kubeenv-admin", ("acme-team", "api")),
    ],
    ids=["api-account", "other-user", "not-admitted", "no-account-flag"],
)
def test_api_annotations_need_the_apis_account_when_known(
    api_user: str | None, admitted: str, expected: tuple[str, str]
) -> None:
    state = ClusterState(api_user=api_user)
    seen: list[Change] = []
    state.on_change.append(seen.append)
    doc = alert("acme", "Trust")
    ref = ObjectRef(ALERT, "acme", "acme-trust")
    meta = {"uid": "u1", "generation": 1, "annotations": dict(NOTES), "managedFields": API_WRITE}
    doc["metadata"].update(meta)
    if admitted:
        state.admitted(ref, 1, admitted)
    state.observe(doc)
    assert [(c.actor, c.source) for c in seen] == [expected]

    # The delete: the API's last update names the token; the DELETE's admitted user decides.
    notes_update = _mf("alertplane-api", "2026-01-01T00:00:09Z", OWNS_NOTES)
    if admitted:
        state.admitted(ref, DELETE, admitted)
    gone = {**meta, "managedFields": [*API_WRITE, notes_update]}
    state.forget(ALERT, "acme", "acme-trust", gone)
    deleter = ("unknown", "kubernetes") if expected[0] == "alertplane-api" else expected
    assert [(c.actor, c.source, c.spec) for c in seen[1:]] == [(*deleter, None)]


# -- the API's signature (--attribution-key-file): forgeries without the key -------------

KEY = b"k" * 32
SIGNED_SPEC = {"customerId": "acme", "alertName": "Trust", "expr": "up == 0", "for": 1.0}
AT = "2026-01-01T00:00:01.500000Z"  # the API's clock, just before its request
SERVER_AT = "2026-01-01T00:00:01Z"  # the API server's (whole seconds) for that request
LATER = "2026-01-01T01:00:01Z"  # an hour later: a replay
UID = "u1"
META_KEYS = ("namespace", "name", "generation", "uid", "creationTimestamp", "deletionTimestamp")


def _signed_meta(
    generation: int = 1, deleting: bool = False, signed_uid: str = UID, **changes: Any
) -> dict[str, Any]:
    """What the API writes: its notes, signed for acme/acme-trust (`signed_uid`: "" for a
    create) at `generation`; the object created (deleted) when the API wrote it."""
    signature = sign(
        KEY, namespace="acme", name="acme-trust", actor="acme-team", source="api",
        changed_at=AT, generation=generation, spec=SIGNED_SPEC, deleting=deleting,
        uid=signed_uid,
    )  # fmt: skip
    notes = {**NOTES, "alertplane.io/changed-at": AT, SIGNATURE: signature}
    meta = {"namespace": "acme", "name": "acme-trust", "generation": generation, "uid": UID}
    meta |= {"creationTimestamp": SERVER_AT, "annotations": notes, "managedFields": API_WRITE}
    if deleting:
        meta["deletionTimestamp"] = SERVER_AT
    for key, value in changes.items():
        if key in META_KEYS:
            meta[key] = value
        else:
            notes[key] = value
    return meta


FORGED = ("alertplane-api", "kubernetes")  # the field manager, as without annotations


@pytest.mark.parametrize(
    ("meta", "spec", "key", "expected"),
    [
        (_signed_meta(), SIGNED_SPEC, KEY, ("acme-team", "api")),
        # The API server stores 1.0 as 1: the same spec, still valid.
        (_signed_meta(), {**SIGNED_SPEC, "for": 1}, KEY, ("acme-team", "api")),
        (_signed_meta(**{"alertplane.io/changed-by": "platform-admin"}), SIGNED_SPEC, KEY,
         FORGED),
        (_signed_meta(**{"alertplane.io/change-source": "import"}), SIGNED_SPEC, KEY, FORGED),
        (_signed_meta(), {**SIGNED_SPEC, "expr": "up == 1"}, KEY, FORGED),
        (_signed_meta(generation=1) | {"generation": 2}, SIGNED_SPEC, KEY, FORGED),
        (_signed_meta(name="acme-other"), SIGNED_SPEC, KEY, FORGED),
        (_signed_meta(namespace="globex"), SIGNED_SPEC, KEY, FORGED),
        (_signed_meta(), SIGNED_SPEC, b"x" * 32, FORGED),
        (_signed_meta(**{SIGNATURE: ""}), SIGNED_SPEC, KEY, FORGED),
        # No key configured: today's managedFields rule (the operator warns at start).
        (_signed_meta(**{"alertplane.io/changed-by": "platform-admin"}), SIGNED_SPEC, None,
         ("platform-admin", "api")),
    ],
    ids=["valid", "integral-float", "tampered-actor", "tampered-source", "other-spec",
         "other-generation", "other-object", "other-namespace", "other-key",
         "no-signature", "no-key"],
)  # fmt: skip
def test_signed_annotations_count_only_for_exactly_what_was_signed(
    meta: dict[str, Any], spec: dict[str, Any], key: bytes | None, expected: tuple[str, str]
) -> None:
    assert attribute(meta, False, "", None, key, spec) == expected


@pytest.mark.parametrize(
    ("meta", "deleting", "expected"),
    [
        # A create, signed before its uid existed: believed at the server's create time.
        (_signed_meta(signed_uid=""), False, ("acme-team", "api")),
        # ... replayed onto the name deleted and created again later: a new creation time.
        (_signed_meta(signed_uid="", creationTimestamp=LATER), False, FORGED),
        (_signed_meta(signed_uid="", uid="u2", creationTimestamp=LATER), False, FORGED),
        # An update's signature names the uid: not valid on a recreated object (new uid)
        # edited to the same generation and spec.
        (_signed_meta(generation=3, uid="u2"), False, FORGED),
        # A create's signature is only a generation 1's.
        (_signed_meta(generation=3, signed_uid=""), False, FORGED),
        # Deletes: made when the API server says the delete happened, on that uid.
        (_signed_meta(deleting=True), True, ("acme-team", "api")),
        (_signed_meta(deleting=True, uid="u2"), True, ("unknown", "kubernetes")),
        # A delete signature left behind (failed DELETE), used by a later kubectl delete.
        (_signed_meta(deleting=True, deletionTimestamp=LATER), True, ("unknown", "kubernetes")),
        (_signed_meta(deleting=True, deletionTimestamp=None), True, ("unknown", "kubernetes")),
        (_signed_meta(deleting=True, **{"alertplane.io/changed-at": "yesterday"}), True,
         ("unknown", "kubernetes")),
    ],
    ids=["create", "create-replayed", "create-replayed-new-uid", "update-other-uid",
         "create-signature-later", "delete", "delete-other-uid", "delete-stale",
         "delete-no-timestamp", "delete-bad-changed-at"],
)  # fmt: skip
def test_signatures_are_not_valid_on_a_recreated_object_or_later(
    meta: dict[str, Any], deleting: bool, expected: tuple[str, str]
) -> None:
    assert attribute(meta, deleting, "", None, KEY, SIGNED_SPEC) == expected


def test_a_writes_signature_does_not_attribute_a_delete() -> None:
    # kubectl delete right after an API write: the write's signed notes are still there.
    assert attribute(_signed_meta(), True, "", None, KEY, SIGNED_SPEC) == ("unknown", "kubernetes")
    deleted = _signed_meta(deleting=True)
    assert attribute(deleted, True, "", None, KEY, SIGNED_SPEC) == ("acme-team", "api")
    # ... and a delete's notes do not attribute a write.
    assert attribute(deleted, False, "", None, KEY, SIGNED_SPEC) == FORGED


def test_cluster_state_verifies_with_its_key() -> None:
    state = ClusterState(attribution_key=KEY)
    seen: list[Change] = []
    state.on_change.append(seen.append)
    doc = alert("acme", "Trust")
    doc["spec"] = dict(SIGNED_SPEC)
    doc["metadata"].update({"uid": "u1", **_signed_meta()})
    state.observe(doc)
    forged = {**doc, "metadata": {**doc["metadata"], "generation": 2}}
    forged["spec"] = {**SIGNED_SPEC, "expr": "up == 1"}
    state.observe(forged)
    assert [(c.generation, c.actor, c.source) for c in seen] == [
        (1, "acme-team", "api"),
        (2, *FORGED),
    ]


def test_attribution_key_file_is_checked(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(UsageError, match="too short"):
        load_key(str(short))
    with pytest.raises(UsageError, match="mount the attribution key Secret"):
        load_key(str(tmp_path / "missing"))
    good = tmp_path / "good"
    good.write_bytes(KEY + b"\n")
    assert load_key(str(good)) == KEY
