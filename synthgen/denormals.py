"""Flush denormal floats to zero while a synth renders (x86-64 with glibc; elsewhere a no-op).

A voice's release tail and its filters' decaying state pass through denormal numbers (below
1.2e-38 in float32), which x86 processors compute 10-100x slower than normal ones. Setting the
SSE unit's flush-to-zero and denormals-are-zero bits while rendering takes the built-in voice
from ~5.1 to ~3.7 ms of CPU per sound; a sample it changes differs by less than 1.2e-38
(``python -m benchmarks.faust_speed`` checks the audio bit for bit). The bits belong to the
calling thread and are restored on exit, so no other computation sees them.
"""

__all__ = ["DENORMALS_FLUSHABLE", "flushing_denormals"]

import ctypes
import ctypes.util
import platform
from collections.abc import Iterator
from contextlib import contextmanager

# MXCSR bits: flush-to-zero (15) and denormals-are-zero (6).
_FTZ_DAZ = 0x8040
# glibc's x86-64 fenv_t: the 28-byte x87 environment, then MXCSR.
_FENV_WORDS, _MXCSR_WORD = 8, 7


def _libm() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    name = ctypes.util.find_library("m")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBM = _libm()
#: whether this platform lets :func:`flushing_denormals` set the bits
DENORMALS_FLUSHABLE = _LIBM is not None


@contextmanager
def flushing_denormals(enabled: bool = True) -> Iterator[None]:
    """Within the block, this thread's float arithmetic flushes denormals to zero (where supported)."""
    if not enabled or _LIBM is None:
        yield
        return
    saved = (ctypes.c_uint32 * _FENV_WORDS)()
    _LIBM.fegetenv(saved)
    flushing = (ctypes.c_uint32 * _FENV_WORDS)(*saved)
    flushing[_MXCSR_WORD] |= _FTZ_DAZ
    _LIBM.fesetenv(flushing)
    try:
        yield
    finally:
        _LIBM.fesetenv(saved)
