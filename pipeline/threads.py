"""Numerical work on one thread: the arrays of a study are small for a thread pool."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


def one_thread(*preload: str, user_api: str | None = None) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a function to run with BLAS and OpenMP limited to one thread.

    The clustering and agreement arrays are small for a thread pool (a k-means step on 5,000 points,
    a bootstrap block of 250 x 525): threads mostly wait on each other, and on a busy machine their
    spinning burns the CPU that other work needs. Measured on the shared 2-core machine
    (docs/benchmarks.md, "Scale"): MiniBatchKMeans for k = 2..12 on 5,000 traces took 11 s of CPU with
    two threads and 0.8 s with one; the agreement bootstrap 7.7 s and 3.3 s; same results.
    preload: modules to import first, since a limit reaches only the runtimes already loaded;
    user_api: "openmp" or "blas" to limit only that (default both).
    Only speed depends on the limit: OpenMP's is per thread, BLAS's per process, so calls overlapping in
    two threads may restore each other's BLAS setting out of order (and leave the process on one BLAS
    thread afterwards); never a different result."""

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            from threadpoolctl import threadpool_limits

            for name in preload:
                importlib.import_module(name)
            with threadpool_limits(limits=1, user_api=user_api):
                return fn(*args, **kwargs)

        return run

    return decorate
