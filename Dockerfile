# gradserve's image: the service on uvicorn, as a non-root user, with nothing to build software in.
#
#   docker build -t gradserve .                          # CPU (numpy)
#   docker build --target gpu -t gradserve:gpu .         # + the `gpu` extra (CuPy, CUDA 12)
#
# Build arguments (all optional):
#   BASE_IMAGE           the image both stages start from (default: the official python:3.11-slim).
#                        Any Debian-like image with python3 >= 3.11 (venv and pip), useradd and
#                        apt works: where no image registry is reachable, import one made with
#                        mmdebstrap (scripts/docker_ci.sh does).
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST
#                        another package source for pip (a mirror, a proxy).
#   a build secret `pip_ca`: a CA bundle for pip to trust (a TLS-intercepting proxy), used in the
#                        build stage only:  --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt
# RUN --mount needs BuildKit: on with Docker 23+ and Compose v2; otherwise set DOCKER_BUILDKIT=1
# (and COMPOSE_DOCKER_CLI_BUILD=1 for docker-compose v1).
#
# Settings are GRADSERVE_* environment variables (README.md); GRADSERVE_WORKERS picks the number of
# uvicorn worker processes. `docker stop` (SIGTERM) lets requests in flight finish for up to
# GRADSERVE_SHUTDOWN_TIMEOUT seconds: give the container a longer stop timeout than that.

ARG BASE_IMAGE=python:3.11-slim

# ----- build: a virtual environment with gradserve and its dependencies --------------------------
FROM ${BASE_IMAGE} AS build
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DEFAULT_TIMEOUT=120 \
    PYTHONDONTWRITEBYTECODE=1
# tini: a tiny init for PID 1 that passes SIGTERM on to gradserve and reaps zombies; its static
# build is copied into the final stage, which then needs no package manager run.
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends tini; \
    cp /usr/bin/tini-static /tini; \
    rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/gradserve
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY engine ./engine
COPY service ./service
# the playground's examples menu: setup.py packages examples/ as service.examples
COPY examples ./examples
# Wheels only (numpy, orjson, uvloop, httptools, pydantic-core have them): nothing compiles.
RUN --mount=type=secret,id=pip_ca,required=false \
    set -eu; \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    /opt/gradserve/bin/pip install --only-binary=:all: . ; \
    /opt/gradserve/bin/pip check

# ----- venv-cpu: the environment without the tools that installed it ----------------------------
FROM build AS venv-cpu
RUN /opt/gradserve/bin/pip uninstall -q -y pip setuptools

# ----- venv-gpu: the same, plus the `gpu` extra and the CUDA libraries CuPy loads (PyPI's
# nvidia-* wheels, CuPy's `ctk` extra): the host needs only the NVIDIA driver and container toolkit.
FROM build AS venv-gpu
RUN --mount=type=secret,id=pip_ca,required=false \
    set -eu; \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    /opt/gradserve/bin/pip install --only-binary=:all: '.[gpu]' 'cupy-cuda12x[ctk]'; \
    /opt/gradserve/bin/pip uninstall -q -y pip setuptools

# ----- runtime-base: what both final images share -------------------------------------------------
FROM ${BASE_IMAGE} AS runtime-base
RUN set -eux; \
    groupadd --system --gid 10001 gradserve; \
    useradd --system --uid 10001 --gid gradserve --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin gradserve
COPY --from=build /tini /usr/local/bin/tini
# HOME: the user has no home directory; libraries that keep caches under ~ write to /tmp.
ENV PATH=/opt/gradserve/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRADSERVE_HOST=0.0.0.0 \
    GRADSERVE_PORT=8000 \
    GRADSERVE_WORKERS=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/gradserve-metrics
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# /health/ready: 200 while a program slot is free (python: the slim image has no curl).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('GRADSERVE_PORT', '8000'), timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
# tini is PID 1 and forwards SIGTERM to gradserve, which is uvicorn in the same process: it stops
# accepting, drains requests in flight (GRADSERVE_SHUTDOWN_TIMEOUT) and, with several workers,
# restarts any worker that dies.
ENTRYPOINT ["/usr/local/bin/tini", "--"]
CMD ["gradserve"]

# ----- gpu: docker build --target gpu ------------------------------------------------------------
FROM runtime-base AS gpu
COPY --from=venv-gpu /opt/gradserve /opt/gradserve
# CuPy compiles kernels at run time and caches them on disk
ENV GRADSERVE_BACKEND=cupy \
    CUPY_CACHE_DIR=/tmp/cupy-kernel-cache

# ----- runtime (the default, last stage): CPU --------------------------------------------------
FROM runtime-base AS runtime
COPY --from=venv-cpu /opt/gradserve /opt/gradserve
