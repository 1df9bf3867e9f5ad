"""Pod requests (containers, init containers, sidecars, overhead, LimitRange, RuntimeClass), quantities in
every Kubernetes notation, node selectors and tolerations: small hand-checked cases."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capacity.k8s import quantities as q
from capacity.k8s.importer import build
from capacity.k8s.manifests import Manifest
from capacity.k8s.nodes import PoolDraft, parse_pool_option
from capacity.k8s.pods import PodContext, read_pod
from capacity.k8s.selectors import (
    LabelSelector,
    NodeConstraint,
    Requirement,
    Taint,
    Toleration,
    check_requirement,
    untolerated,
)
from capacity.units import parse_quantity, parse_quantity_exact

MIB, GIB = 2**20, 2**30


def pod(spec, labels=None, kind="Pod"):
    obj = {"apiVersion": "v1", "kind": kind,
           "metadata": {"name": "p", "namespace": "ns", "labels": labels or {}}, "spec": spec}
    return Manifest(obj=obj, file="test.yaml", doc=1, line=1)


def container(name, requests=None, limits=None, **extra):
    return {"name": name, "image": "x", "resources": {"requests": requests or {}, "limits": limits or {}},
            **extra}


def requests_of(spec, ctx=None):
    m = pod(spec)
    return read_pod(m, m.obj, "", ctx or PodContext())


# ---------------------------------------------------------------------------------------------- quantities

@pytest.mark.parametrize(("text", "exact"), [
    ("100m", Fraction(1, 10)), ("0.5", Fraction(1, 2)), ("1Gi", GIB), ("1G", 10**9), ("1e9", 10**9),
    ("128974848", 128974848), (128974848, 128974848), (0.1, Fraction(1, 10)), ("1.5Gi", 3 * GIB // 2),
    ("250000000n", Fraction(1, 4)), ("500u", Fraction(1, 2000)), ("1E3", 1000), (".5", Fraction(1, 2)),
    ("2k", 2000), ("64Mi", 64 * MIB), ("12e-3", Fraction(12, 1000)),
])
def test_every_kubernetes_notation_parses_exactly(text, exact):
    assert parse_quantity_exact(text) == exact
    assert parse_quantity(text) == pytest.approx(float(exact))


@pytest.mark.parametrize(("resource", "amount", "text"), [
    ("cpu", Fraction(21, 10), "2100m"), ("cpu", Fraction(4), "4"), ("memory", 256 * MIB, "256Mi"),
    ("memory", 10**9 + 128 * MIB, "1134217728"), ("memory", 31482240 * 1024, "31482240Ki"),
    ("nvidia.com/gpu", Fraction(1), "1"), ("cpu", Fraction(1, 4000), "250u"), ("cpu", Fraction(0), "0"),
])
def test_quantities_print_back_in_kubernetes_form(resource, amount, text):
    assert q.format_quantity(resource, amount) == text


@given(st.integers(0, 10**15), st.sampled_from([1, 1000, 10**6, 10**9]),
       st.sampled_from(["cpu", "memory", "nvidia.com/gpu", "ephemeral-storage", "pods"]))
def test_formatting_round_trips_exactly(n, scale, resource):
    amount = Fraction(n, scale)
    assert parse_quantity_exact(q.format_quantity(resource, amount)) == amount


# ---------------------------------------------------------------------------------------------- requests

def test_pod_request_is_max_of_containers_and_largest_init():
    info = requests_of({
        "initContainers": [container("init-big", {"cpu": "3", "memory": "64Mi"}),
                           container("init-small", {"cpu": "100m", "memory": "1Gi"})],
        "containers": [container("a", {"cpu": "500m", "memory": "256Mi"}),
                       container("b", {"cpu": "250m", "memory": "128Mi"})],
    })
    assert info.requests == {"cpu": 3, "memory": GIB}       # per resource: cpu from init, memory from init


def test_sidecars_count_like_containers_and_only_after_they_start():
    info = requests_of({
        "initContainers": [container("migrate", {"cpu": "2", "memory": "100Mi"}),      # before the sidecar
                           container("proxy", {"cpu": "1", "memory": "50Mi"}, restartPolicy="Always"),
                           container("warm", {"cpu": "1500m", "memory": "10Mi"})],     # beside the sidecar
        "containers": [container("app", {"cpu": "500m", "memory": "200Mi"})],
    })
    # cpu: containers 0.5 + sidecar 1 = 1.5; migrate 2 (sidecar not yet running); warm 1.5 + 1 = 2.5
    # memory: 200Mi + 50Mi = 250Mi beats 100Mi and 10Mi + 50Mi
    assert info.requests == {"cpu": Fraction(5, 2), "memory": 250 * MIB}


def test_overhead_and_pod_level_requests():
    info = requests_of({"overhead": {"cpu": "250m", "memory": "120Mi"},
                        "containers": [container("app", {"cpu": "1", "memory": "1Gi"})]})
    assert info.requests == {"cpu": Fraction(5, 4), "memory": GIB + 120 * MIB}
    info = requests_of({"resources": {"requests": {"cpu": "2"}},
                        "containers": [container("app", {"cpu": "1", "memory": "1Gi"})]})
    assert info.requests == {"cpu": 2, "memory": GIB}


def test_limits_only_and_extended_resources():
    spec = {"containers": [container("app", limits={"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "2"})]}
    info = requests_of(spec, PodContext(fill_from_limits=False))
    assert info.requests == {"nvidia.com/gpu": 2}
    assert len(info.missing) == 2 and "--no-fill-from-limits" in info.missing[0]
    info = requests_of(spec)
    assert info.requests == {"cpu": 1, "memory": 2 * GIB, "nvidia.com/gpu": 2} and not info.missing
    assert info.from_limits == ["container app: cpu 1, memory 2Gi, nvidia.com/gpu 2"]


def test_limitrange_and_runtimeclass_are_applied_like_the_api_server():
    objs = [
        {"kind": "LimitRange", "metadata": {"name": "defaults", "namespace": "ns"},
         "spec": {"limits": [{"type": "Container", "default": {"memory": "512Mi"},
                              "defaultRequest": {"cpu": "200m"}}]}},
        {"kind": "RuntimeClass", "metadata": {"name": "kata"}, "handler": "kata",
         "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}},
         "scheduling": {"nodeSelector": {"runtime": "kata"}}},
        {"kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
         "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
             "runtimeClassName": "kata", "containers": [container("app")]}}}},
    ]
    manifests = [Manifest(obj=o, file="t.yaml", doc=i + 1, line=1) for i, o in enumerate(objs)]
    pools = [parse_pool_option("kata=cpu:4,memory:8Gi,count:2,label:runtime=kata"),
             parse_pool_option("plain=cpu:4,memory:8Gi,count:2")]
    result = build(manifests, [], pools)
    (web,) = result.scenario["services"]
    # cpu: LimitRange defaultRequest 200m + overhead 250m; memory: default (limit) 512Mi + 160Mi
    assert web["resources"] == {"cpu": "450m", "memory": "672Mi", "pods": 1}
    assert web["pools"] == ["kata"]                       # the RuntimeClass's nodeSelector
    assert not result.missing


# ---------------------------------------------------------------------------------------------- selectors

@pytest.mark.parametrize(("op", "values", "labels", "holds"), [
    ("In", ["a", "b"], {"k": "a"}, True), ("In", ["a"], {}, False),
    ("NotIn", ["a"], {}, True), ("NotIn", ["a"], {"k": "a"}, False),
    ("Exists", None, {"k": ""}, True), ("DoesNotExist", None, {"k": "x"}, False),
    ("Gt", ["4"], {"k": "8"}, True), ("Gt", ["4"], {"k": "four"}, False), ("Lt", ["4"], {"k": "3"}, True),
])
def test_node_requirement_operators(op, values, labels, holds):
    assert check_requirement("k", op, values).holds(labels) is holds


@pytest.mark.parametrize(("op", "values"), [("In", []), ("Exists", ["x"]), ("Gt", ["a"]), ("Near", ["a"])])
def test_bad_requirements_are_refused(op, values):
    with pytest.raises(ValueError):
        check_requirement("k", op, values)


def test_node_constraint_terms_are_ored_and_selector_anded():
    c = NodeConstraint(selector=(Requirement("os", "In", ("linux",)),),
                       terms=((Requirement("zone", "In", ("a",)),), (Requirement("gpu", "Exists"),)))
    assert c.matches({"os": "linux", "zone": "a"})
    assert c.matches({"os": "linux", "gpu": "1"})
    assert not c.matches({"os": "linux", "zone": "b"})
    assert not c.matches({"zone": "a"})
    assert not NodeConstraint(terms=((),)).matches({"x": "y"})   # an empty term matches nothing


def test_tolerations_against_taints():
    gpu = Taint("nvidia.com/gpu", "present", "NoSchedule")
    soft = Taint("spot", "true", "PreferNoSchedule")
    assert untolerated([], [soft]) == []                                   # only a preference
    assert untolerated([], [gpu]) == [gpu]
    assert untolerated([Toleration("nvidia.com/gpu", "Exists")], [gpu]) == []
    assert untolerated([Toleration("nvidia.com/gpu", "Equal", "present", "NoSchedule")], [gpu]) == []
    assert untolerated([Toleration("nvidia.com/gpu", "Equal", "absent")], [gpu]) == [gpu]
    assert untolerated([Toleration("nvidia.com/gpu", "Exists", effect="NoExecute")], [gpu]) == [gpu]
    assert untolerated([Toleration(operator="Exists")], [gpu]) == []      # empty key: every taint


def test_label_selector():
    sel = LabelSelector({"app": "web"}, (Requirement("tier", "NotIn", ("db",)),))
    assert sel.matches({"app": "web"}) and not sel.matches({"app": "web", "tier": "db"})


def test_pool_option():
    p = parse_pool_option("gpu=cpu:32,memory:256Gi,nvidia.com/gpu:4,count:3,cost:12.5,"
                          "label:accelerator=a100,taint:nvidia.com/gpu=present:NoSchedule")
    assert isinstance(p, PoolDraft)
    assert (p.name, p.count, p.cost) == ("gpu", 3, 12.5)
    assert p.allocatable == {"cpu": 32, "memory": 256 * GIB, "nvidia.com/gpu": 4}
    assert p.labels == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "accelerator": "a100",
                        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
    assert p.taints == (Taint("nvidia.com/gpu", "present", "NoSchedule"),)
