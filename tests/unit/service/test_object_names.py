"""Object names derived from alert names (service/objects.py object_name) and their URL
path segments (segment/restore): Kubernetes names, deterministic, distinct."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from alertplane.api.pathnames import _decode
from alertplane.model.common import MAX_ALERT_NAME, is_dns_subdomain
from alertplane.service.objects import object_name, restore, segment

_NAMES = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=MAX_ALERT_NAME
)


def test_plain_names_keep_their_readable_object_name() -> None:
    assert object_name("acme", "HighErrorRate") == "acme-higherrorrate"
    assert object_name("acme", "High_Error") == "acme-high-error"
    assert object_name("acme", "Cert-managerAbsent") == "acme-cert-managerabsent"
    assert object_name("acme", "oncall") == "acme-oncall"  # receivers


def test_other_names_carry_a_hash_of_the_exact_name() -> None:
    assert object_name("acme", "Disk > 90%") == "acme-disk-90-ab8be0f9"
    assert object_name("acme", "Disk 90") != object_name("acme", "Disk > 90%")
    assert object_name("acme", "中文告警").startswith("acme-object-")
    assert object_name("acme", "a..b").startswith("acme-a-b-")  # never `..` in a name


@given(a=_NAMES, b=_NAMES, customer=st.sampled_from(["acme", "c" * 63, "a"]))
def test_object_names_are_kubernetes_names_the_same_for_the_same_name(
    a: str, b: str, customer: str
) -> None:
    for name in (a, b):
        derived = object_name(customer, name)
        assert is_dns_subdomain(derived) and len(derived) <= 253
        assert derived == object_name(customer, name)
        assert is_dns_subdomain(object_name(customer, name, salted=True))
    if a != b and object_name(customer, a) == object_name(customer, b):
        # Only plain names (letters, digits, '_', '-') can share one: the salted
        # fallback then tells them apart.
        assert object_name(customer, a, salted=True) != object_name(customer, b, salted=True)


@given(name=_NAMES)
def test_a_segment_is_one_step_and_restores_to_the_name(name: str) -> None:
    seg = segment(name)
    assert "/" not in seg and seg not in (".", "..")
    # What the HTTP app routes: every escape decoded but %2F and %25 (api/pathnames.py).
    routed = _decode(seg.encode("ascii"))
    assert "/" not in routed
    assert restore(routed) == name
