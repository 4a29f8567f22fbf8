#!/usr/bin/env bash
# What the production test (test/production) needs: PostgreSQL and Redis from Debian, and the images of a Celery
# deployment of Airflow 3.3.2 built FROM the test image (run images.sh first):
#   airflow-runtime-test/deployment:3.3.2  scheduler and API server: celery provider, redis, psycopg2, the policy
#   airflow-runtime-test/team-a:3.3.2      team A's runtime: + toolz and /opt/airflow-runtime/marker = team-a
#   airflow-runtime-test/team-b:3.3.2      team B's runtime: + emoji and /opt/airflow-runtime/marker = team-b
# The policy wheel is an input: AIRFLOW_RUNTIME_POLICY_WHEEL=<path to a .whl>, else one built from policy/ when
# policy/pyproject.toml exists, else none. Each image carries a label with the hash of its inputs (lock,
# Dockerfile, policy sources or wheel, the image it is built FROM); a matching image is reused.
# The packages' own services are not left running: the test starts its own servers on 127.0.0.1.
source "$(dirname "$0")/common.sh"

VERSION=$AIRFLOW3_VERSION
BASE_TAG="airflow-runtime-test/airflow:$VERSION"
DEPLOY_TAG="airflow-runtime-test/deployment:$VERSION"
TEAMS=("team-a toolz==1.2.0" "team-b emoji==2.16.0")

# --- PostgreSQL and Redis from Debian ------------------------------------------------------------------------
need=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} from Debian (their services are not started)"
  # policy-rc.d answers 101 "action forbidden" to every service start the packages' scripts ask for; one that
  # someone else put there is left alone.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; } \
    || { if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; log "apt-get install ${need[*]} failed"; exit 1; }
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
postgres=$(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)
log "$("$postgres" --version), $(redis-server --version | cut -d' ' -f1-3)"

# --- the images -------------------------------------------------------------------------------------------------
image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect --format '{{.Id}}' "$1"; }

docker image inspect "$BASE_TAG" >/dev/null 2>&1 || { log "missing $BASE_TAG: run scripts/env/images.sh first"; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/wheels"
cp "$LOCKS_DIR/airflow-$VERSION-celery.txt" "$ctx/requirements.txt"
cp "$REPO_ROOT/test/env/production.Dockerfile" "$ctx/Dockerfile"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca.crt"

# The policy: its identity is the wheel's bytes when one is given, else the hash of policy/'s sources (a wheel
# built from the same sources is not byte-identical: zip timestamps), so the wheel is built only on a change.
policy_dir="$REPO_ROOT/policy"
policy_hash=none
if [ -n "${AIRFLOW_RUNTIME_POLICY_WHEEL:-}" ]; then
  cp "$AIRFLOW_RUNTIME_POLICY_WHEEL" "$ctx/wheels/"
  policy_hash=$(sha256sum < "$AIRFLOW_RUNTIME_POLICY_WHEEL" | cut -c1-16)
elif [ -f "$policy_dir/pyproject.toml" ]; then
  policy_hash=$(cd "$policy_dir" && find . -type f \
      -not -path '*/__pycache__/*' -not -path './build/*' -not -path './dist/*' -not -path '*.egg-info/*' \
      -not -path './.pytest_cache/*' -not -name '*.pyc' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
fi

inputs=$(cat "$ctx/requirements.txt" "$ctx/Dockerfile" <(echo "$policy_hash" "$(image_id "$BASE_TAG")") | sha256sum | cut -c1-16)
if [ "$(image_label "$DEPLOY_TAG" airflow-runtime.inputs)" = "$inputs" ]; then
  log "image $DEPLOY_TAG is up to date"
else
  if [ -z "${AIRFLOW_RUNTIME_POLICY_WHEEL:-}" ] && [ "$policy_hash" != none ]; then
    log "building the policy wheel from $policy_dir"
    ensure_uv
    uv build --quiet --wheel --out-dir "$ctx/wheels" "$policy_dir"
  fi
  log "building $DEPLOY_TAG (policy: $policy_hash)"
  docker build --quiet --target deployment --label "airflow-runtime.inputs=$inputs" \
    --label "airflow-runtime.policy=$policy_hash" --build-arg "BASE=$BASE_TAG" -t "$DEPLOY_TAG" "$ctx" >/dev/null
fi

for team in "${TEAMS[@]}"; do
  read -r name package <<<"$team"
  tag="airflow-runtime-test/$name:$VERSION"
  team_inputs=$(echo "$inputs $name $package $(image_id "$DEPLOY_TAG")" | sha256sum | cut -c1-16)
  if [ "$(image_label "$tag" airflow-runtime.inputs)" = "$team_inputs" ]; then
    log "image $tag is up to date"
  else
    log "building $tag"
    # The runtime stage's FROM is the deployment stage of the same Dockerfile: its layers come from the cache.
    docker build --quiet --target runtime --label "airflow-runtime.inputs=$team_inputs" --build-arg "BASE=$BASE_TAG" \
      --build-arg "TEAM=$name" --build-arg "PACKAGE=$package" -t "$tag" "$ctx" >/dev/null
  fi
done

docker run --rm --network none "airflow-runtime-test/team-a:$VERSION" python -c "
import airflow, celery, redis, psycopg2, toolz
import airflow.providers.celery
print('team-a image: airflow', airflow.__version__, 'celery', celery.__version__, 'marker', open('/opt/airflow-runtime/marker').read().strip())" >&2
