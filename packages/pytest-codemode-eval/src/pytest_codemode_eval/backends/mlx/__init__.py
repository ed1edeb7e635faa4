"""In-process mlx-lm backend, the plugin's one importer of mlx.

The package chooses the BLAS before any of its modules imports mlx (Python runs this file
first, whichever module is asked for), so it is imported only when `--codemode-backend=mlx`
is chosen. Modules, in data-flow order: `prefix` (the shared prefix's KV cache),
`shared_prefix` (attention over a prefix stored once), `rows` (how the caches of the rows
decoding together are held), `decode` (the one decoding loop: stop rule and clock), `backend`.
"""

from __future__ import annotations

from pytest_codemode_eval.blas import use_fast_blas

BLAS = use_fast_blas()  # must run before mlx is imported

from pytest_codemode_eval.backends.mlx.backend import MlxBackend, as_finish  # noqa: E402
from pytest_codemode_eval.identity import ModelNotFound  # noqa: E402

__all__ = ["BLAS", "MlxBackend", "ModelNotFound", "as_finish"]
