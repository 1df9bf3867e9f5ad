"""Shared fixtures: paths to the shipped scenarios and to the reference data in ../shared/data; and the
Hypothesis profiles.

Hypothesis profiles: ``fast`` (the default, for working locally) and ``thorough`` (loaded when the
environment says ``CI=true``, as `.ci/run` does; ``pytest --hypothesis-profile=thorough`` also selects it).
A property test states its budget at Hypothesis's standard 100 examples, ``max_examples=examples(40)``;
`examples` scales it by the loaded profile: a quarter under ``fast``, the full budget under ``thorough``.
A test without a budget runs the profile's own count (25 or 100). Neither profile has a deadline: the
machine is shared, and a test's wall-clock time is not what it checks.
"""

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SHARED_DATA = ROOT.parent / "shared" / "data"

STANDARD_EXAMPLES = 100  # Hypothesis's default max_examples: the unit budgets are written in
FAST_EXAMPLES = STANDARD_EXAMPLES // 4
# The budgets as written. Twice as many (December 2026) found two open bugs, a packing refusal and a YAML
# round trip, that the written budgets do not reach; raise this once they are fixed.
THOROUGH_EXAMPLES = STANDARD_EXAMPLES
settings.register_profile("fast", max_examples=FAST_EXAMPLES, deadline=None)
settings.register_profile("thorough", max_examples=THOROUGH_EXAMPLES, deadline=None, print_blob=True)
settings.load_profile("thorough" if os.environ.get("CI", "").lower() == "true" else "fast")


def examples(budget: int) -> int:
    """Examples for a test whose budget is ``budget`` at the standard 100: scaled like the loaded
    profile's max_examples, and never below ``min(budget, 5)``.

    Test modules call this when they are imported, after pytest has loaded the profile.
    """
    return max(min(budget, 5), round(budget * settings.default.max_examples / STANDARD_EXAMPLES))


@pytest.fixture
def write_scenario(tmp_path):
    """Write YAML text to a file in a temporary folder and return its path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
