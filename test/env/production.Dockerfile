# The images of the production test (scripts/env/production.sh), built FROM the repo's test image.
#   --target deployment: the scheduler's and API server's image: Airflow with the celery provider, the redis
#                        client, a PostgreSQL driver, and every wheel in wheels/ (the policy package).
#   --target runtime:    a team's runtime image: the deployment image plus one package of its own
#                        (build arg PACKAGE) and a marker file /opt/airflow-runtime/marker (build arg TEAM).
# Both targets share the deployment layers; the build context is made by production.sh.
ARG BASE
FROM ${BASE} AS deployment
# host-ca.crt is the build host's CA bundle: the registries may sit behind a TLS proxy. Not kept in the image.
COPY requirements.txt host-ca.crt /tmp/
COPY wheels/ /tmp/wheels/
RUN export PIP_CERT=/tmp/host-ca.crt SSL_CERT_FILE=/tmp/host-ca.crt \
 && /opt/venv/bin/pip install --quiet --no-cache-dir uv \
 && /opt/venv/bin/uv pip install --quiet --no-cache --compile-bytecode --python /opt/venv/bin/python \
      -r /tmp/requirements.txt $(find /tmp/wheels -name '*.whl') \
 && /opt/venv/bin/pip uninstall --quiet -y uv \
 && rm -rf /tmp/requirements.txt /tmp/host-ca.crt /tmp/wheels

FROM deployment AS runtime
ARG TEAM
ARG PACKAGE
COPY host-ca.crt /tmp/
RUN test -n "$TEAM" && test -n "$PACKAGE" \
 && PIP_CERT=/tmp/host-ca.crt /opt/venv/bin/pip install --quiet --no-cache-dir --no-deps --compile "$PACKAGE" \
 && rm /tmp/host-ca.crt \
 && mkdir -p /opt/airflow-runtime \
 && echo "$TEAM" > /opt/airflow-runtime/marker
LABEL airflow-runtime.team="$TEAM" airflow-runtime.package="$PACKAGE"
