"""What-if sweeps (``capacity sweep``): expand a scenario's ``whatif`` section into points, run each point,
tabulate the results.

Concepts:

* A **point** is one variation of the scenario: a named *case* (a set of ``key: value``) and one value of
  every *grid* key (``services.ranker.replicas: [4, 6, 8]``; keys are dotted as in ``--set``, list items by
  name). Points are the cases crossed with the grid (cases outer, grid keys in file order, the last key
  varying fastest); with no cases the grid alone, with no grid each case once, with neither the scenario
  itself. Each point's scenario is the scenario with its values applied, validated exactly like a file
  (`capacity.scenario.whatif_point`), its ``whatif`` section removed.
* A **run** is one point with one seed. Replication ``k`` (``0 <= k < replications``) of a point whose seed
  is ``s`` uses the seed ``s + k``; ``s`` is the scenario's ``seed``, or the value a grid key or a case
  gives ``seed`` (``--grid seed=1,2,3``: a *swept seed*). The seed reaches every random draw of the
  simulation, so replications are independent samples of the same point. Swept seeds closer together than
  ``replications`` share runs (``seed=1,2`` with 2 replications: seeds 1, 2 and 2, 3; the run with seed 2
  is one run with a row in each point): space them by at least ``replications`` (``seed=0,100,200``) for
  points whose samples are independent of each other.
* A run's **key** is the first 16 hex digits of `run_digest`: the SHA-256 of the run's scenario digest
  (`Scenario.digest`: canonical JSON, seed included) and, for every file the run reads
  (`Scenario.input_files`: the trace files), its path relative to the scenario file's folder and the
  SHA-256 of its bytes (read streaming, once per sweep). An edited trace therefore gives new keys: its
  runs are done again, never reused from the old trace. A finished run is written at once, atomically, to
  ``DIR/runs/KEY/report.json`` (the usual report; ``infeasible.json`` when the services do not fit), with
  ``provenance.inputs`` (path and SHA-256 of each input file) added. A sweep started again over the same
  ``DIR`` reuses every run whose record is there, has the shape of a record, and names the run's scenario
  digest and input hashes; a record that does not (cut short, not a JSON object, missing fields, other
  inputs) counts as missing: the run is done again and one ``note:`` line on stderr names the record. So
  an interrupted sweep loses nothing. Records are keyed by content, not by position: adding a grid value
  reuses the runs already done, and two points that come to the same scenario are run once (each still
  has its rows). (A record says which capacity version wrote it; after an upgrade, delete ``DIR/runs`` to
  rerun.)
* **Executors** run the runs: ``local`` (default: worker processes, one per core and at most
  `MAX_WORKERS`, each receiving the run's plain scenario dict; they end with the sweep, even a killed one,
  see `LocalExecutor`), ``dask`` (a Dask distributed cluster at ``scheduler``, checked and reached within
  `CONNECT_TIMEOUT_S` before anything runs, or a local one started for the sweep; every worker needs
  ``capacity`` installed and the trace files at the same paths), ``serial`` (in this process, one by
  one). A run's result does not depend on the executor.
* **Stopping**: Ctrl-C or SIGTERM stops the workers, keeps every finished run, writes the tables and
  raises `SweepInterrupted` (``capacity sweep`` exits 130); started again, the sweep resumes.
* **The output folder** ``DIR`` must be new, empty, or a sweep folder of this tool (it has a ``sweep.json``
  of ours): a folder holding anything else (a ``capacity run`` report) is refused, as are a path that is a
  file or lies below one (`check_output_folder`, `SweepError`). A failed write (disk full, I/O error) is a
  `SweepWriteError` naming the file (``capacity sweep`` exits 5).

Outputs (`write_outputs`; only with an output directory; every file written atomically, the tables again
as runs finish):

* ``results.csv`` / ``results.json`` — the tidy table, one row per run: ``point``, ``case``, one column per
  swept key (the validated value, in report.json units: seconds, bytes, cores, per second), ``replication``,
  ``seed`` (the run's: the point's seed + replication; a swept ``seed`` has no column of its own),
  ``key``, ``status`` (the placement's: optimal | feasible | infeasible), ``nodes``, ``lower_bound``,
  ``cost_per_hour`` (the plan's; in an autoscaled run the fleet's mean over the measured window,
  ``simulation.autoscaling.cost`` / its hours), ``slo_met`` (every SLO of the run met; empty without SLOs)
  and per class
  ``CLASS.mean_s``, ``.p50_s``, ``.p95_s``, ``.p99_s`` (latency), ``.throughput_per_s``,
  ``.slo_attained``, ``.slo_met``, ``.slo_status`` (met | missed | no data, as ``slo.status`` in
  report.json; empty without an SLO or a simulation), and ``report`` (the run's report, relative to
  ``DIR``). **No data is not a pass**: a class with an SLO but no measured request (none after the
  warm-up) has ``slo_met`` false and ``slo_status`` "no data", and so has its run (`slo_verdict`).
* ``summary.csv`` / ``summary.json`` — one row per point over its replications: the mean of each per-class
  statistic and the half-width of its 95 % Student-t confidence interval (``CLASS.p99_s_ci95``:
  ``t(0.975, n-1) · s / √n``, empty with one replication), ``replications`` done, ``complete``, ``nodes`` and
  ``cost_per_hour`` (the largest over replications; packing does not depend on the seed, so they are
  normally equal), and ``slo_met``: true when every replication met every SLO (the ``all`` rule of
  `capacity.sizing`), false when one did not or the services did not fit; ``slo_status`` says which: met,
  missed (a class missed its SLO, or the services do not fit) or no data (only classes without measured
  requests keep the point from passing); per class ``CLASS.slo_met`` and ``CLASS.slo_status`` (missed
  over no data over met). A swept ``seed`` column is the point's seed.
* ``report.md`` — the points side by side (cost, nodes, p99 per class, SLO pass / FAIL / no data), marking
  the cheapest point that meets every SLO (least cost per hour when every point has a cost, else fewest
  nodes; ties go to the earlier point). ``sweep.json`` — the sweep's definition (points, their values and
  run keys).
* ``sweep.png`` (`write_plot`, called by ``capacity sweep`` once the sweep is done) — p99 and cost against
  the last numeric grid key, a panel per case and value of the other grid keys (`sweep_figure`).

Modules, one concern each: `capacity.whatif.points` (points, runs, keys), `.records` (one run and its
record), `.executors` (local, dask, serial), `.tables` (rows, summary, cheapest point), `.result`
(`SweepResult`), `.markdown` (report.md), `.figure` (sweep.png), `.folder` (the output folder and its
files), `.runner` (`sweep`), `.errors`.
"""

from capacity.whatif.errors import SweepError, SweepInterrupted, SweepWriteError
from capacity.whatif.executors import CONNECT_TIMEOUT_S, EXECUTORS, MAX_WORKERS, scheduler_address
from capacity.whatif.figure import MAX_PANELS, sweep_figure, write_plot
from capacity.whatif.folder import check_output_folder, is_sweep_folder, write_outputs
from capacity.whatif.markdown import render_markdown
from capacity.whatif.points import (
                                   InputFile,
                                   InputHasher,
                                   Point,
                                   Run,
                                   expand,
                                   run_digest,
                                   runs_of,
                                   with_whatif,
)
from capacity.whatif.records import RunRecord, run_one
from capacity.whatif.result import SweepResult
from capacity.whatif.runner import sweep
from capacity.whatif.tables import CLASS_STATS, cheapest_meeting_slos, row_of, slo_verdict, summarize_points

__all__ = [
                                   "CLASS_STATS",
                                   "CONNECT_TIMEOUT_S",
                                   "EXECUTORS",
                                   "MAX_PANELS",
                                   "MAX_WORKERS",
                                   "InputFile",
                                   "InputHasher",
                                   "Point",
                                   "Run",
                                   "RunRecord",
                                   "SweepError",
                                   "SweepInterrupted",
                                   "SweepResult",
                                   "SweepWriteError",
                                   "cheapest_meeting_slos",
                                   "check_output_folder",
                                   "expand",
                                   "is_sweep_folder",
                                   "render_markdown",
                                   "row_of",
                                   "run_digest",
                                   "run_one",
                                   "runs_of",
                                   "scheduler_address",
                                   "slo_verdict",
                                   "summarize_points",
                                   "sweep",
                                   "sweep_figure",
                                   "with_whatif",
                                   "write_outputs",
                                   "write_plot",
]
