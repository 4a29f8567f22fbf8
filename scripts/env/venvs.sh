#!/usr/bin/env bash
# Host virtualenvs with real Airflow 2.x and 3.x, for the local engine and fast harness tests.
# Output: $ENV_CACHE/venvs/airflow-<version>/bin/python, one per version in AIRFLOW_VERSIONS.
# Pinned by test/env/locks/airflow-<version>.txt (written on the first resolve, then committed).
source "$(dirname "$0")/common.sh"
ensure_uv

for version in $AIRFLOW_VERSIONS; do
  venv="$ENV_CACHE/venvs/airflow-$version"
  lock="$LOCKS_DIR/airflow-$version.txt"
  stamp="$venv/.airflow-runtime-stamp"
  want=$( { cat "$lock" 2>/dev/null || true; } | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "venv airflow-$version is up to date"
    continue
  fi
  log "building venv airflow-$version"
  rm -rf "$venv"
  uv venv --quiet --python "$(command -v python3)" "$venv"
  if [ -f "$lock" ]; then
    uv pip install --quiet --python "$venv/bin/python" -r "$lock"
  else
    uv pip install --quiet --python "$venv/bin/python" "apache-airflow==$version"
    mkdir -p "$LOCKS_DIR"
    uv pip freeze --python "$venv/bin/python" > "$lock"
    log "wrote $lock: commit it so every machine installs the same packages"
    want=$(sha256sum < "$lock" | cut -c1-16)
  fi
  "$venv/bin/python" -c "import airflow; print('airflow', airflow.__version__)" >&2
  echo "$want" > "$stamp"
done
