"""Reports: the typed report (`capacity.report.model.Report`, one pydantic model per section of report.json,
built by `build_report`), its plot data, its writers (JSON, Markdown, HTML) and plots; every writer and plot
takes the model (report.json's data is read into it first, `capacity.report.model.parse_report`).

Only the writers touch the disk, and they write atomically (`capacity.report.output`): a file through a
temporary file and a rename, a whole report folder through a temporary folder swapped in at the end, so an
interrupted or failed run leaves the previous report whole and never a mix of two. `full_report` adds the
plot data (`capacity.report.series`) to a run's report; `write_outputs` writes a whole report folder;
`capacity.report.model` describes report.json and checks one read back.
"""

from capacity.report.html import render_html, write_outputs
from capacity.report.series import full_report
from capacity.report.summary import build_report, strip_runtime
from capacity.report.writers import render_markdown, write_json, write_text

__all__ = ["build_report", "full_report", "render_html", "render_markdown", "strip_runtime", "write_json",
           "write_outputs", "write_text"]
