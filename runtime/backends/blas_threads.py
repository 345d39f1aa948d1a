"""How many threads NumPy's BLAS uses: read and set through the library's own C entry points.

The NumPy backend's only multithreaded work is its GEMMs, so `load(..., num_threads=n)` sets the
thread count of the BLAS NumPy loaded, found among the process's mapped libraries
(/proc/self/maps) and called with ctypes, as threadpoolctl does, without depending on it:

  OpenBLAS  openblas_set_num_threads / openblas_get_num_threads, with the symbol prefixes and
            suffixes of NumPy's own wheels (scipy_openblas..._64_, ...64_);
  MKL       MKL_Set_Num_Threads / MKL_Get_Max_Threads;
  BLIS      bli_thread_set_num_threads / bli_thread_get_num_threads.

The setting is process-wide (BLAS has no per-call thread count): a process that loads two models
with different `num_threads` gets the last one. Where no known library is found (Apple
Accelerate, a BLAS without these entry points, a platform without /proc) the count is left as it
is and `BlasThreads.library` is None; OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set before NumPy is
imported still apply there.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Optional, Tuple

_OPENBLAS_NAMES = ("", "scipy_")
_OPENBLAS_SUFFIXES = ("", "64_", "_64_")
_MKL = ("MKL_Set_Num_Threads", "MKL_Get_Max_Threads")
_BLIS = ("bli_thread_set_num_threads", "bli_thread_get_num_threads")


@dataclass(frozen=True)
class BlasThreads:
    library: Optional[str]  # the shared object's path, None when none was found
    kind: str  # "openblas", "mkl", "blis" or ""
    setter: Optional[object] = None
    getter: Optional[object] = None

    def get(self) -> Optional[int]:
        return int(self.getter()) if self.getter is not None else None

    def set(self, n: int) -> None:
        if self.setter is not None:
            self.setter(int(n))


def _mapped_libraries() -> Tuple[str, ...]:
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return ()
    return tuple(sorted(p for p in paths if os.path.isabs(p)))


def _entry_points(lib) -> Optional[Tuple[str, object, object]]:
    for pre in _OPENBLAS_NAMES:
        for suf in _OPENBLAS_SUFFIXES:
            s, g = f"{pre}openblas_set_num_threads{suf}", f"{pre}openblas_get_num_threads{suf}"
            if hasattr(lib, s) and hasattr(lib, g):
                return "openblas", getattr(lib, s), getattr(lib, g)
    for kind, (s, g) in (("mkl", _MKL), ("blis", _BLIS)):
        if hasattr(lib, s) and hasattr(lib, g):
            return kind, getattr(lib, s), getattr(lib, g)
    return None


_FOUND: Optional[BlasThreads] = None


def blas_threads() -> BlasThreads:
    """The BLAS NumPy uses (imports NumPy first so that it is mapped); looked up once."""
    global _FOUND
    if _FOUND is None:
        import numpy  # noqa: F401  (maps its BLAS)

        found = BlasThreads(None, "")
        for path in _mapped_libraries():
            name = os.path.basename(path).lower()
            if not any(k in name for k in ("blas", "mkl", "blis")):
                continue
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            hit = _entry_points(lib)
            if hit is not None:
                kind, setter, getter = hit
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                found = BlasThreads(path, kind, setter, getter)
                break
        _FOUND = found
    return _FOUND


def set_blas_threads(n: Optional[int]) -> Optional[int]:
    """Set NumPy's BLAS to n threads (None: leave it); returns the count now in effect, or None
    when no controllable BLAS was found."""
    found = blas_threads()
    if n is not None:
        if int(n) < 1:
            raise ValueError(f"num_threads must be >= 1, got {n}")
        found.set(int(n))
    return found.get()
