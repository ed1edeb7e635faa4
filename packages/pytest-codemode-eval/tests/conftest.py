"""Shared fixtures: the real suite of the repository, loaded once per session."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.suite import Case, Suite, load_suite

SUITE_PATH = Path(__file__).resolve().parents[3] / "evalsuite" / "suite.toml"


@pytest.fixture(scope="session")
def suite() -> Suite:
    """The suite the project ships (evalsuite/suite.toml), its catalog and its 27 cases."""
    return load_suite(SUITE_PATH)


@pytest.fixture(scope="session")
def catalog(suite: Suite) -> Catalog:
    return suite.catalog


@pytest.fixture(scope="session")
def cases(suite: Suite) -> Mapping[str, Case]:
    """The suite's cases by id, e.g. `cases["git-03"]`."""
    return {case.id: case for case in suite.cases}
