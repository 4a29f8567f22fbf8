#!/usr/bin/env bash
# Host virtualenvs with real Airflow, for the local engine and the harness's version matrix.
# Output: $ENV_CACHE/venvs/airflow-<version>/bin/python, one per version in AIRFLOW_MATRIX_VERSIONS.
# Pinned by media/constraints/airflow-<version>.txt (written on the first resolve, then committed).
# Venvs are built in parallel (uv's downloads dominate, and its cache is shared).
source "$(dirname "$0")/common.sh"
ensure_uv

build_venv() {
  local version=$1
  local venv="$ENV_CACHE/venvs/airflow-$version"
  local lock="$CONSTRAINTS_DIR/airflow-$version.txt"
  local stamp="$venv/.airflow-runtime-stamp"
  local want
  want=$( { cat "$lock" 2>/dev/null || true; } | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "venv airflow-$version is up to date"
    return 0
  fi
  log "building venv airflow-$version"
  rm -rf "$venv"
  uv venv --quiet --python "$(command -v python3)" "$venv"
  if [ -f "$lock" ]; then
    uv pip install --quiet --python "$venv/bin/python" -r "$lock"
  else
    uv pip install --quiet --python "$venv/bin/python" "apache-airflow==$version"
    mkdir -p "$CONSTRAINTS_DIR"
    uv pip freeze --python "$venv/bin/python" > "$lock"
    log "wrote $lock: commit it so every machine installs the same packages"
    want=$(sha256sum < "$lock" | cut -c1-16)
  fi
  "$venv/bin/python" -c "import airflow; print('airflow', airflow.__version__)" >&2
  echo "$want" > "$stamp"
}

pids=()
for version in $AIRFLOW_MATRIX_VERSIONS; do
  build_venv "$version" &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { log "a venv failed to build (see above)"; exit 1; }
