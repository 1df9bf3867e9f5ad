"""Scenario loading error paths that users hit and the broken corpus does not reach: unreadable or empty
files, documents that are not a mapping, malformed ``--set`` keys, and what-if entries that fight each
other. Each must be one `ScenarioError` naming the file, the line where there is one, and the field."""

from __future__ import annotations

import pytest

from capacity.cli import main
from capacity.errors import ScenarioError
from capacity.scenario import field_value, load_scenario, scenario_from_dict, whatif_point
from tests.test_scenario import BASE


def _error(path, overrides=()) -> ScenarioError:
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, overrides)
    return err.value


def test_an_empty_file_is_named_as_such(write_scenario):
    path = write_scenario("# nothing here\n")
    err = _error(path)
    assert err.message == "the file is empty" and err.file == str(path) and err.line == 1


def test_a_directory_is_not_a_scenario(tmp_path):
    err = _error(tmp_path)
    assert err.message == "is a directory, not a scenario file" and err.file == str(tmp_path)


def test_bytes_that_are_not_utf8_name_their_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\nseed: 1\ncluster: caf\xe9\n")
    err = _error(path)
    # byte 28 = len("name: x\n") + len("seed: 1\n") + len("cluster: caf")
    assert err.message.startswith("not UTF-8 text") and "at byte 28" in err.message
    assert err.line == 3


def test_a_control_character_is_refused_with_its_line(write_scenario):
    path = write_scenario(BASE.replace("seed: 3", "seed: 3\x07"))
    err = _error(path)
    assert err.message == "invalid YAML: character 0x0007 is not allowed in YAML text"
    assert err.line == 2


@pytest.mark.parametrize("document", ["- a\n- b\n", "just a string\n", "42\n"])
def test_a_document_that_is_not_a_mapping(write_scenario, document):
    err = _error(write_scenario(document))
    assert err.message.startswith("a scenario must be a mapping") and err.line == 1


def test_the_cli_prints_one_line_for_an_empty_file(write_scenario, capsys):
    path = write_scenario("")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}:1: the file is empty\n"


@pytest.mark.parametrize("key", ["services..replicas", ".seed", "seed.", ""])
def test_an_empty_part_in_a_set_key_is_refused(write_scenario, key):
    err = _error(write_scenario(BASE), [f"{key}=3"])
    assert "expected a dotted key" in err.message and repr(key) in err.message


def test_a_set_on_a_missing_list_item_lists_the_names(write_scenario):
    err = _error(write_scenario(BASE), ["services.rankr.replicas=3"])
    assert err.message == ("--set services.rankr.replicas: services has no item named 'rankr' "
                           "(have: web, batch)")


def test_a_set_may_address_a_list_item_by_index(write_scenario):
    s = load_scenario(write_scenario(BASE), ["services.1.replicas=5"])
    assert s.service("batch").replicas == 5 and s.service("web").replicas == 2


def test_a_set_value_that_is_not_yaml_is_taken_as_text(write_scenario):
    # "[1" does not parse as YAML: it is kept as the string and validation names the field.
    err = _error(write_scenario(BASE), ["services.web.replicas=[1"])
    assert err.path == "services.web.replicas" and "integer" in err.message


def test_a_set_that_creates_a_missing_section_is_validated(write_scenario):
    s = load_scenario(write_scenario(BASE), ["scheduling.discipline=priority"])
    assert s.scheduling.discipline == "priority"
    err = _error(write_scenario(BASE), ["scheduling.bogus=1"])
    assert err.path == "scheduling.bogus"


def test_field_value_reads_dotted_keys():
    data = {"services": [{"name": "web", "replicas": 2}], "seed": 4}
    assert field_value(data, "services.web.replicas") == 2
    assert field_value(data, "seed") == 4
    assert field_value(data, "workload.duration") is None  # a missing key reads as None
    assert data == {"services": [{"name": "web", "replicas": 2}], "seed": 4}  # not modified


def test_a_whatif_key_cannot_change_the_whatif_section(write_scenario):
    import yaml

    base = yaml.safe_load(BASE)
    with pytest.raises(ScenarioError, match="a what-if key cannot change the whatif section") as err:
        whatif_point(base, {"whatif.grid": {}}, source="s.yaml", label="point p01")
    assert err.value.message.startswith("point p01: ") and err.value.path == "whatif"


def test_a_whatif_point_names_the_entry_and_the_inner_field():
    import yaml

    base = yaml.safe_load(BASE)
    with pytest.raises(ScenarioError) as err:
        whatif_point(base, {"services.web.replicas": -1}, source="s.yaml",
                     where=("whatif", "cases", "shrink"), label="case shrink")
    assert err.value.path == "whatif.cases.shrink"
    assert err.value.message.startswith("case shrink: services.web.replicas: ")
    ok = whatif_point(base, {"services.web.replicas": 7}, source="s.yaml")
    assert ok.service("web").replicas == 7


def test_a_key_in_both_grid_and_cases_is_refused(write_scenario):
    text = BASE + ("whatif:\n  grid: {services.web.replicas: [2, 3]}\n"
                   "  cases: {big: {services.web.replicas: 9}}\n")
    err = _error(write_scenario(text))
    assert err.message.startswith("this key is also in whatif.grid")
    assert err.path == "whatif.cases.big.services.web.replicas" and err.line is not None


def test_a_bad_whatif_case_names_the_case(write_scenario):
    text = BASE + "whatif:\n  cases: {typo: {services.wbe.replicas: 9}}\n"
    err = _error(write_scenario(text))
    assert err.path == "whatif.cases.typo" and "no item named 'wbe'" in err.message


def test_scenario_from_dict_does_not_modify_its_input():
    import yaml

    data = yaml.safe_load(BASE)
    before = repr(data)
    s = scenario_from_dict(data, overrides=["services.web.replicas=4"])
    assert s.service("web").replicas == 4 and repr(data) == before
