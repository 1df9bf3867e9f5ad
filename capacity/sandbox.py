"""The data sandbox: which folders the data files named in a scenario (its traces) may be read from.

A scenario is data, often written by someone else; where the files it reads may come from is the decision
of the user who runs it, never of the scenario. A data file must lie inside one of the **allowed folders**:

* the scenario file's own folder and everything under it (for a scenario built in code, without a file:
  the working directory, against which its relative paths resolve);
* each folder the user gives: ``--data-dir DIR`` on any command that loads a scenario (repeatable), or
  ``load_scenario(path, data_dirs=[...])`` / ``scenario_from_dict(..., data_dirs=[...])`` in Python;
* each folder listed in the environment variable ``CAPACITY_DATA_DIRS`` (separated by ``os.pathsep``: ``:``
  on Linux and macOS, ``;`` on Windows; empty entries are skipped).

The rule holds for relative and absolute paths alike, after ``~``, ``..`` and symbolic links are resolved
(a link inside the scenario's folder that points outside it is outside). Relative user folders are relative
to the working directory. Loading checks every trace file; the pipeline checks again when it reads one.
A refused file is named with the folders allowed and how to allow more; nothing of its content is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

DATA_DIRS_ENV = "CAPACITY_DATA_DIRS"
"""The environment variable listing extra allowed folders (``os.pathsep``-separated)."""

HOW_TO_ALLOW = f"allow its folder with --data-dir DIR or the environment variable {DATA_DIRS_ENV}"


def user_data_dirs(given: Iterable[str | os.PathLike[str]] = (),
                   environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The folders the user allows: ``given``, then those of ``CAPACITY_DATA_DIRS``; resolved, each once."""
    env = (os.environ if environ is None else environ).get(DATA_DIRS_ENV, "")
    folders: dict[Path, None] = {}
    for entry in [*given, *env.split(os.pathsep)]:
        if str(entry).strip():
            folders[Path(entry).expanduser().resolve()] = None
    return tuple(folders)


def scenario_folder(source: str) -> Path:
    """The scenario's own folder (resolved): its file's folder, or the working directory for a scenario
    that did not come from a file (``source`` ``<dict>``, ``<import-k8s>``, ...)."""
    if source.startswith("<"):
        return Path.cwd().resolve()
    return Path(source).parent.resolve()


def allowed_dirs(source: str, data_dirs: Sequence[Path]) -> tuple[Path, ...]:
    """Every folder a scenario loaded from ``source`` may read data files from (resolved)."""
    return (scenario_folder(source), *data_dirs)


def outside_problem(path: Path, allowed: Sequence[Path]) -> str | None:
    """Why ``path`` may not be read (it lies outside every ``allowed`` folder once resolved), or None."""
    real = path.expanduser().resolve()
    if any(real.is_relative_to(folder) for folder in allowed):
        return None
    extra = f" and {len(allowed) - 1} folder{'s' if len(allowed) > 2 else ''} allowed" if len(allowed) > 1 \
        else ""
    return (f"data file {str(real)!r} is outside the folders data files may come from (the scenario's "
            f"folder {str(allowed[0])!r}{extra}); {HOW_TO_ALLOW}")
