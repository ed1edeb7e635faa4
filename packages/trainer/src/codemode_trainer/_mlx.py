"""The trainer's only door to mlx and mlx-lm, imported lazily so the CLI and tests start fast.

Everything else in the package talks to plain Python types and paths; keeping mlx here means one
place to stub, to patch a BLAS in before import, or to follow mlx-lm API changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def save_random_weights(config: Mapping[str, Any], path: Path, seed: int) -> int:
    """Build mlx-lm's model class for ``config``, seeded, and save its weights; return #params.

    mlx-lm's own init (the one its layers use) is what training from scratch starts from, and
    ``mx.random.seed`` before construction makes the bytes reproducible.
    """
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.utils import _get_classes

    model_class, args_class = _get_classes(config=dict(config))
    mx.random.seed(seed)
    model = model_class(args_class.from_dict(dict(config)))
    weights: dict[str, Any] = dict(tree_flatten(model.parameters()))
    mx.eval(list(weights.values()))
    mx.save_safetensors(str(path), weights, metadata={"format": "mlx"})
    return sum(int(w.size) for w in weights.values())


def count_parameters(model_dir: Path) -> int:
    """Number of weights stored in a model directory's safetensors files."""
    import mlx.core as mx

    total = 0
    for file in sorted(model_dir.glob("model*.safetensors")):
        weights = mx.load(str(file))
        assert isinstance(weights, dict)
        total += sum(int(w.size) for w in weights.values())
    return total
