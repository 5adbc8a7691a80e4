"""``gradserve`` / ``python -m service``: serve the app with uvicorn (uvloop, httptools) on
GRADSERVE_HOST:GRADSERVE_PORT (default 127.0.0.1:8000)."""

from __future__ import annotations

import uvicorn

from service.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, object]:
    return {
        "host": settings.host, "port": settings.port, "workers": settings.workers,
        "loop": "uvloop", "http": "httptools", "log_level": settings.log_level,
        "lifespan": "on",
        # An import string with factory=True: each worker process builds its own app (and reads
        # the same GRADSERVE_* environment).
        "factory": True,
    }


def main() -> None:
    uvicorn.run("service.app:create_app", **uvicorn_options(Settings()))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
