"""`sweep`: run every point of a scenario's what-if section with replications, recording each finished run
(and reusing the runs recorded before), writing the tables as runs finish, stopping cleanly on Ctrl-C or
SIGTERM (see `capacity.whatif`)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from capacity.scenario import Scenario, load_scenario
from capacity.whatif.errors import SweepError, SweepInterrupted, SweepWriteError
from capacity.whatif.executors import (
    EXECUTORS,
    DaskExecutor,
    LocalExecutor,
    SerialExecutor,
    check_workers,
    sigterm_as_ctrl_c,
)
from capacity.whatif.folder import check_output_folder, write_outputs
from capacity.whatif.points import Run, expand, runs_of, with_whatif
from capacity.whatif.records import load_record, write_record
from capacity.whatif.result import SweepResult
from capacity.whatif.tables import cheapest_meeting_slos, class_names, columns_of, row_of, summarize_points


def _adopt_recorded(out: Path | None, pending: Sequence[Run], same: Mapping[str, Sequence[Run]],
                    result: SweepResult, keys: Sequence[str], classes: Sequence[str]) -> None:
    """After Ctrl-C: add the rows of runs whose record reached the disk but not yet the table (the
    interrupt came between the two), so that the tables hold every run a resumed sweep will reuse."""
    if out is None:
        return
    tabled = {(row["point"], row["replication"]) for row in result.rows}
    for r in pending:
        missing = [t for t in same[r.key] if (t.point.name, t.replication) not in tabled]
        if missing and (found := load_record(out, r)) is not None:
            result.rows.extend(row_of(twin, found, keys, classes) for twin in missing)


def sweep(scenario: Scenario | str | Path, out: str | Path | None = None, *,
          grid: Mapping[str, Sequence[Any]] | None = None,
          cases: Mapping[str, Mapping[str, Any]] | None = None,
          replications: int | None = None, executor: str = "local", scheduler: str | None = None,
          workers: int | None = None, progress: bool | None = None) -> SweepResult:
    """Run every point of the scenario's what-if section (plus ``grid``, ``cases``) ``replications`` times.

    With ``out``, each finished run is recorded there at once and runs already recorded are reused (see
    the module docstring); the tables are rewritten as runs finish. ``executor`` is a name in `EXECUTORS`;
    ``progress`` shows a progress bar with an ETA on stderr (default: when stderr is a terminal).
    Ctrl-C or SIGTERM stops the workers, writes the tables of the finished runs and raises
    `SweepInterrupted`. Bad arguments, an output path that is not a sweep folder, or a scheduler that
    cannot be reached raise `SweepError` before anything is written; a failed write `SweepWriteError`.
    """
    if executor not in EXECUTORS:
        raise SweepError(f"unknown executor {executor!r} (executors: {', '.join(EXECUTORS)})")
    check_workers(workers, scheduler)
    runner = EXECUTORS[executor](workers=workers, scheduler=scheduler)
    with sigterm_as_ctrl_c():
        return _sweep(runner, scenario, None if out is None else Path(out), grid=grid, cases=cases,
                      replications=replications, progress=progress)


def _sweep(runner: SerialExecutor | LocalExecutor | DaskExecutor, scenario: Scenario | str | Path,
           out_dir: Path | None, *, grid: Mapping[str, Sequence[Any]] | None,
           cases: Mapping[str, Mapping[str, Any]] | None, replications: int | None,
           progress: bool | None) -> SweepResult:
    """`sweep` once its arguments are checked (and SIGTERM is Ctrl-C)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = with_whatif(scenario, grid=grid, cases=cases, replications=replications)
    reps = scenario.whatif.replications if scenario.whatif else 1
    points = expand(scenario)
    runs = runs_of(points, reps)
    keys = columns_of(points)
    classes = list(dict.fromkeys(c for p in points for c in class_names(p.scenario)))
    if out_dir is not None:
        check_output_folder(out_dir)
    result = SweepResult(scenario=scenario, points=points, replications=reps, rows=[], summary=[], keys=keys,
                         classes=classes, total=len(runs), out=out_dir, runs=runs)
    order = {(r.point.name, r.replication): i for i, r in enumerate(runs)}
    same: dict[str, list[Run]] = {}                  # runs of identical scenarios (and seeds) run once
    for r in runs:
        same.setdefault(r.key, []).append(r)
    pending: list[Run] = []
    for group in same.values():
        found = load_record(out_dir, group[0], result.notes) if out_dir is not None else None
        if found is None:
            pending.append(group[0])
        else:
            result.rows.extend(row_of(r, found, keys, classes) for r in group)
    result.reused = len(result.rows)
    for note in result.notes:
        print(note, file=sys.stderr)

    def refresh() -> None:
        result.rows.sort(key=lambda row: order[row["point"], row["replication"]])
        result.summary = summarize_points(points, result.rows, reps, keys, classes)
        result.cheapest = cheapest_meeting_slos(result.summary)
        if out_dir is not None:
            write_outputs(out_dir, result)

    from tqdm import tqdm

    bar = None
    started = False                          # whether the tables were written once (so may be again)
    try:
        if pending:
            runner.open(len(pending))        # a scheduler that cannot be reached fails before any write
        refresh()
        started = True
        bar = tqdm(total=len(runs), initial=result.reused, unit="run", desc=f"sweep {scenario.name}",
                   file=sys.stderr, disable=(not sys.stderr.isatty()) if progress is None else not progress,
                   dynamic_ncols=True)
        last_write = time.monotonic()
        for r, outcome in runner.run(pending):
            if outcome["status"] == "error":
                result.errors.append((r.key, f"{r.point.name} seed {r.seed}: {outcome['error']}"))
                bar.write(f"error: {r.point.name} ({r.point.label}) seed {r.seed}: {outcome['error']}",
                          file=sys.stderr)
            else:
                if out_dir is not None:
                    write_record(out_dir, r, outcome)
                result.rows.extend(row_of(twin, outcome, keys, classes) for twin in same[r.key])
                if time.monotonic() - last_write >= 1.0:
                    refresh()
                    last_write = time.monotonic()
            bar.update(len(same[r.key]))
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        runner.close(cancel=True)
        _adopt_recorded(out_dir, pending, same, result, keys, classes)
        if started:
            refresh()
        raise SweepInterrupted(result.done, result.total, out_dir) from None
    except BaseException:
        if bar is not None:
            bar.close()
        runner.close(cancel=True)
        if started:
            with contextlib.suppress(SweepWriteError):   # keep the tables of the finished runs if we can
                refresh()
        raise
    bar.close()
    runner.close()
    refresh()
    return result
