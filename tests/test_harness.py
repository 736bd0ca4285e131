"""The test package itself: every helper module is loaded once, under its `tests.` name.

A module imported both as `conftest` and as `tests.conftest` runs twice: two copies of its
fixtures' state and of the URL-builder patch, and mypy refuses to check the tree at all.
"""

import sys
from pathlib import Path

from werkzeug.routing.rules import Rule

from tests import conftest

TESTS = Path(__file__).resolve().parent


def test_conftest_is_loaded_once() -> None:
    assert "conftest" not in sys.modules
    assert sys.modules["tests.conftest"] is conftest
    assert Rule._compile_builder is conftest._cached_builder


def test_every_test_module_is_loaded_under_the_tests_package() -> None:
    loaded = {
        name
        for name, module in list(sys.modules.items())
        if (file := getattr(module, "__file__", None))
        and Path(file).resolve().is_relative_to(TESTS)
    }
    assert loaded
    assert {name for name in loaded if name != "tests" and not name.startswith("tests.")} == set()
