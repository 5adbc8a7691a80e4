"""The benchmark processes' environment (threads pinned alike for every side) and machine facts."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

from service.allocator import GLIBC_TUNABLES

REPO = Path(__file__).resolve().parent.parent

# Set on some machines to dodge bugs of old OpenBLAS builds; they force a slower kernel on the
# current numpy wheel (measured here: a 256x1024 @ 1024x1024 float32 matmul took 2.3 ms with
# OPENBLAS_CORETYPE=Haswell against 1.3 ms with the SkylakeX kernel OpenBLAS picks itself).
# Removed in the benchmark processes only; the kernel that ran is recorded (threadpoolctl).
UNSET_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def thread_count() -> int:
    return os.cpu_count() or 1


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every benchmark subprocess (workers and the servers they start)."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET_VARS}
    n = str(thread_count())
    for var in THREAD_VARS:
        env[var] = n
    env["BENCH_THREADS"] = n
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    # the allocator setting gradserve's server runs with, for every side alike (service/allocator.py)
    env.setdefault("GLIBC_TUNABLES", GLIBC_TUNABLES)
    env.update(extra or {})
    return env


def pin_threads() -> list[dict[str, Any]]:
    """In a worker: hold numpy's BLAS (and any OpenMP runtime already loaded) and torch, when it is
    loaded, at the machine's core count; return what threadpoolctl sees (the kernel that runs)."""
    n = thread_count()
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(n)
    try:
        import threadpoolctl
    except ImportError:  # the smoke test runs without the bench extra; the env vars still pin
        return [{"threadpoolctl": "not installed", **{v: os.environ.get(v) for v in THREAD_VARS}}]
    threadpoolctl.threadpool_limits(n)
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture",
            "threading_layer")
    return [{k: d[k] for k in keep if k in d} for d in threadpoolctl.threadpool_info()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Facts about this machine and the packages the benchmark ran with (torch's version read from
    its metadata: the driver process never imports torch)."""
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "fastapi": _version("fastapi"),
        "uvicorn": _version("uvicorn"),
        "orjson": _version("orjson"),
        "threadpoolctl": _version("threadpoolctl"),
        "threads": thread_count(),
        "unset_in_benchmark": {v: os.environ[v] for v in UNSET_VARS if v in os.environ},
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", GLIBC_TUNABLES),
    }


def torch_available() -> bool:
    return _version("torch") is not None
