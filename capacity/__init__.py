"""capacity: a capacity planner for clusters that serve ML inference.

Two engines, one pipeline: an integer-programming **packer** places every replica of every service on the
nodes of the cluster's pools (does it fit, on how few or how cheap nodes, with a proven bound?), and a
discrete-event **simulator** replays requests through the placed replicas (does it serve, and how fast?).

The public API:

* `load_scenario` — read and validate a scenario file (``--set`` style overrides optional).
* `pack` — scenario → `Placement`; `simulate` — scenario and placement → the simulation summary.
* `run` — both, plus the report (`capacity.report.model.Report`) written as ``report.json``.
* `sweep` — every point of the scenario's ``whatif`` section (grid × cases, with replications), locally or
  on a Dask cluster, into one table of results; `size` — the fewest replicas per service that meet every
  SLO, then the cheapest placement; `max_rate` — the highest rate of a class the cluster serves within SLOs.
* `ScenarioError`, `InfeasiblePlacement`, `SolverError` — the errors raised on purpose.

``import capacity`` is cheap: every name is imported from its module on first use (`capacity._lazy`), so a
script pays for the solver, the simulator, numpy or matplotlib only when it uses them
(``tests/test_imports.py`` checks it in a fresh interpreter).
"""

from typing import TYPE_CHECKING

from capacity._lazy import lazy_names
from capacity._version import __version__

#: Each public name by the module that defines it, imported on first use (`capacity._lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "capacity.errors": ("InfeasiblePlacement", "ScenarioError", "SolverError"),
    "capacity.packing.problem": ("Placement",),
    "capacity.pipeline": ("RunResult", "pack", "run", "simulate"),
    "capacity.scenario": ("Scenario", "load_scenario", "scenario_from_dict"),
    "capacity.sizing": ("max_rate", "size"),
    "capacity.whatif": ("sweep",),
}
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)

if TYPE_CHECKING:
    from capacity.errors import InfeasiblePlacement, ScenarioError, SolverError
    from capacity.packing.problem import Placement
    from capacity.pipeline import RunResult, pack, run, simulate
    from capacity.scenario import Scenario, load_scenario, scenario_from_dict
    from capacity.sizing import max_rate, size
    from capacity.whatif import sweep

__all__ = [
    "InfeasiblePlacement",
    "Placement",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SolverError",
    "__version__",
    "load_scenario",
    "max_rate",
    "pack",
    "run",
    "scenario_from_dict",
    "simulate",
    "size",
    "sweep",
]
