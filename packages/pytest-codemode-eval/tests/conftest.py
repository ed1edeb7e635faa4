"""Shared fixtures: the real suite of the repository, loaded once per session."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.suite import Case, Suite, load_suite

SUITE_PATH = Path(__file__).resolve().parents[3] / "evalsuite" / "suite.toml"

# pytester's in-process runs drop the modules they imported afterwards; matplotlib's compiled
# parts cannot be imported a second time, so the report's pictures would vanish from the second
# run on. Imported here, it stays (a real pytest process imports it once).
pytest.importorskip("matplotlib.pyplot")


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


@pytest.fixture(scope="session")
def sharp_model_dir(tmp_path_factory: pytest.TempPathFactory, suite: Suite) -> Path:
    """An offline tiny Qwen3 model whose random weights are sharpened so that greedy outputs
    differ from case to case (a fresh random model repeats one token, making equality vacuous)."""
    init_model = pytest.importorskip("codemode_trainer.training.init_model")
    from pytest_codemode_eval.prompt import render_system_prompt

    out = tmp_path_factory.mktemp("models") / "tiny-sharp"
    corpus = [render_system_prompt(suite.catalog), *(case.prompt for case in suite.cases)]
    init_model.init_model(out, "tiny", corpus=corpus, seed=3)
    import mlx.core as mx  # after init_model, which loads the fast BLAS first

    weights = mx.load(str(out / "model.safetensors"))
    mx.save_safetensors(
        str(out / "model.safetensors"), {k: v if "norm" in k else v * 6 for k, v in weights.items()}
    )
    return out
