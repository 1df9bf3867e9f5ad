"""Cut the excerpts in this folder from the full Azure LLM inference traces 2023 (see README.md here).

    python scenarios/data/make_excerpts.py ../shared/data/traces [OUT_DIR]

Each excerpt is the header and the rows of minutes 20 to 30 of one trace (times counted from the trace's
first row), copied byte for byte (CRLF line ends included), gzipped reproducibly (no name, time 0).
"""

from __future__ import annotations

import gzip
import sys
from datetime import datetime
from pathlib import Path

TRACES = ("AzureLLMInferenceTrace_code.csv", "AzureLLMInferenceTrace_conv.csv")
FROM_S, TO_S = 20 * 60, 30 * 60


def excerpt(source: Path) -> bytes:
    """The header and the rows with ``FROM_S <= time since the first row < TO_S``, as in the file."""
    lines = source.read_bytes().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    first = datetime.fromisoformat(rows[0].split(b",")[0].decode())
    kept = [row for row in rows
            if FROM_S <= (datetime.fromisoformat(row.split(b",")[0].decode()) - first).total_seconds() < TO_S]
    return b"".join([header, *kept])


def main(folder: str, out: str = str(Path(__file__).parent)) -> None:
    for name in TRACES:
        target = Path(out) / name.replace(".csv", ".excerpt.csv.gz")
        with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                      compresslevel=9) as f:
            f.write(excerpt(Path(folder) / name))
        print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:])
