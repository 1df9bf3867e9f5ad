"""Reports: the report dictionary (pure), its writers (JSON, Markdown) and plots (matplotlib).

Only the writers touch the disk, and they write atomically: to a temporary file in the target directory,
then renamed, so an interrupted run never leaves a half-written report.
"""

from capacity.report.summary import build_report, strip_runtime
from capacity.report.writers import render_markdown, write_json, write_text

__all__ = ["build_report", "render_markdown", "strip_runtime", "write_json", "write_text"]
