"""The sweep's output folder: new, empty or a sweep of this tool (`check_output_folder`, `is_sweep_folder`),
and its files (`write_outputs`: sweep.json, results and summary as JSON and CSV, report.md), each written
atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

from capacity.whatif.errors import SweepError, writing
from capacity.whatif.markdown import render_markdown
from capacity.whatif.result import SweepResult
from capacity.whatif.tables import to_csv


def is_sweep_folder(out: Path) -> bool:
    """Whether ``out`` holds a sweep of this tool: a ``sweep.json`` it wrote (its definition)."""
    try:
        definition = json.loads((out / "sweep.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(definition, dict) and {"capacity_version", "points", "replications"} <= set(definition)


def check_output_folder(out: Path) -> None:
    """Refuse (`SweepError` naming the path) an output folder a sweep must not write to: an existing
    file, a path below a file, or a folder that holds something else than a sweep (a ``capacity run``
    report, say): a sweep writes only to a new or empty folder or to one of its own sweeps (which it
    resumes). Nothing is written here."""
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out}: exists and is a file, not a folder; give a folder for the sweep")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SweepError(f"{out}: {parent} is a file, not a folder")
            if not out.exists() and not os.access(parent, os.W_OK | os.X_OK):
                raise SweepError(f"{out}: cannot create it ({parent} is not writable)")
            break
    if out.is_dir():
        try:
            empty = next(out.iterdir(), None) is None
        except OSError as exc:
            raise SweepError(f"{out}: cannot read the folder ({exc.strerror})") from None
        if not empty and not is_sweep_folder(out):
            raise SweepError(f"{out}: not a sweep folder (no sweep.json, and not empty): a sweep writes to a "
                             "new or empty folder or resumes one of its own; give another -o")
        if not os.access(out, os.W_OK | os.X_OK):
            raise SweepError(f"{out}: the folder is not writable")


def write_outputs(out: Path, result: SweepResult) -> None:
    """Write sweep.json, the tables, the summary and report.md to ``out`` (atomically, each file); an
    `OSError` is a `SweepWriteError` naming the file."""
    from capacity.report.writers import to_json, write_text

    files = {
        "sweep.json": lambda: to_json(result.definition()),
        "results.json": lambda: to_json({"scenario": result.scenario.name, "columns": result.columns(),
                                         "rows": result.rows}),
        "results.csv": lambda: to_csv(result.rows, result.columns()),
        "summary.json": lambda: to_json({"scenario": result.scenario.name,
                                         "columns": result.summary_columns(),
                                         "cheapest_meeting_slos": result.cheapest, "points": result.summary}),
        "summary.csv": lambda: to_csv(result.summary, result.summary_columns()),
        "report.md": lambda: render_markdown(result),
    }
    for name, text in files.items():
        with writing(out / name):
            write_text(out / name, text())
