#!/usr/bin/env bash
# Everything `npm test` needs on this machine, from nothing: Debian packages, a Docker engine, the Airflow venvs
# and images, the production deployment's parts, code-server and chromium. Idempotent and cached: a second run
# spends seconds. The Debian packages are installed in one apt run first (the scripts below find them and skip
# their own installs), then three independent chains run in parallel, each logging with its own prefix.
source "$(dirname "$0")/common.sh"
here=$(dirname "$0")
started=$SECONDS

# --- Debian packages, once -------------------------------------------------------------------------------------
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
# a real registry on 127.0.0.1 for `export --push` (test/engine/requirements.test.ts)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
for tool in g++ make; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "missing Debian packages (${need[*]}) and not root: install them, then run this again"; exit 1; }
  log "installing ${need[*]} from Debian"
  # policy-rc.d answers 101 "action forbidden" to every service start the packages ask for (dockerd, PostgreSQL
  # and Redis are started by our scripts, on our terms); one that someone else put there is left alone.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  status=0
  { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } || status=$?
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$status" = 0 ] || { log "apt-get install ${need[*]} failed"; exit 1; }
fi

# --- Python test tools ------------------------------------------------------------------------------------------
python3 -c 'import pytest' 2>/dev/null || { log "installing pytest from PyPI"; python3 -m pip install --quiet pytest; }
ensure_uv

# --- three independent chains, in parallel -----------------------------------------------------------------------
"$here/sandbox.sh"
chain() {
  local name=$1; shift
  for script in "$@"; do
    "$here/$script" 2>&1 | sed -u "s/^/[$name] /" >&2
    local status=${PIPESTATUS[0]}
    [ "$status" = 0 ] || { log "[$name] $script failed (exit $status)"; return 1; }
  done
}
chain docker docker.sh images.sh production.sh &
docker_chain=$!
chain venvs venvs.sh k8s-provider.sh &
venvs_chain=$!
chain editor code-server.sh ruff.sh &
editor_chain=$!
failed=0
for pid in $docker_chain $venvs_chain $editor_chain; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { log "the test environment is not complete (see above)"; exit 1; }
log "test environment ready in $((SECONDS - started)) s"
