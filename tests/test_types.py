"""The package type-checks with mypy (configuration and the per-module strictness plan: pyproject.toml)."""

import importlib.util
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install '.[test]')")


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_mypy_is_clean_on_the_package():
    proc = _mypy()                                    # files = ["capacity"] in the configuration
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_mypy_with_the_project_configuration_catches_a_type_error(tmp_path):
    """The check above can fail: the same configuration reports a planted error."""
    bad = tmp_path / "planted.py"
    bad.write_text("def half(x: int) -> int:\n    return x // 2\n\n\ny: str = half(3)\n", encoding="utf-8")
    proc = _mypy(str(bad))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "planted.py:5: error: Incompatible types in assignment" in proc.stdout
