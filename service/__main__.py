"""``gradserve`` / ``python -m service``: serve the app with uvicorn (uvloop, httptools) on
GRADSERVE_HOST:GRADSERVE_PORT (default 127.0.0.1:8000)."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import sys
import tempfile
from functools import partial

import uvicorn
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from service.allocator import GLIBC_TUNABLES
from service.connections import ConnectionLimits, GuardedProtocol
from service.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, object]:
    return {
        "host": settings.host, "port": settings.port, "workers": settings.workers,
        "loop": "uvloop", "log_level": settings.log_level,
        # httptools, with the header, target, connection-count and slow-client limits of
        # service/connections.py; uvicorn's keep-alive clock is the idle one
        "http": partial(GuardedProtocol, limits=ConnectionLimits.of(settings)),
        "timeout_keep_alive": settings.idle_timeout,
        "lifespan": "on",
        # SIGTERM (docker stop, a Kubernetes pod's end): stop accepting, let in-flight requests
        # finish for up to shutdown_timeout seconds, then exit. With several workers the parent
        # passes SIGTERM on to each worker and restarts any worker that dies.
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        # service/observability.py writes one JSON line per request instead
        "access_log": False,
        # An import string with factory=True: each worker process builds its own app (and reads
        # the same GRADSERVE_* environment).
        "factory": True,
    }


def prepare_metrics_dir() -> str:
    """Give the workers a fresh PROMETHEUS_MULTIPROC_DIR before they start (service/metrics.py):
    the one named by that variable, emptied of an earlier run's files, or a temporary one removed
    at exit. This module must not import prometheus_client, which reads the variable on import."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        for f in glob.glob(os.path.join(path, "*.db")):
            os.remove(f)
    else:
        path = tempfile.mkdtemp(prefix="gradserve-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        atexit.register(shutil.rmtree, path, True)
    return path


def main() -> None:
    if sys.platform == "linux" and "GLIBC_TUNABLES" not in os.environ:
        # once, before anything starts: glibc reads the allocator setting at process start
        os.environ["GLIBC_TUNABLES"] = GLIBC_TUNABLES
        os.execv(sys.executable, [sys.executable, "-m", "service", *sys.argv[1:]])
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"gradserve: a setting makes no sense, not starting:\n{exc}")
    prepare_metrics_dir()
    serve(settings)


def serve(settings: Settings) -> None:
    """uvicorn's supervisor around the worker processes, even a single one: a worker that dies
    (an OOM kill) is replaced, and SIGTERM still stops them gracefully."""
    config = uvicorn.Config("service.app:create_app", **uvicorn_options(settings))  # type: ignore[arg-type]
    Multiprocess(config, sockets=[config.bind_socket()]).run()


if __name__ == "__main__":
    main()
