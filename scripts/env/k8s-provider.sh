#!/usr/bin/env bash
# The cncf.kubernetes provider (and the `kubernetes` client) for the policy package's Kubernetes tests,
# beside each Airflow venv instead of inside it: the shared venvs stay as venvs.sh built them.
# Output: $ENV_CACHE/overlays/cncf-kubernetes-<version>/, a `pip --target` folder to put on PYTHONPATH
# of that venv's python. Pinned by test/env/locks/cncf-kubernetes-<version>.txt: only the packages the
# venv lacks, resolved with the venv's own lock as constraints (written on the first resolve, then committed).
source "$(dirname "$0")/common.sh"
ensure_uv

build_overlay() {
  local version=$1
  local python="$ENV_CACHE/venvs/airflow-$version/bin/python"
  local venv_lock="$CONSTRAINTS_DIR/airflow-$version.txt"
  local lock="$LOCKS_DIR/cncf-kubernetes-$version.txt"
  local overlay="$ENV_CACHE/overlays/cncf-kubernetes-$version"
  local stamp="$overlay/.airflow-runtime-stamp"
  [ -x "$python" ] || { log "missing venv $python: run venvs.sh first"; return 1; }
  if [ ! -f "$lock" ]; then
    log "resolving apache-airflow-providers-cncf-kubernetes for Airflow $version"
    local resolved
    resolved=$(echo "apache-airflow-providers-cncf-kubernetes" |
      uv pip compile - --quiet --no-header --no-annotate -c "$venv_lock" --python "$python")
    # keep what the venv does not already have
    comm -23 <(echo "$resolved" | sort) <(sort "$venv_lock") > "$lock"
    log "wrote $lock: commit it so every machine installs the same packages"
  fi
  local want
  want=$(cat "$lock" "$venv_lock" | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "overlay cncf-kubernetes-$version is up to date"
    return 0
  fi
  log "installing overlay cncf-kubernetes-$version"
  rm -rf "$overlay"
  uv pip install --quiet --python "$python" --no-deps --target "$overlay" -r "$lock"
  PYTHONPATH="$overlay" "$python" -c \
    "from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator; import kubernetes; print('kubernetes', kubernetes.__version__)" >&2
  echo "$want" > "$stamp"
}

for version in $AIRFLOW_VERSIONS; do
  build_overlay "$version"
done
