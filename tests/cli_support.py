"""Calling the ``capacity`` command in-process from tests: `run_cli` (arguments as paths or text)."""

from __future__ import annotations

import os

from capacity.cli import main


def run_cli(*args: str | os.PathLike[str] | int | float) -> int:
    """Run ``capacity ARGS...`` in this process (`capacity.cli.main`) and return its exit code; each
    argument is turned into text, so paths and numbers can be passed as they are."""
    return main([str(a) for a in args])
