"""The runtime's secrets are registered with Airflow's own secrets masker before a task runs (masking.py), so that
Airflow's log lines mask them too: Airflow 2's airflow.utils.log.secrets_masker, Airflow 3's airflow.sdk.log."""

from __future__ import annotations

import subprocess
import textwrap

from conftest import HARNESS_SRC, harness_env

PROBE = textwrap.dedent("""
    from airflow_runtime_harness import masking
    registered = masking.mask_runtime_secrets()
    try:
        from airflow.sdk.log import _secrets_masker
    except ImportError:
        from airflow.utils.log.secrets_masker import _secrets_masker
    print(registered)
    print(_secrets_masker().redact(
        "uri probe/pa55word enc probe%2Fpa55word q probe-extra-s3cret json probe-json-pa55 "
        "extra probe-extra-2 key probe-api-key-1 region emea-west"))
""")

SECRET_ENV = {
    "AIRFLOW_CONN_DB": "postgres://u:probe%2Fpa55word@h:5432/db?client_secret=probe-extra-s3cret",
    "AIRFLOW_CONN_API": '{"conn_type": "http", "password": "probe-json-pa55", "extra": {"k": "probe-extra-2"}}',
    "AIRFLOW_VAR_PARTNER_API_KEY": "probe-api-key-1",
    "AIRFLOW_VAR_REGION": "emea-west",
}


def test_runtime_secrets_are_masked_by_airflow(version, python_for, tmp_path):
    env = harness_env({**SECRET_ENV, "AIRFLOW_HOME": str(tmp_path)})
    out = subprocess.run([str(python_for(version)), "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    registered, masked = out.stdout.strip().splitlines()[-2:]
    assert int(registered) >= 6
    assert masked == "uri *** enc *** q *** json *** extra *** key *** region emea-west"


def test_secrets_found_without_airflow(monkeypatch):
    monkeypatch.syspath_prepend(str(HARNESS_SRC))
    from airflow_runtime_harness.masking import runtime_secrets

    found = runtime_secrets(SECRET_ENV, hide=lambda key: "api_key" in key)
    assert set(found) == {
        "probe%2Fpa55word",
        "probe/pa55word",
        "probe-extra-s3cret",
        "probe-json-pa55",
        "probe-extra-2",
        "probe-api-key-1",
    }
