"""The README's scenario examples are valid scenarios: the format reference must not drift from the code."""

import re

import pytest

from capacity.scenario import load_scenario

from .conftest import ROOT, SCENARIOS

README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "cluster:" in b]


def test_the_readme_has_a_full_format_reference():
    assert any("whatif:" in b and "failures:" in b for b in EXAMPLES)


@pytest.mark.parametrize("text", EXAMPLES, ids=lambda b: f"line-{README.index(b)}")
def test_readme_scenario_example_validates(text, tmp_path):
    # relative trace paths in the README are written from scenarios/: point them at the shipped excerpts
    text = re.sub(r"file: data/", f"file: {(SCENARIOS / 'data').as_posix()}/", text)
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path, data_dirs=[SCENARIOS / "data"])
    assert scenario.name
