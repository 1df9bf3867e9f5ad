"""The documentation (README.md and the MkDocs site in docs/) builds, and says what the code does.

* The site builds with ``mkdocs build --strict`` (broken links and anchors fail), and the generated reference
  pages are up to date with the scenario and report models.
* Every example runs (see docs/pages/development.md, "Writing documentation"): scenario blocks validate,
  console sessions give the output shown, Python blocks run, titled blocks are files some session uses.
* Every list of names in the pages is the list in the code: disciplines, routings, batching modes, arrival
  processes, service-time distributions, objectives, baselines, limits, commands and their options, exit
  codes, shipped scenarios, the layout, the theory tests named, the report keys.
* The README is a short front page whose first two commands are the ones the docs run and CI runs.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import itertools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from capacity import cli
from capacity.limits import INPUT_LIMIT_VARIABLES, InputLimits, Limits
from capacity.packing import BASELINES, OBJECTIVES
from capacity.scenario import load_scenario
from capacity.sim.arrivals import ARRIVAL_PROCESSES
from capacity.sim.batching import BATCHERS
from capacity.sim.disciplines import DISCIPLINES
from capacity.sim.llm_batching import LlmBatcher  # noqa: F401  (registers "llm", as capacity.sim.engine does)
from capacity.sim.routing import ROUTINGS
from capacity.sim.service_times import SERVICE_TIMES
from capacity.sim.traces import TRACE_FORMATS
from capacity.units import parse_quantity

from .conftest import ROOT, SCENARIOS

DOCS = ROOT / "docs"
PAGES_DIR = DOCS / "pages"
README = ROOT / "README.md"
PAGES = sorted(PAGES_DIR.rglob("*.md"))
GENERATED = {PAGES_DIR / "reference" / "scenario.md", PAGES_DIR / "reference" / "report.md"}


def _load_tool(name: str):
    """A module of docs/tools (not a package: loaded from its file)."""
    spec = importlib.util.spec_from_file_location(f"docs_tools_{name}", DOCS / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                     # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------- reading pages

@dataclass(frozen=True)
class Block:
    """A fenced code block: its page, line, language, ``title="..."`` and text (common indent removed)."""

    page: Path
    line: int
    lang: str
    title: str | None
    text: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)(?P<info>[^`]*)$")


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    out: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start = len(m["indent"]), i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        title = re.search(r'title="([^"]+)"', m["info"])
        out.append(Block(page, start + 1, m["lang"], title[1] if title else None, "\n".join(body) + "\n"))
        i += 1
    return out


def page(name: str) -> Path:
    return PAGES_DIR / name


def section(path: Path, heading: str) -> str:
    """The text of the section under ``heading`` (a Markdown heading line), up to the next heading of the
    same or a higher level."""
    text = path.read_text(encoding="utf-8")
    m = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    assert m, f"{path.relative_to(ROOT)} has no heading {heading!r}"
    level = len(m[1])
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def table(path: Path, heading: str) -> list[list[str]]:
    """The cells of the body rows of the first table under ``heading``."""
    lines = section(path, heading).splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    assert start is not None, f"{path.relative_to(ROOT)}, {heading!r}: no table"
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), lines[start:]))[2:]
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]


def table_names(path: Path, heading: str) -> list[str]:
    """The names in the first column of the first table under ``heading`` (each a `code` span)."""
    return [re.findall(r"`([^`]+)`", row[0])[0] for row in table(path, heading)]


ALL_BLOCKS = [b for p in [README, *PAGES] for b in blocks(p)]


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---------------------------------------------------------------------------------------------- the site

def test_the_site_builds_strictly(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                           str(DOCS / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "simulator" / "theory" / "index.html").exists()


def test_every_page_is_in_the_navigation():
    nav = (DOCS / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [_where(p) for p in PAGES if f" {p.relative_to(PAGES_DIR).as_posix()}" not in nav]
    assert not missing, f"add to nav in docs/mkdocs.yml: {missing}"


def test_the_generated_reference_pages_are_up_to_date():
    stale = _load_tool("generate").stale()
    assert not stale, (f"{[_where(p) for p in stale]} out of date with the models: run "
                       "python docs/tools/generate.py")


# ------------------------------------------------------------------------------------------ scenario blocks

SCENARIO_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "yaml" and b.title is None and "cluster:" in b.text]


def test_the_docs_have_a_full_format_reference():
    assert any("whatif:" in b.text and "failures:" in b.text and "limits:" in b.text for b in SCENARIO_BLOCKS)


@pytest.mark.parametrize("block", SCENARIO_BLOCKS, ids=lambda b: b.id)
def test_scenario_example_validates(block, tmp_path):
    # relative trace paths in the examples are written from scenarios/: point them at the shipped excerpts
    text = re.sub(r"file: data/", f"file: {(SCENARIOS / 'data').as_posix()}/", block.text)
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_scenario(path, data_dirs=[SCENARIOS / "data"]).name


# ----------------------------------------------------------------------------------------- console sessions

@dataclass(frozen=True)
class Command:
    line: str
    expected: list[str]


def session(block: Block) -> list[Command]:
    """The ``$ `` commands of a console block, each with the output lines below it."""
    commands: list[Command] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            commands.append(Command(line[2:], []))
        else:
            assert commands, f"{block.id}: output before the first command"
            commands[-1].expected.append(line)
    return commands


def output_pattern(expected: list[str]) -> re.Pattern[str]:
    """``...`` alone on a line: any number of lines; ``...`` within a line: any text."""
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(re.escape(line.rstrip()).replace(r"\.\.\.", r"[^\n]*?") + r"\n")
    return re.compile("".join(parts))


def run_command(command: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run ``[VAR=value ...] capacity ARGS`` (in this process) or ``cat FILE``; the exit code and the output
    (stdout, then stderr), lines stripped on the right."""
    words = shlex.split(command)
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        name, value = words.pop(0).split("=", 1)
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    if words[0] == "cat":
        return 0, Path(words[1]).read_text(encoding="utf-8")
    assert words[0] == "capacity", f"a console example runs capacity or cat, not {words[0]!r}"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(words[1:])
        except SystemExit as exc:                       # argparse: --help, a bad option
            code = int(exc.code or 0)
    text = out.getvalue() + err.getvalue()
    return code, "".join(line.rstrip() + "\n" for line in text.splitlines())


def scratch(tmp_path: Path, path: Path) -> Path:
    """A folder holding ``scenarios/`` and the titled files of the page ``path``."""
    (tmp_path / "scenarios").symlink_to(SCENARIOS, target_is_directory=True)
    for b in blocks(path):
        if b.title is not None:
            (tmp_path / b.title).write_text(b.text, encoding="utf-8")
    return tmp_path


CONSOLE_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "console"]


@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=lambda b: b.id)
def test_console_example_gives_the_output_shown(block, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(scratch(tmp_path, block.page))
    for command in session(block):
        code, output = run_command(command.line, monkeypatch)
        shown = "\n".join(command.expected)
        assert output_pattern(command.expected).fullmatch(output), (
            f"{block.id}: $ {command.line}\n--- shown:\n{shown}\n--- got:\n{output}")
        failed = any(line.startswith("error:") for line in command.expected)
        assert (code != 0) == failed, f"{block.id}: $ {command.line} exited {code}"


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.title is not None], ids=lambda b: b.id)
def test_every_titled_block_is_a_file_a_console_example_uses(block):
    """Used: named by a console command of its page, or by another file of the page (a trace a scenario
    reads)."""
    others = [b.text for b in blocks(block.page) if b.title is not None and b.title != block.title]
    used = [c.line for b in blocks(block.page) if b.lang == "console" for c in session(b)] + others
    assert any(block.title in text for text in used), f"{block.id}: no console example on the page uses it"


# ---------------------------------------------------------------------------------------------- python blocks

@contextlib.contextmanager
def registries_restored() -> Iterator[None]:
    """Registrations an example makes are undone afterwards."""
    dicts = {id(d): (d, dict(d)) for d in (DISCIPLINES, ROUTINGS, BATCHERS, ARRIVAL_PROCESSES, SERVICE_TIMES)}
    objectives, baselines = list(OBJECTIVES), list(BASELINES)
    try:
        yield
    finally:
        for d, saved in dicts.values():
            d.clear()
            d.update(saved)
        for name in [n for n in OBJECTIVES if n not in objectives]:
            OBJECTIVES.unregister(name)
        for name in [n for n in BASELINES if n not in baselines]:
            BASELINES.unregister(name)


@pytest.mark.parametrize("name", ["python-api.md", "extending.md"])
def test_python_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(scratch(tmp_path, page(name)))
    code = [b for b in blocks(page(name)) if b.lang == "python"]
    assert code
    namespace: dict[str, object] = {"__name__": "docs_example"}
    with registries_restored():
        for b in code:
            exec(compile(b.text, b.id, "exec"), namespace)


def test_no_other_page_has_python_blocks_that_would_go_untested():
    untested = [b.id for b in ALL_BLOCKS if b.lang == "python"
                and b.page not in (page("python-api.md"), page("extending.md"))]
    assert not untested


# ---------------------------------------------------------------------------------------------- lists = code

SIM = page("simulator/index.md")


@pytest.mark.parametrize(("path", "heading", "registry"), [
    (SIM, "Arrival processes", ARRIVAL_PROCESSES),
    (SIM, "Service times", SERVICE_TIMES),
    (SIM, "Queue disciplines", DISCIPLINES),
    (SIM, "Routing", ROUTINGS),
    (page("simulator/batching.md"), "Batching, token service times and pool speed", BATCHERS),
    (page("packing.md"), "Objectives", OBJECTIVES),
    (page("packing.md"), "Baselines", BASELINES),
], ids=lambda x: x if isinstance(x, str) else "")
def test_each_policy_table_lists_its_registry(path, heading, registry):
    assert table_names(path, heading) == list(registry), (
        f"{_where(path)}, section {heading!r}: the table's names must be the registry's, in its order")


def _comment_list(key: str) -> list[str]:
    """``key: value   # a | b | c`` in the annotated scenario: the names of the comment (before any ':')."""
    text = next(b.text for b in SCENARIO_BLOCKS if "whatif:" in b.text and "failures:" in b.text)
    own_line, inline = rf"\s*(- )?{key}: .*#", rf"[{{ ]{key}: [^,}}]+[,}}].*#"
    line = next(line for line in text.splitlines() if "|" in line.partition("#")[2]
                and (re.match(own_line, line) or re.search(inline, line)))
    comment = line.split("#", 1)[1].split(":")[0]
    return [name.strip() for name in comment.split("|")]


@pytest.mark.parametrize(("key", "names"), [
    ("objective", list(OBJECTIVES)),
    ("discipline", list(DISCIPLINES)),
    ("routing", list(ROUTINGS)),
    ("process", list(ARRIVAL_PROCESSES)),
    ("dist", list(SERVICE_TIMES)),
    ("mode", list(BATCHERS)),
    ("format", ["auto", *TRACE_FORMATS]),
])
def test_the_annotated_scenario_lists_every_name(key, names):
    assert _comment_list(key) == names, f"docs/pages/scenarios.md: the comment beside {key}: lists {names}"


def test_the_extending_page_names_every_registry_where_it_is():
    rows = table(page("extending.md"), "Extending")
    assert len(rows) >= 7
    for row in rows:
        registry, where = (re.findall(r"`([^`]+)`", cell)[0] for cell in row[1:3])
        files = [ROOT / where] if where.endswith(".py") else sorted((ROOT / where).glob("*.py"))
        assert any(re.search(rf"^{registry}\b.*=", f.read_text(), re.M) for f in files), (registry, where)


def test_the_limits_table_is_the_limits_model():
    caps = {re.findall(r"`([^`]+)`", row[0])[0]: row[1]
            for row in table(page("limits.md"), "Caps on the work (`limits:`)")}
    assert list(caps) == list(Limits.model_fields)
    for name, default in caps.items():
        assert float(default) == Limits.model_fields[name].default, name


def test_the_reading_limits_table_is_the_code():
    variables = {re.findall(r"`([^`]+)`", row[0])[0]: row[1]
                 for row in table(page("limits.md"), "Reading input")}
    assert list(variables) == list(INPUT_LIMIT_VARIABLES.values())
    defaults = InputLimits()
    for field, variable in INPUT_LIMIT_VARIABLES.items():
        assert parse_quantity(variables[variable]) == getattr(defaults, field), variable


def _subcommands() -> dict[str, object]:
    parser = cli._parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(action.choices)  # type: ignore[attr-defined]


def test_the_cli_page_has_every_command_with_every_option():
    cli_page = page("cli.md")
    for name, sub in _subcommands().items():
        text = section(cli_page, f"`capacity {name}`")
        common = section(cli_page, "Options every scenario command takes")
        for action in sub._actions:  # type: ignore[attr-defined]
            for option in action.option_strings:
                if option in ("-h", "--help"):
                    continue
                assert f"`{option}" in text or f"`{option}" in common, (
                    f"docs/pages/cli.md: capacity {name} {option}")
        assert f"capacity {name}" in README.read_text(encoding="utf-8"), (
            f"README.md: the command list lacks {name}")


def test_the_cli_page_lists_every_exit_code():
    codes = {getattr(cli, n) for n in dir(cli) if n.startswith("EXIT_")}
    listed = {int(c) for c in re.findall(r"^`(\d+)`$", section(page("cli.md"), "Exit codes"), re.M)}
    assert listed == codes == {0, 2, 3, 4, 5, 130, 141}


def test_every_shipped_scenario_is_listed():
    listed = set(table_names(page("scenarios.md"), "Shipped examples"))
    assert listed == {f"scenarios/{p.name}" for p in SCENARIOS.glob("*.yaml")}


def test_the_layout_names_every_module_and_package():
    layout = next(b.text for b in blocks(page("design.md")) if b.text.startswith("capacity/"))
    entries = {p.name + ("/" if p.is_dir() else "") for p in (ROOT / "capacity").iterdir()
               if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    missing = [e for e in sorted(entries) if not re.search(rf"^  {re.escape(e)}\s", layout, re.M)]
    assert not missing, f"docs/pages/design.md, Layout: add {missing}"


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names |= {n.name for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                  if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return names


def test_the_theory_page_names_tests_that_exist():
    named = set(re.findall(r"`(test_\w+)`", page("simulator/theory.md").read_text(encoding="utf-8")))
    assert len(named) >= 20
    assert not named - _test_names()


def test_the_report_keys_exist_in_the_report_model():
    generate = _load_tool("generate")
    from capacity.report.model import Report

    schema = Report.model_json_schema()
    renderer = generate.Renderer(schema, stop={"Scenario": "", "Limits": ""})
    paths = {row.path for key, node in schema["properties"].items()
             for row in renderer.rows(node, key, "")}
    keys = next(b.text for b in blocks(page("report-json.md")) if b.text.startswith("scenario "))
    listed = [line.split()[0].removesuffix("[]") for line in keys.splitlines()
              if line and not line.startswith(" ")]
    unknown = [k for k in listed if not any(p == k or p.startswith((k + ".", k + "[]")) for p in paths)]
    assert len(listed) > 30 and not unknown, f"docs/pages/report-json.md: keys not in the model: {unknown}"


# ---------------------------------------------------------------------------------------------- the README

def test_the_readme_is_a_short_front_page():
    assert len(README.read_bytes()) < 10_000


def test_the_readme_starts_with_the_two_commands():
    first, second = [b.text.strip() for b in blocks(README) if b.lang == "bash"][:2]
    assert first == "pip install . && capacity run scenarios/inference-fleet.yaml -o out/fleet"
    run_line = first.split(" && ", 1)[1]
    docs_ran = [c.line for b in CONSOLE_BLOCKS for c in session(b)]
    assert run_line in docs_ran, "the README's first command must be run by a console example of the docs"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert second == ci == "pip install -e '.[test]' && python -m pytest"


def test_the_readme_starter_is_the_one_the_docs_run():
    (starter,) = [b.text for b in blocks(README) if b.lang == "yaml"]
    assert 12 <= len(starter.splitlines()) <= 18
    ran = [b.text for b in blocks(page("getting-started.md")) if b.title == "starter.yaml"]
    assert ran == [starter], "README.md's starter must be docs/pages/getting-started.md's starter.yaml"


def test_the_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert links
    broken = [link for link in links if "://" not in link and not (ROOT / link).exists()]
    assert not broken
