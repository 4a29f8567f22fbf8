#!/usr/bin/env bash
# A running Docker engine: installs Debian's docker.io (and debootstrap, for images.sh) when missing,
# starts dockerd when nothing answers on the socket, and waits until it does.
# dockerd listens on the default unix socket and on tcp://127.0.0.1:2375 (loopback only, no TLS): the engine
# tests use the TCP endpoint as a "remote" daemon, where bind mounts are not used. A dockerd already running
# without that listener is restarted with it.
source "$(dirname "$0")/common.sh"

SOCKET=unix:///var/run/docker.sock
TCP=tcp://127.0.0.1:${AIRFLOW_RUNTIME_DOCKER_TCP_PORT:-2375}
PIDFILE=/var/run/docker.pid
unset DOCKER_HOST DOCKER_CONTEXT   # this script is about the engine on this machine

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  log "installing docker.io and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

answers() { docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
describe() { docker -H "$SOCKET" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'; }

if answers "$SOCKET"; then
  if answers "$TCP"; then
    log "docker engine already running on $SOCKET and $TCP: $(describe)"
    exit 0
  fi
  pid=$(cat "$PIDFILE" 2>/dev/null || pgrep -xo dockerd || true)
  [ -n "$pid" ] || { log "a docker engine answers on $SOCKET but no dockerd process was found to restart with $TCP"; exit 1; }
  running=$(docker -H "$SOCKET" ps -q | wc -l)
  log "dockerd (pid $pid) does not listen on $TCP: restarting it ($running running containers will stop)"
  kill "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd (pid $pid) did not stop within 30 s"
    exit 1
  fi
fi

log "starting dockerd on $SOCKET and $TCP (log: /var/log/dockerd.log)"
nohup dockerd -H "$SOCKET" -H "$TCP" >>/var/log/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if answers "$SOCKET" && answers "$TCP"; then
    log "docker engine up: $(describe)"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not answer on $SOCKET and $TCP within 30 s; last lines of its log:"
tail -20 /var/log/dockerd.log >&2
exit 1
