"""The Hypothesis profiles of tests/conftest.py: ``fast`` by default, ``thorough`` under ``CI=true``, and
`examples` scaling each test's budget by the loaded profile."""

import os
import subprocess
import sys

import pytest
from hypothesis import settings

from .conftest import FAST_EXAMPLES, ROOT, STANDARD_EXAMPLES, THOROUGH_EXAMPLES, examples


@pytest.mark.parametrize(
    ("ci", "profile", "count"),
    [
        (None, "fast", FAST_EXAMPLES),
        ("true", "thorough", THOROUGH_EXAMPLES),
        ("false", "fast", FAST_EXAMPLES),
    ],
)
def test_ci_true_selects_the_thorough_profile(ci: str | None, profile: str, count: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    code = (
        "import tests.conftest as c; from hypothesis import settings; "
        "print(settings.default.max_examples, c.examples(40))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert proc.stdout.split() == [str(count), str(round(40 * count / STANDARD_EXAMPLES))]
    assert settings.get_profile(profile).max_examples == count
    assert settings.get_profile(profile).deadline is None


def test_examples_scale_with_the_loaded_profile_and_keep_a_floor() -> None:
    scale = settings.default.max_examples / STANDARD_EXAMPLES
    assert examples(200) == round(200 * scale)
    assert examples(3) == max(3, round(3 * scale))  # never below min(budget, 5)
    assert examples(12) == max(5, round(12 * scale))
    assert FAST_EXAMPLES < THOROUGH_EXAMPLES
