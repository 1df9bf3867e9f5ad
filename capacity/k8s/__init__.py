"""Kubernetes in, plans out: import manifests and node lists as a scenario, export a plan as patches.

* `import_k8s` (``capacity import-k8s``) reads Deployments, StatefulSets, ReplicaSets, Pods and DaemonSets
  (``importer.py``), the pod requests the scheduler sees (``pods.py``), node selectors, affinity, taints
  and tolerations (``selectors.py``), and nodes from ``kubectl get nodes -o json`` grouped into pools or
  from ``--pool`` (``nodes.py``); it returns a placement-only scenario document and the list of everything
  it did not model. Quantities are exact (``quantities.py``: CPU in cores, memory in bytes).
* `export_plan` (``capacity plan --export k8s``, ``export.py``) turns a `Placement` back into per-node
  assignments and one strategic-merge patch per workload; `write_export` writes them as one set.
"""

from capacity.k8s.export import export_plan, write_export
from capacity.k8s.importer import ImportResult, import_k8s, scenario_yaml, summary_lines
from capacity.k8s.nodes import parse_pool_option

__all__ = ["ImportResult", "export_plan", "import_k8s", "parse_pool_option", "scenario_yaml", "summary_lines",
           "write_export"]
