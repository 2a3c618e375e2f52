"""The chart's operator replicas (`helm template`, real helm): two by default electing a
leader through a Lease (its Role grants exactly the Lease calls), a PodDisruptionBudget,
a RollingUpdate; one replica renders none of it. The election itself runs on a real API
server in test_operator_leader.py, with the flags and the Role rendered here."""

from __future__ import annotations

from tests.support.helm import FULLNAME, NS, Helm, argv, container, kinds, one

LEADER_FLAGS = [
    "--leader-elect",
    f"--leader-election-namespace={NS}",
    f"--leader-election-name={FULLNAME}",
    "--leader-lease-duration=15",
    "--leader-renew-deadline=10",
    "--leader-retry-period=2",
]


def test_two_replicas_elect_a_leader_by_default(helm: Helm) -> None:
    docs = helm.template()
    deploy = one(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    # An overlapping rollout is safe with an election: the new pod stands by.
    assert deploy["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    args = argv(docs)
    assert args[args.index("--leader-elect") :][: len(LEADER_FLAGS)] == LEADER_FLAGS
    env = {e["name"]: e.get("valueFrom") for e in container(docs)["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}

    role = one(docs, "Role", f"{FULLNAME}-leader", NS)
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [FULLNAME],
            "verbs": ["get", "update"],
        },
    ]
    binding = one(docs, "RoleBinding", f"{FULLNAME}-leader", NS)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NS}]

    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_election_settings_and_the_budget_are_values(helm: Helm) -> None:
    docs = helm.template(
        {
            "replicas": 3,
            "leaderElection": {"leaseDuration": 30, "renewDeadline": 20, "retryPeriod": 4},
            "podDisruptionBudget": {"maxUnavailable": 2},
        }
    )
    assert one(docs, "Deployment")["spec"]["replicas"] == 3
    args = argv(docs)
    assert "--leader-lease-duration=30" in args and "--leader-retry-period=4" in args
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 2
    off = helm.template({"podDisruptionBudget": {"enabled": False}})
    assert "PodDisruptionBudget" not in kinds(off) and "--leader-elect" in argv(off)


def test_one_replica_has_no_election(helm: Helm) -> None:
    docs = helm.template({"replicas": 1})
    deploy = one(docs, "Deployment")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}  # never two writers
    assert not [a for a in argv(docs) if a.startswith("--leader")]
    assert "PodDisruptionBudget" not in kinds(docs)
    assert not [d for d in docs if d["metadata"]["name"] == f"{FULLNAME}-leader"]


def test_files_sink_needs_a_shared_volume_for_more_than_one_replica(helm: Helm) -> None:
    # By default one: an emptyDir per pod would leave a new leader writing where nobody reads.
    alone = helm.template({"sink": {"type": "files"}})
    assert one(alone, "Deployment")["spec"]["replicas"] == 1
    assert "--leader-elect" not in argv(alone)
    error = helm.template_error({"sink": {"type": "files"}, "replicas": 2})
    assert "replicas > 1 with sink.type=files needs sink.files.existingClaim" in error
    shared = helm.template({"sink": {"type": "files", "files": {"existingClaim": "rwx"}}})
    assert one(shared, "Deployment")["spec"]["replicas"] == 2
    assert "--leader-elect" in argv(shared)
