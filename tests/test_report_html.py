"""The self-contained HTML report: content, escaping, and a real browser loading its images."""

import base64
import json
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from capacity.report import html as report_html
from capacity.report.model import parse_report
from capacity.report.series import full_report
from capacity.report.writers import to_json

from .report_cases import overload_run, seed_run

CHROMIUM = "/usr/bin/chromium"


class _Page(HTMLParser):
    """Collects images, tags and text of a page, and checks that every opened element is closed."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str]] = []
        self.tags: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.body_attrs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        if tag == "body":
            self.body_attrs = dict(attrs)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _rendered(result):
    report = parse_report(json.loads(to_json(full_report(result)))).in_scenario_order()
    from capacity.report.plots import render_pngs

    images = render_pngs(report)
    return report, images, report_html.render_html(report, images)


@pytest.fixture(scope="module")
def overload_page():
    return _rendered(overload_run())


def test_the_page_embeds_every_plot_and_needs_no_other_file(overload_page):
    _, images, text = overload_page
    page = _parse(text)
    assert page.open == []                                   # every element closed
    assert len(page.images) == len(images) == 5
    for img, (name, png) in zip(page.images, images.items(), strict=True):
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix), name
        assert base64.b64decode(img["src"][len(prefix):]) == png
    assert "src=\"http" not in text and "href=\"http" not in text and "<link" not in text


def test_the_page_has_the_verdict_tables_provenance_and_scenario(overload_page):
    report, _, text = overload_page
    page = _parse(text)
    words = " ".join(page.text)
    assert "SLOs: 0 of 1 met." in words and "Missed fast" in " ".join(words.split())
    for name in ("fast", "bursty"):
        assert name in words
    prov = report["provenance"]
    for value in (prov["capacity_version"], prov["scenario_sha256"], str(prov["seed"])):
        assert value in words
    assert "run started (UTC)" in words
    assert "name: overload" in words and "max_length: 5" in words    # the scenario echoed
    rejected = report["simulation"]["classes"]["fast"]["rejected"]
    assert f">{rejected}<" in text                                   # the latency table's count


def test_user_strings_are_escaped(overload_page):
    _, images, _ = overload_page
    evil = "<script>alert('x')</script>"
    report = json.loads(to_json(full_report(seed_run())))
    report["scenario"] = evil
    report["input"]["scenario"]["description"] = f"<b>{evil}</b>"
    first = next(iter(report["simulation"]["classes"]))
    report["simulation"]["classes"] = {evil: report["simulation"]["classes"][first]}
    report["placement"]["nodes"][0]["replicas"] = [evil]
    text = report_html.render_html(report, images)
    page = _parse(text)
    assert "script" not in page.tags and "b" not in page.tags
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert sum(evil in t for t in page.text) >= 4                    # shown as text: title, h1, table, ...


def test_a_report_without_plot_data_still_renders_its_tables():
    report = seed_run().report                                       # no input, no series
    text = report_html.render_html(report, {})
    page = _parse(text)
    assert page.images == [] and page.open == []
    assert "Not drawn" in text and "a-web" in text


_PROBE = """<script>
addEventListener("load", () => {
  const images = Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight]);
  document.body.setAttribute("data-probe", JSON.stringify({
    images, bold: document.querySelectorAll("b").length, title: document.title,
    description: (document.querySelector("p.muted") || {}).textContent}));
});
</script>
"""


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason=f"headless Chromium not installed ({CHROMIUM} missing): apt-get install chromium")
def test_chromium_loads_every_image_of_the_report(tmp_path, overload_page):
    """Render report.html in headless Chromium: every image decodes, with the PNG's own size."""
    _, images, text = overload_page
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
             "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = _parse(proc.stdout)
    assert "data-probe" in dom.body_attrs, proc.stdout[:500]
    seen = json.loads(dom.body_attrs["data-probe"])
    assert seen["title"] == "Capacity report: overload"
    assert seen["bold"] == 0 and "<b>bold</b>" in seen["description"]     # escaped, shown as text
    assert len(seen["images"]) == len(images)
    for (alt, complete, width, height), png in zip(seen["images"], images.values(), strict=True):
        want_w, want_h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert complete and (width, height) == (want_w, want_h), alt
