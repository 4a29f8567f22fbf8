#!/usr/bin/env bash
# A running Docker engine: installs Debian's docker.io (and debootstrap, for images.sh) when missing,
# starts dockerd when nothing answers on the socket, and waits until it does.
source "$(dirname "$0")/common.sh"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  log "installing docker.io and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if docker info >/dev/null 2>&1; then
  log "docker engine already running: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
  exit 0
fi

log "starting dockerd (log: /var/log/dockerd.log)"
nohup dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "docker engine up: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not answer within 30 s; last lines of its log:"
tail -20 /var/log/dockerd.log >&2
exit 1
