# A real Airflow runtime for tests, built from the debootstrap base (no registry is reachable).
# The layout follows the official apache/airflow image where it matters to us:
# AIRFLOW_HOME=/opt/airflow, DAGs in /opt/airflow/dags, `python` and `airflow` on PATH, and the packages
# compiled to bytecode as pip installs them (without it every fresh container recompiles Airflow: +1.7 s).
ARG BASE
FROM ${BASE}
# host-ca.crt is the build host's CA bundle: the registries may sit behind a TLS proxy. Not kept in the image.
COPY requirements.txt host-ca.crt /tmp/
RUN export PIP_CERT=/tmp/host-ca.crt SSL_CERT_FILE=/tmp/host-ca.crt \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet --no-cache-dir uv \
 && /opt/venv/bin/uv pip install --quiet --no-cache --compile-bytecode --python /opt/venv/bin/python -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall --quiet -y uv \
 && rm /tmp/requirements.txt /tmp/host-ca.crt \
 && mkdir -p /opt/airflow/dags
ENV PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/airflow
