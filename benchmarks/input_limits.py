"""Reading input: time and peak memory of legitimate large inputs and of hostile ones, at the default limits.

The defaults of `capacity.limits.InputLimits` (bytes of a file, YAML nodes after expanding aliases, nesting
depth) must let the large inputs people really have load, and stop the hostile ones (small files that
expand or nest without end, files that never end) at once. Each case runs the CLI in a fresh child process
(``python -m capacity ...``) under a 4 GB address-space limit and reports its exit code, wall and CPU time
and peak resident set size (``ru_maxrss`` of the child):

* ``scenario-labels``: a 7 MB scenario whose pool has 300,000 labels (``validate``);
* ``scenario-imported``: the scenario ``import-k8s`` writes for SERVICES Deployments (``validate``);
* ``import-dump``: ``import-k8s`` of a ``kubectl get all -A -o yaml`` dump (Deployments with their
  ReplicaSets, Pods and Services, status and last-applied annotations) of DUMP_DEPLOYMENTS Deployments;
* ``bomb``: a 9-level "billion laughs" scenario (387 million strings after expanding);
* ``bomb-at-limit``: the worst a small file may do within the limits: aliases that expand to just under
  the node limit, in a what-if grid value (``Any``, so validation takes it whole);
* ``deep``: a scenario nested 100,000 levels; ``dev-zero``: ``validate /dev/zero``.

Usage::

    python benchmarks/input_limits.py                    # every case
    python benchmarks/input_limits.py --only import-dump --dump-deployments 8000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from capacity.limits import MAX_YAML_NODES

ADDRESS_SPACE = 4 * 2**30
POOL = "std=cpu:64,memory:256Gi,pods:110,count:500"


def deployment(ns: str, name: str, rng: random.Random) -> list[dict]:
    """A Deployment as ``kubectl get -o yaml`` prints it, with its ReplicaSet, three Pods and a Service."""
    labels = {"app": name, "app.kubernetes.io/part-of": ns, "tier": "backend"}
    pod_spec = {
        "serviceAccountName": name, "terminationGracePeriodSeconds": 30,
        "securityContext": {"fsGroup": 1000, "runAsNonRoot": True, "runAsUser": 1000},
        "containers": [{
            "name": "server", "image": f"registry.example.com/{ns}/{name}:v1.2.3",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(6)],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "200m", "memory": "128Mi"}}}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In",
                                                         "values": ["linux"]}]}]}}}}
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    uid = f"{rng.getrandbits(128):032x}"
    meta = {"name": name, "namespace": ns, "labels": labels, "uid": uid, "generation": 3,
            "resourceVersion": str(rng.randint(1, 10**8)), "creationTimestamp": "2024-05-14T09:12:44Z",
            "annotations": {"deployment.kubernetes.io/revision": "3",
                            "kubectl.kubernetes.io/last-applied-configuration":
                                json.dumps({"spec": template})}}
    owner = {"apiVersion": "apps/v1", "uid": uid, "controller": True, "blockOwnerDeletion": True}
    conditions = [{"type": t, "status": "True", "lastTransitionTime": "2024-05-14T09:12:44Z",
                   "reason": "NewReplicaSetAvailable", "message": f"ReplicaSet {name} has progressed."}
                  for t in ("Available", "Progressing")]
    out = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}}, "template": template},
         "status": {"availableReplicas": 3, "readyReplicas": 3, "replicas": 3, "conditions": conditions}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {**meta, "name": f"{name}-7d9f8c6b5",
                      "ownerReferences": [{**owner, "kind": "Deployment", "name": name}]},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}}, "template": template},
         "status": {"replicas": 3, "readyReplicas": 3}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": labels},
         "spec": {"type": "ClusterIP", "clusterIP": "10.100.0.1", "selector": {"app": name},
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
    ]
    for i in range(3):
        out.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-7d9f8c6b5-x{i}", "namespace": ns, "labels": labels,
                         "ownerReferences": [{**owner, "kind": "ReplicaSet", "name": f"{name}-7d9f8c6b5"}]},
            "spec": {**pod_spec, "nodeName": f"ip-10-0-1-{i}.compute.internal"},
            "status": {"phase": "Running", "podIP": f"10.1.{i}.7", "qosClass": "Burstable",
                       "containerStatuses": [{"name": "server", "ready": True, "restartCount": 0,
                                              "imageID": "sha256:" + "ab" * 32,
                                              "state": {"running": {"startedAt": "2024-05-14T09:12:44Z"}}}]}})
    return out


def write_dump(path: Path, deployments: int) -> None:
    rng = random.Random(1)
    items = [o for i in range(deployments) for o in deployment(f"ns{i % 40}", f"svc{i}", rng)]
    document = {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}
    text = yaml.dump(document, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=True)
    path.write_text(text)


def write_labels(path: Path, labels: int) -> None:
    lines = ["name: labels", "cluster:", "  pools:", "    - name: p", "      count: 10",
             "      resources: {cpu: 4, memory: 8Gi}", "      labels:"]
    lines += [f"        k{i}: v{i}" for i in range(labels)]
    lines += ["services:", "  - {name: a, replicas: 1, resources: {cpu: 1, memory: 1Gi}}"]
    path.write_text("\n".join(lines) + "\n")


def write_bomb(path: Path, levels: int, grid: bool = False) -> None:
    """Anchors that multiply by 9 per level: top-level keys (refused at load), or (``grid``) the values of a
    what-if grid, which a scenario may hold whole."""
    head = ["name: bomb", "cluster: {pools: [{name: p, count: 1, resources: {cpu: 4, memory: 8Gi}}]}",
            "services: [{name: a, replicas: 1, resources: {cpu: 1, memory: 1Gi}}]"]
    lol = '["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'
    anchors = [f"&a0 {lol}"]
    anchors += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    if grid:
        body = ["whatif:", "  grid:", "    description:"] + [f"      - {a}" for a in anchors]
    else:
        body = [f"x-{i}: {a}" for i, a in enumerate(anchors)]
    path.write_text("\n".join(head + body) + "\n")


def levels_under(limit: int) -> int:
    """The most doubling-by-9 levels whose expansion stays under ``limit`` nodes."""
    levels, size = 0, 10
    while size * 9 + 1 < limit * 0.9:
        levels, size = levels + 1, size * 9 + 1
    return levels


#: Runs the CLI in the child and prints its own CPU time and peak RSS as the last line of stderr.
CHILD = """
import json, resource, sys
from capacity.cli import main
try:
    code = main(sys.argv[1:])
finally:
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"cpu_s": r.ru_utime + r.ru_stime, "peak_rss_mb": r.ru_maxrss / 1024}), file=sys.stderr)
sys.exit(code)
"""


def run(args: list[str]) -> dict[str, float | int | str]:
    """One CLI run in a fresh process: exit code, wall time, and the child's own CPU time and peak RSS."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                          preexec_fn=limit, check=False, timeout=3600)
    wall = time.perf_counter() - t0
    lines = done.stderr.strip().splitlines()
    try:
        figures = json.loads(lines[-1])
        lines = lines[:-1]
    except (IndexError, json.JSONDecodeError):
        figures = {"cpu_s": float("nan"), "peak_rss_mb": float("nan")}
    return {"exit": done.returncode, "wall_s": wall, **figures, "stderr": lines[-1][:150] if lines else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--dump-deployments", type=int, default=4000)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases: dict[str, list[str]] = {}
        if not args.only or args.only in ("scenario-labels",):
            write_labels(folder / "labels.yaml", 300_000)
            cases["scenario-labels"] = ["validate", str(folder / "labels.yaml")]
        if not args.only or args.only in ("scenario-imported",):
            write_dump(folder / "apps.yaml", args.services)
            subprocess.run([sys.executable, "-m", "capacity", "import-k8s", str(folder / "apps.yaml"),
                            "--pool", POOL, "-o", str(folder / "imported.yaml")], check=True,
                           capture_output=True)
            cases["scenario-imported"] = ["validate", str(folder / "imported.yaml")]
        if not args.only or args.only == "import-dump":
            write_dump(folder / "dump.yaml", args.dump_deployments)
            cases["import-dump"] = ["import-k8s", str(folder / "dump.yaml"), "--pool", POOL, "-o",
                                    str(folder / "dump-scenario.yaml")]
        if not args.only or args.only == "bomb":
            write_bomb(folder / "bomb.yaml", 9)
            cases["bomb"] = ["validate", str(folder / "bomb.yaml")]
        if not args.only or args.only == "bomb-at-limit":
            write_bomb(folder / "bomb-limit.yaml", levels_under(MAX_YAML_NODES), grid=True)
            cases["bomb-at-limit"] = ["validate", str(folder / "bomb-limit.yaml")]
        if not args.only or args.only == "deep":
            (folder / "deep.yaml").write_text("name: deep\ndescription: " + "[" * 100_000 + "]" * 100_000)
            cases["deep"] = ["validate", str(folder / "deep.yaml")]
        if not args.only or args.only == "dev-zero":
            cases["dev-zero"] = ["validate", "/dev/zero"]
        for name, argv in cases.items():
            files = [Path(a) for a in argv if a.startswith(tmp)]
            size = sum(f.stat().st_size for f in files
                       if f.is_file() and not f.name.endswith("-scenario.yaml"))
            f = run(argv)
            print(f"{name:18s} {size / 1e6:8.2f} MB  exit {f['exit']}  wall {f['wall_s']:6.1f} s  cpu "
                  f"{f['cpu_s']:6.1f} s  peak RSS {f['peak_rss_mb']:7.0f} MB  {f['stderr']}", flush=True)


if __name__ == "__main__":
    main()
