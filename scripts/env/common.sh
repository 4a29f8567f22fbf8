# Shared settings for the test-environment scripts. Sourced, not run.
# Every script is idempotent: a second run with the same inputs costs seconds.
set -euo pipefail

AIRFLOW2_VERSION=${AIRFLOW2_VERSION:-2.11.2}
AIRFLOW3_VERSION=${AIRFLOW3_VERSION:-3.3.2}
AIRFLOW_VERSIONS="$AIRFLOW2_VERSION $AIRFLOW3_VERSION"
# The harness's version matrix: the newest patch of every supported minor, as host venvs only
# (the Docker images stay at AIRFLOW_VERSIONS).
AIRFLOW_MATRIX_VERSIONS=${AIRFLOW_MATRIX_VERSIONS:-"2.9.3 2.10.5 2.11.2 3.0.6 3.1.8 3.2.2 3.3.2"}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ENV_CACHE=${AIRFLOW_RUNTIME_ENV_CACHE:-$HOME/.cache/airflow-runtime-env}
LOCKS_DIR="$REPO_ROOT/test/env/locks"
# Airflow's pins per version; the embedded default installs with them too (they ship in the package).
CONSTRAINTS_DIR="$REPO_ROOT/media/constraints"
mkdir -p "$ENV_CACHE"

log() { echo "[env $(date +%T)] $*" >&2; }

# uv resolves and installs Airflow in seconds where pip takes minutes; it comes from PyPI.
ensure_uv() {
  if ! command -v uv >/dev/null 2>&1; then
    log "installing uv from PyPI"
    python3 -m pip install --quiet uv
  fi
}
