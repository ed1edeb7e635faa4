"""Swap mlx's reference BLAS for OpenBLAS on Linux: call ``use_fast_blas()`` before ``import mlx``.

Why: the ``mlx[cpu]`` Linux wheel links netlib's single-threaded reference BLAS (fp32 matmul ~30x,
training ~9x slower than OpenBLAS). ``libmlx.so`` imports ``cblas_sgemm`` & co. and 21 LAPACK
routines as plain dynamic symbols, so a library defining them that is in the *global* symbol scope
before libmlx loads wins (ELF interposition). Sources, first found wins: ``CODEMODE_BLAS=<path or
soname>`` (``reference`` opts out); a BLAS already global (``LD_PRELOAD``); the ``scipy-openblas32``
wheel (self-contained, 32-bit ints like mlx; symbols renamed ``scipy_*``, so a ~3 KB forwarding
library is made in a memfd, no compiler needed); a system OpenBLAS (``libopenblas0-pthread``).
A library goes global only after an exact sgemm through it, so a broken one can't make mlx wrong.
Each process must call it (the mlx backend does, above its ``import mlx``); for a CLI subprocess:
``python -m pytest_codemode_eval.blas mlx_lm.lora ARGS...``.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging
import os
import platform
import runpy
import struct
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: The BLAS/LAPACK symbols libmlx.so imports (``nm -D --undefined-only libmlx.so``, mlx 0.32).
SYMBOLS = """cblas_sgemm cblas_dgemm cblas_cgemm cgeev_ cgesdd_ cheevd_ dgeev_ dgeqrf_ dgesdd_
dgetrf_ dgetri_ dorgqr_ dpotrf_ dsyevd_ dtrtri_ sgeev_ sgeqrf_ sgesdd_ sgetrf_ sgetri_ sorgqr_
spotrf_ ssyevd_ strtri_""".split()  # noqa: SIM905
_keep: list[ctypes.CDLL] = []  # loaded libraries must outlive every mlx call


@functools.cache
def use_fast_blas() -> str | None:
    """Load an optimized BLAS for mlx; return what was loaded, or None (reference BLAS stays).

    Idempotent (cached); never raises for a missing or broken BLAS."""
    choice = os.environ.get("CODEMODE_BLAS", "auto")
    # One BLAS thread unless the user says otherwise: the matrices of models that fit a CPU run
    # are small, and a second OpenBLAS thread measured 3-10x slower whenever the other core is
    # busy (xdist workers, a server, a second job). OpenBLAS reads this once, when loaded below.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if sys.platform != "linux" or choice == "reference":
        return None
    if "mlx.core" in sys.modules:
        log.warning("mlx is already imported, its BLAS is bound: call use_fast_blas() before it")
        return None
    if (preloaded := _address(ctypes.CDLL(None))) is not None:
        return f"preloaded: {_file_of(preloaded)}"
    spec = importlib.util.find_spec("scipy_openblas32") if choice == "auto" else None
    folders = (spec.submodule_search_locations or []) if spec else []
    wheel = [lib for d in folders for lib in sorted(Path(d, "lib").glob("libscipy_openblas*.so"))]
    system = ["libopenblasp.so.0", "libopenblas.so.0"] if choice == "auto" else [choice]
    sources: list[Path | str] = [*wheel, *system]  # (Fedora's pthread build, Debian's)
    for source in sources:
        try:
            found = _via_shim(source) if isinstance(source, Path) else _promote(ctypes.CDLL(source))
        except (OSError, AttributeError) as exc:  # library or symbol missing, or wrong machine
            log.debug("BLAS candidate %s skipped: %s", source, exc)
            found = None
        if found:
            return found
    log.info("no optimized BLAS found: mlx keeps its reference BLAS")
    return None


def _promote(lib: ctypes.CDLL, label: str | None = None) -> str | None:
    """Make ``lib`` (loaded locally) global if its sgemm is exact; return what it is."""
    ours = _address(lib)
    label = label or f"openblas: {_file_of(ours)}"
    fn, i, f, p = lib.cblas_sgemm, ctypes.c_int, ctypes.c_float, ctypes.c_void_p
    fn.argtypes, fn.restype = [i, i, i, i, i, i, f, p, i, p, i, f, p, i], None
    a, b, c = (f * 6)(1, 2, 3, 4, 5, 6), (f * 6)(7, 8, 9, 10, 11, 12), (f * 4)()
    fn(101, 111, 111, 2, 2, 3, 1.0, a, 3, b, 2, 0.0, c, 2)  # row-major 2x3 @ 3x2
    if list(c) != [58.0, 64.0, 139.0, 154.0]:
        log.warning("%s computes a wrong sgemm: not used", label)
        return None
    _keep.extend([lib, ctypes.CDLL(lib._name, mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)])
    return label if _address(ctypes.CDLL(None)) == ours else None  # what libmlx will bind to


def _via_shim(target: Path) -> str | None:
    image = _shim_image(platform.machine())
    _keep.append(real := ctypes.CDLL(str(target)))  # local: its stray unprefixed names stay so
    fd = os.memfd_create("codemode-blas-shim")  # left open: its /proc path names the shim
    os.write(fd, image)
    shim = ctypes.CDLL(f"/proc/self/fd/{fd}")
    table = (ctypes.c_void_p * len(SYMBOLS)).in_dll(shim, "codemode_blas_table")
    table[:] = [ctypes.cast(getattr(real, "scipy_" + n), ctypes.c_void_p) for n in SYMBOLS]
    return _promote(shim, f"openblas: {target} (scipy-openblas32 via forwarding shim)")


def _address(lib: ctypes.CDLL, name: str = "cblas_sgemm") -> int | None:
    """Address of ``name`` in ``lib``; ``CDLL(None)`` looks in the global scope. None if absent."""
    fn = getattr(lib, name, None)
    return None if fn is None else ctypes.cast(fn, ctypes.c_void_p).value


def _file_of(address: int | None) -> str:
    info = (ctypes.c_void_p * 4)()  # Dl_info: fname, fbase, sname, saddr
    ctypes.CDLL(None).dladdr(ctypes.c_void_p(address), info)
    return os.path.realpath(ctypes.string_at(info[0]).decode()) if info[0] else "?"


def _shim_image(machine: str) -> bytes:
    """A ~3 KB ELF shared object whose symbol ``SYMBOLS[k]`` is ``jmp *codemode_blas_table[k]``."""
    n, names = len(SYMBOLS), [*SYMBOLS, "codemode_blas_table"]
    strs = b"\0" + b"".join(s.encode() + b"\0" for s in names)
    sym, nsym = 288, n + 2  # after the ELF header and 4 program headers; with the null symbol
    hsh, text = (sym + 24 * nsym + len(strs) + 3) & ~3, 0x800  # hsh + 4 * (3 + nsym) < text
    end, data, vdata = text + 8 * n, 0x1000, 0x11000  # vdata = data (mod 64 KiB pages)
    vtable, size = vdata + 96, 96 + 8 * n
    rel = vtable - text  # stub k (at text + 8k) reads slot k (at vtable + 8k): same distance
    # fmt: off
    x86 = machine == "x86_64"  # else aarch64: the loader rejects the image on any other machine
    stub = (b"\xff\x25" + struct.pack("<iH", rel - 6, 0xCCCC) if x86  # jmp *rel(%rip); int3 int3
            else struct.pack("<II", 0x58000010 | (rel >> 2 & 0x7FFFF) << 5, 0xD61F0200))  # ldr; br
    syms = bytes(24) + b"".join(  # STB_GLOBAL: STT_FUNC stubs, then the STT_OBJECT table
        struct.pack("<IBBHQQ", strs.index(b"\0%s\0" % s.encode()) + 1, 0x11 if k == n else 0x12,
                    0, 1, vtable if k == n else text + 8 * k, 8 * n if k == n else 8)
        for k, s in enumerate(names))
    blobs = {
        0: b"\x7fELF\2\1\1" + bytes(9) + struct.pack(
            "<HHIQQQIHHHHHH", 3, 62 if x86 else 183, 1, 0, 64, 0, 0, 64, 56, 4, 64, 0, 0),
        64: struct.pack("<" + "IIQQQQQQ" * 4,
                        1, 5, 0, 0, 0, end, end, 0x10000,  # PT_LOAD r-x
                        1, 6, data, vdata, vdata, size, size, 0x10000,  # PT_LOAD rw-
                        2, 6, data, vdata, vdata, 96, 96, 8,  # PT_DYNAMIC
                        0x6474E551, 6, 0, 0, 0, 0, 0, 16),  # PT_GNU_STACK: stack not executable
        sym: syms + strs,
        hsh: struct.pack(f"<{3 + nsym}I", 1, nsym, nsym - 1, 0, *range(nsym - 1)),  # 1 bucket
        text: stub * n,  # then DT_HASH, DT_SYMTAB, DT_STRTAB, DT_STRSZ, DT_SYMENT, DT_NULL:
        data: struct.pack("<12Q", 4, hsh, 6, sym, 5, sym + 24 * nsym, 10, len(strs), 11, 24, 0, 0),
    }
    # fmt: on
    image = bytearray(data + size)
    for offset, blob in blobs.items():
        image[offset : offset + len(blob)] = blob
    return bytes(image)


if __name__ == "__main__":  # python -m pytest_codemode_eval.blas [MODULE ARGS...]
    print(f"BLAS for mlx: {use_fast_blas() or 'reference (nothing loaded)'}", file=sys.stderr)
    if sys.argv[1:]:
        sys.argv = sys.argv[1:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
