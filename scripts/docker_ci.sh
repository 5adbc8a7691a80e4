#!/usr/bin/env bash
# The deployment check, run by the suite (tests/deploy/test_docker_ci.py) and so by .ci/run.
#
# On a Debian machine, as root, with no image registry reachable, it:
#   1. installs docker.io, docker-compose and mmdebstrap from Debian where they are missing;
#   2. starts dockerd in the background unless one answers already;
#   3. builds a local base image (Debian bookworm, its python3 3.11) with mmdebstrap;
#   4. builds the real Dockerfile on it (BASE_IMAGE), pip trusting this machine's CA bundle;
#   5. `compose up`s the `api` service (two workers, the contract tests' settings) on a free
#      loopback port and waits for it to be healthy;
#   6. runs the httpx contract suite against it (GRADSERVE_TEST_URL: the live-server tests);
#   7. checks a JSON log line, that a worker killed with SIGKILL comes back, that the `lb` profile
#      (nginx) spreads requests over two replicas, and that SIGTERM (`compose stop`) lets a
#      request in flight finish with 200;
#   8. tears everything down (containers, networks, the images it built, the dockerd it started),
#      on failure too. The base image stays, as a cache for the next run.
#
# Environment: PYTHON (default .venv/bin/python, with the test extra installed);
# GRADSERVE_CI_BASE_IMAGE to build on another base instead of the mmdebstrap one;
# GRADSERVE_CI_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt) for pip in the build;
# GRADSERVE_CI_SKIP_LB=1 to leave out the nginx check.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
# Debian's docker client first: it has BuildKit built in (a newer client elsewhere on PATH may
# want a buildx plugin that is not installed).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1 DEBIAN_FRONTEND=noninteractive

RUN_ID=${GRADSERVE_CI_RUN_ID:-$$}
PROJECT=gradserve-ci-$RUN_ID
IMAGE=gradserve:ci-$RUN_ID
LB_IMAGE=gradserve-ci-nginx:$RUN_ID
BASE_IMAGE=${GRADSERVE_CI_BASE_IMAGE:-gradserve-base:bookworm}
CA_BUNDLE=${GRADSERVE_CI_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
WORK=$(mktemp -d /tmp/gradserve-ci.XXXXXX)
DOCKERD_PID=""
COMPOSE_USED=""
T0=$SECONDS

step() { printf '\n=== [%4ss] %s\n' $((SECONDS - T0)) "$*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

compose() {
    "${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml -f "$WORK/ci.json" "$@"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    step "teardown (exit status $rc)"
    if [ -n "$COMPOSE_USED" ]; then
        if [ "$rc" -ne 0 ]; then
            echo "--- compose ps / logs"
            compose --profile lb ps
            compose --profile lb logs --no-color --tail 60
        fi
        GRADSERVE_API_PORT= compose --profile lb down -v --remove-orphans -t 10
    fi
    docker image rm -f "$IMAGE" "$LB_IMAGE" >/dev/null 2>&1
    if [ -n "$DOCKERD_PID" ]; then
        if [ "$rc" -ne 0 ]; then echo "--- dockerd log"; tail -40 "$WORK/dockerd.log"; fi
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$DOCKERD_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
    printf '=== docker CI: %s in %ss\n' "$([ "$rc" -eq 0 ] && echo passed || echo FAILED)" \
        $((SECONDS - T0))
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ----- 1. packages --------------------------------------------------------------------------------
step "packages"
missing=()
{ command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; } || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    COMPOSE=(docker-compose)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]}"
    echo "installing ${missing[*]}"
    apt-get update -q >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log"; die "apt-get update"; }
    apt-get install -y -q "${missing[@]}" >>"$WORK/apt.log" 2>&1 \
        || { tail -40 "$WORK/apt.log"; die "apt-get install ${missing[*]}"; }
    hash -r  # `docker` may have been looked up before /usr/bin/docker existed
fi
[ "$(command -v docker)" = /usr/bin/docker ] || die "docker is $(command -v docker), not Debian's"
docker --version
"${COMPOSE[@]}" version | sed -n 1p

# ----- 2. dockerd ---------------------------------------------------------------------------------
step "dockerd"
if docker info >/dev/null 2>&1; then
    echo "a docker daemon answers already"
else
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid  # left by a dockerd that did not stop cleanly
    fi
    # its own session, output to a file: it must not hold the caller's pipes open
    setsid dockerd >"$WORK/dockerd.log" 2>&1 </dev/null &
    DOCKERD_PID=$!
    for _ in $(seq 120); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -30 "$WORK/dockerd.log"; die "dockerd exited"; }
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { tail -30 "$WORK/dockerd.log"; die "dockerd did not answer"; }
    echo "started dockerd (pid $DOCKERD_PID)"
fi

# ----- 3. base image ------------------------------------------------------------------------------
step "base image $BASE_IMAGE"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "present"
elif [ "$BASE_IMAGE" = gradserve-base:bookworm ]; then
    # Debian's python3 is 3.11, as pyproject.toml needs; useradd (passwd) for the non-root user.
    mmdebstrap --variant=apt --include=python3,python3-venv,ca-certificates,passwd bookworm - \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" \
        </dev/null 2>"$WORK/mmdebstrap.log" | docker import - "$BASE_IMAGE" \
        || { tail -30 "$WORK/mmdebstrap.log"; die "mmdebstrap"; }
    tail -1 "$WORK/mmdebstrap.log"
else
    die "$BASE_IMAGE is not here and no registry can be reached"
fi

# ----- 4. the image -------------------------------------------------------------------------------
step "docker build (BASE_IMAGE=$BASE_IMAGE)"
secret=()
[ -s "$CA_BUNDLE" ] && secret=(--secret "id=pip_ca,src=$CA_BUNDLE")
docker build --progress=plain --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --build-arg PIP_INDEX_URL --build-arg PIP_EXTRA_INDEX_URL --build-arg PIP_TRUSTED_HOST \
    "${secret[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1 \
    || { tail -60 "$WORK/build.log"; die "docker build"; }
{ grep -E "Successfully installed" "$WORK/build.log" || echo "(pip step cached)"; } \
    | sed 's/^#[0-9]* [0-9.]* //' | cut -c1-400
docker image ls "$IMAGE" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || die "image runs as root"
# the final stage has no compiler, no build tools and no pip cache; its venv has no pip
docker run --rm --entrypoint sh "$IMAGE" -c '
    for t in gcc cc c++ make; do if command -v $t; then exit 1; fi; done
    if ls /opt/gradserve/bin | grep -q "^pip"; then exit 1; fi
    if find / -xdev -type d -path "*/.cache/pip" 2>/dev/null | grep -q .; then exit 1; fi' \
    || die "the final image holds a compiler, pip or a pip cache"
echo "runs as $user; no compiler, pip or pip cache in the final image"

# ----- 5. compose up ------------------------------------------------------------------------------
step "compose up api"
"$PYTHON" scripts/deploy_checks.py ci-env "$IMAGE" >"$WORK/ci.json"
COMPOSE_USED=1
export GRADSERVE_API_PORT=  # a free loopback port (several replicas for the lb check)
compose up -d --no-build api
CID=$(compose ps -q api)
PORT=$(compose port api 8000 | awk -F: '{print $NF}')
URL=http://127.0.0.1:$PORT
echo "container ${CID:0:12} on $URL"
for _ in $(seq 120); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$CID")
    [ "$health" = healthy ] && break
    [ "$health" = unhealthy ] && die "the container is unhealthy"
    sleep 0.5
done
[ "$health" = healthy ] || die "the container did not become healthy ($health)"
echo "healthy after $((SECONDS - T0))s; $(docker inspect -f \
    'memory limit {{.HostConfig.Memory}} B, restart {{.HostConfig.RestartPolicy.Name}}' "$CID")"

# ----- 6. the contract suite ----------------------------------------------------------------------
step "contract suite against $URL"
GRADSERVE_TEST_URL=$URL "$PYTHON" -m pytest tests/service -q -p no:cacheprovider \
    >"$WORK/contract.log" 2>&1 || { tail -80 "$WORK/contract.log"; die "the contract suite"; }
tail -1 "$WORK/contract.log"

# ----- 7. logs, worker restart, load balancer, graceful stop ---------------------------------------
step "JSON access log"
"$PYTHON" scripts/deploy_checks.py log "$URL" "$CID"

step "kill -9 a worker"
"$PYTHON" scripts/deploy_checks.py worker-restart "$URL" "$CID"

if [ "${GRADSERVE_CI_SKIP_LB:-}" != 1 ]; then
    step "lb profile: nginx in front of 2 replicas"
    # nginx from Debian on the local base (the compose default is the official nginx image)
    docker build -q -t "$LB_IMAGE" - >/dev/null <<EOF
FROM $BASE_IMAGE
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/*
CMD ["nginx", "-g", "daemon off;"]
EOF
    GRADSERVE_LB_IMAGE=$LB_IMAGE GRADSERVE_LB_PORT= \
        compose --profile lb up -d --no-build --scale api=2 api lb
    LB_URL=http://127.0.0.1:$(compose --profile lb port lb 8080 | awk -F: '{print $NF}')
    replicas=()
    for i in 1 2; do
        c=$(compose ps -q api | sed -n "${i}p")
        for _ in $(seq 120); do
            [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] && break
            sleep 0.5
        done
        p=$(docker inspect -f '{{(index (index .NetworkSettings.Ports "8000/tcp") 0).HostPort}}' "$c")
        replicas+=("http://127.0.0.1:$p")
    done
    "$PYTHON" scripts/deploy_checks.py lb "$LB_URL" "${replicas[@]}"
    compose --profile lb stop -t 10 lb
    compose --profile lb rm -f lb >/dev/null
    compose up -d --no-build --scale api=1 api
fi

step "SIGTERM drains a request in flight (compose stop)"
"$PYTHON" scripts/deploy_checks.py drain "$URL" -- "${COMPOSE[@]}" -p "$PROJECT" \
    -f docker-compose.yml -f "$WORK/ci.json" stop -t 60 api
read -r status code < <(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$CID")
[ "$status" = exited ] && [ "$code" = 0 ] || die "after the stop: $status, exit code $code"
docker logs "$CID" >"$WORK/api.log" 2>&1
grep -q "Finished server process" "$WORK/api.log" || die "uvicorn did not shut down gracefully"
echo "the container exited with status 0 after draining ($(grep -c "Waiting for connections to close" \
    "$WORK/api.log") worker(s) logged waiting for connections)"
