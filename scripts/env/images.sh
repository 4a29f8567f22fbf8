#!/usr/bin/env bash
# Real Airflow images built locally (no registry is reachable): a Debian base made with debootstrap,
# then one image per Airflow version with the same pinned packages as the host venvs.
# Tags: airflow-runtime-base:bookworm, airflow-runtime-test/airflow:<version>.
# Each image carries a label with the hash of its inputs; a matching image is reused.
source "$(dirname "$0")/common.sh"

BASE_TAG=airflow-runtime-base:bookworm
MIRROR=$(grep -hoE '^URIs: *http[^ ]*debian/?$' /etc/apt/sources.list.d/* 2>/dev/null | head -1 | awk '{print $2}')
MIRROR=${MIRROR:-http://deb.debian.org/debian}

image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

if [ -n "$(docker image ls -q "$BASE_TAG")" ]; then
  log "base image $BASE_TAG present"
else
  log "building $BASE_TAG with debootstrap from $MIRROR"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,procps bookworm "$rootfs" "$MIRROR" >/dev/null
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/bash"]' - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
fi

for version in $AIRFLOW_VERSIONS; do
  tag="airflow-runtime-test/airflow:$version"
  lock="$CONSTRAINTS_DIR/airflow-$version.txt"
  [ -f "$lock" ] || { log "missing $lock: run venvs.sh first"; exit 1; }
  ctx=$(mktemp -d)
  cp "$lock" "$ctx/requirements.txt"
  cp "$REPO_ROOT/test/env/airflow.Dockerfile" "$ctx/Dockerfile"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca.crt"
  inputs=$(cat "$ctx/requirements.txt" "$ctx/Dockerfile" | sha256sum | cut -c1-16)
  if [ "$(image_label "$tag" airflow-runtime.inputs)" = "$inputs" ]; then
    log "image $tag is up to date"
  else
    log "building $tag"
    docker build --quiet --label "airflow-runtime.inputs=$inputs" --build-arg "BASE=$BASE_TAG" -t "$tag" "$ctx" >/dev/null
  fi
  rm -rf "$ctx"
  docker run --rm "$tag" python -c "import airflow, sys; print('image', '$tag', 'airflow', airflow.__version__, 'python', sys.version.split()[0])" >&2
done
