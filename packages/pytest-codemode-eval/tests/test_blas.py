"""Behaviour of ``use_fast_blas``: each case runs in a fresh interpreter, since mlx binds its BLAS
once per process (and importing mlx here would make the swap impossible for this process)."""

from __future__ import annotations

import ctypes.util
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_codemode_eval import blas

needs_linux_mlx = pytest.mark.skipif(
    sys.platform != "linux" or importlib.util.find_spec("mlx") is None,
    reason="the BLAS swap is for mlx on Linux",
)

# Prints one JSON line: what use_fast_blas returned, whether cblas_sgemm is global, and the worst
# relative error of mlx against numpy for every routine family the swap forwards.
_CHECK = """
import ctypes, json, sys
from pytest_codemode_eval.blas import use_fast_blas
first = use_fast_blas()
import mlx.core as mx
import numpy as np
rng = np.random.default_rng(0)
def err(got, want):
    return float(np.max(np.abs(np.array(got) - want)) / np.max(np.abs(want)))
a = rng.standard_normal((300, 200)).astype(np.float32)
b = rng.standard_normal((200, 100)).astype(np.float32)
z = (a + 1j * rng.standard_normal(a.shape)).astype(np.complex64)
spd = a.T @ a + 200 * np.eye(200, dtype=np.float32)
A, B, S, cpu = mx.array(a), mx.array(b), mx.array(spd), mx.cpu
errors = {
    "sgemm": err(A @ B, a @ b),
    "dgemm": err(mx.array(a, dtype=mx.float64) @ mx.array(b, dtype=mx.float64),
                 a.astype(np.float64) @ b),
    "cgemm": err(mx.array(z) @ mx.array(z.T), z @ z.T),
    "inv": err(mx.linalg.inv(S, stream=cpu), np.linalg.inv(spd)),
    "cholesky": err(mx.linalg.cholesky(S, stream=cpu), np.linalg.cholesky(spd)),
    "eigvalsh": err(mx.linalg.eigvalsh(S, stream=cpu), np.linalg.eigvalsh(spd)),
    "svd": err(mx.linalg.svd(A, compute_uv=False, stream=cpu), np.linalg.svd(a, compute_uv=False)),
}
print(json.dumps({"first": first, "again": use_fast_blas(),
                  "global": hasattr(ctypes.CDLL(None), "cblas_sgemm"), "errors": errors}))
"""


def _run(code: str, tmp_path: Path, **env: str) -> tuple[dict[str, Any], str]:
    """Run ``code`` in a clean interpreter; return its last stdout line as JSON, and stderr."""
    clean = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CODEMODE_BLAS")}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, proc.stderr


def _fast_sources() -> list[str]:
    """The ``CODEMODE_BLAS`` values that should give an optimized BLAS on this machine."""
    wheel = ["auto"] if importlib.util.find_spec("scipy_openblas32") else []
    return wheel + [lib for lib in map(ctypes.util.find_library, ("openblasp", "openblas")) if lib]


@pytest.mark.slow
@needs_linux_mlx
@pytest.mark.parametrize("choice", ["reference", "/nonexistent/libopenblas.so.0"])
def test_opt_out_or_missing_library_loads_nothing_and_mlx_still_works(
    tmp_path: Path, choice: str
) -> None:
    result, _ = _run(_CHECK, tmp_path, CODEMODE_BLAS=choice)
    assert result["first"] is None
    assert result["again"] is None
    assert result["global"] is False
    assert max(result["errors"].values()) < 1e-4


@pytest.mark.slow
@needs_linux_mlx
@pytest.mark.parametrize("choice", _fast_sources() or ["none-installed"])
def test_fast_blas_gives_numpy_results(tmp_path: Path, choice: str) -> None:
    if choice == "none-installed":
        pytest.skip("neither scipy-openblas32 nor a system OpenBLAS is installed")
    result, _ = _run(_CHECK, tmp_path, CODEMODE_BLAS=choice)
    assert result["first"].startswith("openblas: ")
    assert ("scipy-openblas32" in result["first"]) == (choice == "auto")
    assert result["again"] == result["first"]  # idempotent, also after mlx was imported
    assert result["global"] is True
    assert max(result["errors"].values()) < 1e-4, result["errors"]


@needs_linux_mlx
def test_after_mlx_is_imported_it_returns_none_and_says_why(tmp_path: Path) -> None:
    code = """
        import json, mlx.core
        from pytest_codemode_eval.blas import use_fast_blas
        print(json.dumps({"first": use_fast_blas()}))
    """
    result, stderr = _run(code, tmp_path)
    assert result["first"] is None
    assert "already imported" in stderr


@pytest.mark.slow
@needs_linux_mlx
def test_module_runner_swaps_blas_for_a_cli_subprocess(tmp_path: Path) -> None:
    if not _fast_sources():
        pytest.skip("no optimized BLAS installed")
    (tmp_path / "cli.py").write_text(_CHECK)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_codemode_eval.blas", "cli"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "BLAS for mlx: openblas: " in proc.stderr
    assert result["first"].startswith("preloaded: ")  # the runner's copy already loaded it
    assert max(result["errors"].values()) < 1e-4


@pytest.mark.skipif(sys.platform != "linux", reason="ELF loading is Linux only")
def test_a_library_computing_a_wrong_sgemm_never_goes_global(tmp_path: Path) -> None:
    # A forwarding shim whose every slot points at getpid(): "sgemm" returns, C stays zero.
    code = """
        import ctypes, json, os, platform
        from pytest_codemode_eval import blas
        fd = os.memfd_create("bad")
        os.write(fd, blas._shim_image(platform.machine()))
        shim = ctypes.CDLL(f"/proc/self/fd/{fd}")
        table = (ctypes.c_void_p * len(blas.SYMBOLS)).in_dll(shim, "codemode_blas_table")
        table[:] = [ctypes.cast(ctypes.CDLL(None).getpid, ctypes.c_void_p)] * len(blas.SYMBOLS)
        print(json.dumps({"first": blas._promote(shim),
                          "global": hasattr(ctypes.CDLL(None), "cblas_sgemm")}))
    """
    result, stderr = _run(code, tmp_path)
    assert result == {"first": None, "global": False}
    assert "wrong sgemm" in stderr


def test_not_on_linux_or_opted_out_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # __wrapped__ skips the cache, so this process's own answer is left alone.
    monkeypatch.setattr(sys, "platform", "darwin")
    assert blas.use_fast_blas.__wrapped__() is None
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("CODEMODE_BLAS", "reference")
    assert blas.use_fast_blas.__wrapped__() is None


def test_shim_image_is_a_small_elf_library_for_each_machine() -> None:
    for machine, e_machine in (("x86_64", 62), ("aarch64", 183)):
        image = blas._shim_image(machine)
        assert image[:4] == b"\x7fELF"
        assert int.from_bytes(image[18:20], "little") == e_machine
        assert len(image) < 8192
        assert b"\0cblas_sgemm\0" in image
        assert b"\0codemode_blas_table\0" in image


THREADS = """
import json, os, threading
from pytest_codemode_eval.blas import use_fast_blas
loaded = use_fast_blas()
import mlx.core as mx
a = mx.ones((512, 512)); mx.eval(a @ a)
print(json.dumps({"loaded": loaded, "env": os.environ.get("OPENBLAS_NUM_THREADS"),
                  "threads": len(os.listdir("/proc/self/task"))}))
"""


def _threads_run(tmp_path: Path, threads: str | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "CODEMODE_BLAS")}
    env.pop("OPENBLAS_NUM_THREADS", None)
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = threads
    proc = subprocess.run(
        [sys.executable, "-c", THREADS], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@needs_linux_mlx
def test_one_blas_thread_unless_the_user_sets_it(tmp_path: Path) -> None:
    default, chosen = _threads_run(tmp_path, None), _threads_run(tmp_path, "2")
    assert (default["env"], chosen["env"]) == ("1", "2")
    if default["loaded"] and chosen["loaded"]:
        assert chosen["threads"] > default["threads"]  # the user's choice reached OpenBLAS
