"""The Kubernetes rules on AWS's Karpenter Blueprints (aws-samples/karpenter-blueprints, MIT-0;
tests/k8s/data/README.md lists the files). The blueprints publish the workloads and describe the
NodePools; the pools here are written for the tests from those NodePools (labels, taints), with node
sizes of the instance types the blueprints show."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from capacity import pipeline
from capacity.k8s import import_k8s, parse_pool_option

DATA = Path(__file__).parent / "data" / "karpenter"


def spread_pools() -> list:
    """The blueprint's two NodePools as five pools, one per ``capacity-spread`` value (on-demand "1", spot
    "2".."5"), with the NodePools' ``intent=apps`` label and ``intent=workload-split:NoSchedule`` taint,
    plus the cluster's ``default`` NodePool: ``intent=apps``, no ``capacity-spread`` label, no taint,
    bigger nodes."""
    pools = [parse_pool_option(f"spread{v}=cpu:2,memory:4Gi,pods:29,count:4,label:intent=apps,"
                               f"label:capacity-spread={v},label:karpenter.sh/capacity-type="
                               f"{'on-demand' if v == 1 else 'spot'},taint:intent=workload-split:NoSchedule")
             for v in range(1, 6)]
    return [*pools, parse_pool_option("default=cpu:4,memory:16Gi,pods:58,count:10,label:intent=apps")]


def test_od_spot_split_places_two_replicas_per_capacity_spread_value():
    """Split Between On-Demand & Spot: 10 replicas, ``DoNotSchedule`` spread with maxSkew 1 over
    ``capacity-spread`` (values 1..5): the counts per value may differ by at most 1, so 2 each — 2 on
    on-demand, 8 on spot (the blueprint's 20/80). Nodes of the ``default`` NodePool lack the label, and
    "the scheduler only considers nodes that have all topologySpreadConstraints[*].topologyKey present"
    (docs: "Pod Topology Spread Constraints", implicit conventions): none lands there, although its
    bigger nodes would need fewer of them."""
    result = import_k8s([DATA / "od-spot-split.yaml"], pools=spread_pools())
    svc = result.scenario["services"][0]
    assert svc["spread"] == {"topology": "capacity-spread", "max_skew": 1}
    placement = pipeline.pack(result.validated())
    per_pool = Counter(node.rsplit("-", 1)[0] for node in placement.assignment.values())
    assert per_pool == {f"spread{v}": 2 for v in range(1, 6)}


def test_gpu_workload_requests_the_gpu_it_only_limits_and_goes_to_the_t4_pool():
    """Deploy an NVIDIA GPU workload: the Pod sets ``limits: nvidia.com/gpu: 1`` and no GPU request; the API
    server copies the limit to the request (docs: "Schedule GPUs": *you can specify GPU limits without
    specifying requests, because Kubernetes will use the limit as the request value by default*). Its
    nodeSelector picks the T4 pool; it tolerates the GPU taint."""
    pools = [parse_pool_option("g4dn=cpu:3920m,memory:15Gi,nvidia.com/gpu:1,pods:29,count:2,label:intent=gpu,"
                               "label:karpenter.k8s.aws/instance-gpu-name=t4,taint:nvidia.com/gpu=true:NoSchedule"),
             parse_pool_option("g5=cpu:3920m,memory:15Gi,nvidia.com/gpu:1,pods:58,count:2,label:intent=gpu,"
                               "label:karpenter.k8s.aws/instance-gpu-name=a10g,"
                               "taint:nvidia.com/gpu=true:NoSchedule")]
    result = import_k8s([DATA / "nvidia-gpu-workload.yaml"], pools=pools)
    svc = result.scenario["services"][0]
    assert svc["resources"] == {"cpu": "3500m", "memory": "8Gi", "nvidia.com/gpu": 1, "pods": 1}
    assert svc["pools"] == ["g4dn"]
    assert result.from_limits == ["Pod nvidia-smi: container nvidia-smi: nvidia.com/gpu 1"]
    placement = pipeline.pack(result.validated())
    assert placement.assignment == {"nvidia-smi-0": "g4dn-0"}
    # the old reading keeps extended resources' limits (they cannot be overcommitted): the same GPU
    old = import_k8s([DATA / "nvidia-gpu-workload.yaml"], pools=pools, fill_from_limits=False)
    assert old.scenario["services"][0]["resources"]["nvidia.com/gpu"] == 1
