#!/usr/bin/env bash
# Build the Skein image where no container registry is reachable: a base image made from
# Debian packages (debootstrap), then deploy/Dockerfile on it, installing from a local wheelhouse.
# Needs podman (buildah inside), runc and debootstrap: deploy/image/install-tools.sh.
#
#   deploy/image/build.sh [TAG]          default TAG: localhost/skein:dev
#
# Everything slow is cached under $SKEIN_IMAGE_CACHE (default /var/cache/skein-image), keyed by
# what it is made from, so a second build only redoes what changed:
#   base-<hash>.tar      the debootstrapped root filesystem (key: this script's base recipe)
#   wheels-<hash>/       every dependency as a wheel (key: pyproject.toml's dependencies)
# and podman keeps the image layers (the dependency layer is rebuilt only when pyproject.toml
# changes). Cold build about 3 minutes on 2 quiet cores, warm a few seconds (docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG=${1:-localhost/skein:dev}
CACHE=${SKEIN_IMAGE_CACHE:-/var/cache/skein-image}
BIN=${BIN:-.venv/bin}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# The base recipe: python3 (3.11 on bookworm) with venv, CA certificates for HTTPS providers.
PACKAGES=python3,python3-venv,ca-certificates
# podman's default runtime (crun) fails on hybrid cgroup v1 hosts and raising rlimits is not
# allowed in some sandboxes: runc and explicit limits work everywhere we have tried.
PODMAN=(podman --runtime runc)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

log() { printf 'image: %s\n' "$*" >&2; }
hash_of() { sha256sum | cut -c1-12; }

mkdir -p "$CACHE"
BASE_KEY=$(printf '%s %s %s' "$SUITE" "$PACKAGES" "$(sed -n '/^trim_rootfs()/,/^}/p' "$0")" | hash_of)
BASE=localhost/skein-base:$SUITE-$BASE_KEY

trim_rootfs() {
  # Package caches, docs and locales: not needed at run time, a third of the size.
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* \
    "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/* "$1"/usr/share/info/*
}

ensure_base() {
  if "${PODMAN[@]}" image exists "$BASE"; then
    log "base $BASE: present"
    return
  fi
  local tarball=$CACHE/base-$BASE_KEY.tar
  if [ ! -f "$tarball" ]; then
    log "base: debootstrap $SUITE ($PACKAGES) from $MIRROR"
    local rootfs=$CACHE/rootfs-$BASE_KEY
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log"
    trim_rootfs "$rootfs"
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "base: import $tarball as $BASE"
  "${PODMAN[@]}" import --change 'CMD ["/bin/bash"]' "$tarball" "$BASE" >/dev/null
}

ensure_wheels() {
  # Resolved by the base's own python (markers such as python_full_version must match the
  # interpreter that installs them), in a throwaway container that may use the network.
  local key
  key=$( (printf '%s\n' "$BASE"; sed -n '/^dependencies = \[/,/^\]/p' pyproject.toml) | hash_of)
  WHEELS=$CACHE/wheels-$key
  if [ -f "$WHEELS/.complete" ]; then
    log "wheels $WHEELS: present"
    return
  fi
  log "wheels: resolving with $BASE into $WHEELS"
  rm -rf "$WHEELS"
  mkdir -p "$WHEELS" "$CACHE/pip-cache"
  local trust=()
  # A TLS-intercepting egress proxy (PIP_CERT names its CA bundle on such hosts): trust it too.
  if [ -n "${PIP_CERT:-}" ]; then trust=(-v "$PIP_CERT:/etc/skein-build/ca.pem:ro" -e PIP_CERT=/etc/skein-build/ca.pem); fi
  # setuptools and wheel: pip builds skein itself from source inside the image (build isolation).
  "${PODMAN[@]}" run --rm --network host "${LIMITS[@]}" "${trust[@]}" \
    -v "$PWD/pyproject.toml:/src/pyproject.toml:ro" -v "$WHEELS:/wheels" -v "$CACHE/pip-cache:/root/.cache/pip" \
    "$BASE" sh -c '
      set -e
      python3 -m venv /tmp/venv
      python3 -c "import tomllib; print(chr(10).join(tomllib.load(open(\"/src/pyproject.toml\", \"rb\"))[\"project\"][\"dependencies\"]))" > /tmp/requirements.txt
      /tmp/venv/bin/pip wheel --quiet --disable-pip-version-check --wheel-dir /wheels -r /tmp/requirements.txt "setuptools>=68" wheel
    ' >&2
  touch "$WHEELS/.complete"
}

ensure_base
ensure_wheels
log "build $TAG on $BASE"
# --network none: everything comes from the base and the wheelhouse, nothing from the network.
"${PODMAN[@]}" build --quiet --format docker --layers --network none "${LIMITS[@]}" \
  --ignorefile deploy/Dockerfile.dockerignore \
  --build-arg BASE="$BASE" \
  --build-arg PIP_INSTALL_OPTIONS="--no-index --find-links=/wheels" \
  --volume "$WHEELS:/wheels:ro" \
  -f deploy/Dockerfile -t "$TAG" . >/dev/null
log "built $TAG ($("${PODMAN[@]}" image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
