"""The task launcher's settings and container spec, without Docker or Airflow (a workload is duck-typed)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from .support import MANIFEST, RUNTIME_A, RUNTIME_B

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from airflow_runtime_policy.launcher import (  # noqa: E402
    BundlePlace,
    LauncherError,
    LauncherSettings,
    runtime_of,
    settings_from_env,
    task_container,
)
from airflow_runtime_policy.manifest import ManifestError, read_manifest  # noqa: E402

HOST_CONFIG = {
    "SecurityOpt": ["no-new-privileges"],
    "CapDrop": ["ALL"],
    "CapAdd": ["DAC_OVERRIDE"],
    "PidsLimit": 1024,
    "Tmpfs": {"/tmp": "rw,exec,nosuid,nodev,mode=1777,size=1073741824"},
    "Memory": 2147483648,
    "MemorySwap": 2147483648,
    "NanoCpus": 1500000000,
}
CONTAINER = {
    "user": None,
    "unprivileged": {"user": "50000:0", "env": {"HOME": "/tmp", "USER": "airflow"}},
    "hostConfig": HOST_CONFIG,
}
SETTINGS = LauncherSettings(
    manifest_path="/m.json",
    execution_api_url="http://api:8080/execution/",
    deployment="dep-1",
    network="net-1",
    logs_source="/host/logs",
)
BUNDLE = BundlePlace(
    name=f"airflow-runtime-{RUNTIME_A}-team_a",
    config={
        "name": f"airflow-runtime-{RUNTIME_A}-team_a",
        "classpath": "x.LocalDagBundle",
        "kwargs": {"path": "/opt/airflow/dags/team_a"},
    },
    path="/opt/airflow/dags/team_a",
    host_path="/srv/project/dags/team_a",
)


def manifest(tmp_path: Path, container: dict | None = CONTAINER, **runtime_a: object):
    doc = json.loads(json.dumps(MANIFEST))
    for runtime in doc["runtimes"]:
        if container is not None:
            runtime["container"] = container
    doc["runtimes"][0].update(runtime_a)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    return read_manifest(str(path))


def workload(bundle: str = f"airflow-runtime-{RUNTIME_A}-team_a", rel_path: str = "orders.py"):
    ti = SimpleNamespace(
        id=uuid.UUID("01a23bf8-d4d3-7521-81cc-4b16bfa1fb63"),
        dag_id="orders",
        task_id="extract",
        run_id="manual__1",
        map_index=-1,
        try_number=2,
    )
    return SimpleNamespace(
        ti=ti,
        bundle_info=SimpleNamespace(name=bundle),
        dag_rel_path=rel_path,
        model_dump_json=lambda: '{"type": "ExecuteTask", "token": "t"}',
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "AIRFLOW_RUNTIME_MANIFEST is not set"),
        ({"AIRFLOW_RUNTIME_MANIFEST": " "}, "AIRFLOW_RUNTIME_MANIFEST is set but empty"),
        ({"AIRFLOW_RUNTIME_MANIFEST": "/m", "AIRFLOW_RUNTIME_DEPLOYMENT": "d"}, "AIRFLOW_RUNTIME_EXECUTION_API_URL is not set"),
        (
            {
                "AIRFLOW_RUNTIME_MANIFEST": "/m",
                "AIRFLOW_RUNTIME_DEPLOYMENT": "d",
                "AIRFLOW_RUNTIME_EXECUTION_API_URL": "api:8080",
            },
            "is not an http(s) URL",
        ),
        (
            {
                "AIRFLOW_RUNTIME_MANIFEST": "/m",
                "AIRFLOW_RUNTIME_DEPLOYMENT": "a b",
                "AIRFLOW_RUNTIME_EXECUTION_API_URL": "http://api/",
            },
            "AIRFLOW_RUNTIME_DEPLOYMENT='a b' is not a name",
        ),
        (
            {
                "AIRFLOW_RUNTIME_MANIFEST": "/m",
                "AIRFLOW_RUNTIME_DEPLOYMENT": "d",
                "AIRFLOW_RUNTIME_EXECUTION_API_URL": "http://api/",
                "AIRFLOW_RUNTIME_BUNDLE_SOURCES": "{bad",
            },
            "AIRFLOW_RUNTIME_BUNDLE_SOURCES is not JSON",
        ),
        (
            {
                "AIRFLOW_RUNTIME_MANIFEST": "/m",
                "AIRFLOW_RUNTIME_DEPLOYMENT": "d",
                "AIRFLOW_RUNTIME_EXECUTION_API_URL": "http://api/",
                "AIRFLOW_RUNTIME_BUNDLE_SOURCES": '{"b": "relative/path"}',
            },
            "absolute host paths",
        ),
    ],
)
def test_settings_that_cannot_be_used_are_named(env, message):
    with pytest.raises(LauncherError) as raised:
        settings_from_env(env)
    assert message in str(raised.value)


def test_settings_from_the_environment():
    settings = settings_from_env(
        {
            "AIRFLOW_RUNTIME_MANIFEST": "/m.json",
            "AIRFLOW_RUNTIME_DEPLOYMENT": "proj-1",
            "AIRFLOW_RUNTIME_EXECUTION_API_URL": "http://api:8080/execution/",
            "AIRFLOW_RUNTIME_BUNDLE_SOURCES": '{"b": "/host/dags/b"}',
            "AIRFLOW_RUNTIME_DOCKER_NETWORK": "proj-net",
        }
    )
    assert (settings.deployment, settings.network, dict(settings.bundle_sources), settings.logs_source) == (
        "proj-1",
        "proj-net",
        {"b": "/host/dags/b"},
        None,
    )


def test_a_task_container_is_hardened_labelled_and_sees_its_bundle_read_only(tmp_path):
    runtime = runtime_of(workload(), manifest(tmp_path))
    spec = task_container(
        workload(),
        runtime,
        BUNDLE,
        SETTINGS,
        "/opt/airflow/logs",
        image_user=None,
        environ={"AIRFLOW_CONN_WAREHOUSE": "postgres://secret"},
    )

    assert runtime.id == RUNTIME_A
    assert spec.image == "registry.example.com/team-a/airflow:2024.06"
    assert spec.host_config == HOST_CONFIG
    assert spec.user == "50000:0" and spec.environment["HOME"] == "/tmp"  # the image runs as root: the task does not
    assert spec.binds == {
        "/srv/project/dags/team_a": {"bind": "/opt/airflow/dags/team_a", "mode": "ro"},
        "/host/logs": {"bind": "/opt/airflow/logs", "mode": "rw"},
    }
    assert spec.network == "net-1"
    assert spec.command[:3] == ["python", "-m", "airflow.sdk.execution_time.execute_workload"]
    assert json.loads(spec.command[-1])["type"] == "ExecuteTask"
    env = spec.environment
    assert (env["TEAM"], env["AIRFLOW_CONN_WAREHOUSE"], env["AIRFLOW_RUNTIME_ID"]) == ("team_a", "postgres://secret", RUNTIME_A)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api:8080/execution/"
    assert json.loads(env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"]) == [BUNDLE.config]
    assert env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] == "/opt/airflow/logs"
    assert spec.labels == {
        "airflow-runtime.deployment": "dep-1",
        "airflow-runtime.task": "1",
        "airflow-runtime.runtime": RUNTIME_A,
        "airflow-runtime.ti-id": "01a23bf8-d4d3-7521-81cc-4b16bfa1fb63",
        "airflow-runtime.dag-id": "orders",
        "airflow-runtime.task-id": "extract",
        "airflow-runtime.run-id": "manual__1",
        "airflow-runtime.map-index": "-1",
        "airflow-runtime.try-number": "2",
    }
    assert spec.name == "dep-1-orders.extract-01a23bf8-d4d3-7521-81cc-4b16bfa1fb63"


@pytest.mark.parametrize(
    "asked, image_user, user",
    [
        (None, "airflow", None),  # the image's own user
        (None, "0", "50000:0"),
        (None, "root:root", "50000:0"),
        ("1234", None, "1234"),  # the runtime file's `user`
    ],
)
def test_who_the_task_runs_as(tmp_path, asked, image_user, user):
    runtime = runtime_of(workload(), manifest(tmp_path, container={**CONTAINER, "user": asked}))
    spec = task_container(
        workload(), runtime, BUNDLE, SETTINGS, "/logs", image_user=image_user, environ={"AIRFLOW_CONN_WAREHOUSE": "x"}
    )
    assert spec.user == user


def test_a_secret_the_launching_process_lacks_is_named(tmp_path):
    runtime = runtime_of(workload(), manifest(tmp_path))
    with pytest.raises(LauncherError, match="needs the secret AIRFLOW_CONN_WAREHOUSE: set it in the environment"):
        task_container(workload(), runtime, BUNDLE, SETTINGS, "/logs", image_user=None, environ={})


def test_the_runtime_is_found_by_bundle_else_by_file_else_refused(tmp_path):
    loaded = manifest(tmp_path)
    assert runtime_of(workload(bundle=f"airflow-runtime-{RUNTIME_B}-team_b"), loaded).id == RUNTIME_B
    assert runtime_of(workload(bundle="dags-folder", rel_path="team_b/report.py"), loaded).id == RUNTIME_B
    with pytest.raises(LauncherError, match="is in no runtime of the manifest .* re-run `airflow-runtime export`"):
        runtime_of(workload(bundle="dags-folder", rel_path="loose/unlisted.py"), loaded)


def test_a_manifest_without_container_rules_is_refused_not_run_unhardened(tmp_path):
    runtime = runtime_of(workload(), manifest(tmp_path, container=None))
    with pytest.raises(LauncherError, match="has no `container` section .* re-run `airflow-runtime export`"):
        task_container(workload(), runtime, BUNDLE, SETTINGS, "/logs", image_user=None, environ={"AIRFLOW_CONN_WAREHOUSE": "x"})


def test_container_rules_this_policy_does_not_know_are_refused(tmp_path):
    with pytest.raises(ManifestError, match="hostConfig has Privileged, which this airflow-runtime-policy does not"):
        manifest(tmp_path, container={**CONTAINER, "hostConfig": {**HOST_CONFIG, "Privileged": True}})


def test_a_celery_workers_task_is_tied_to_the_worker_and_names_it(tmp_path):
    runtime = runtime_of(workload(), manifest(tmp_path))
    spec = task_container(
        workload(),
        runtime,
        BUNDLE,
        SETTINGS,
        "/logs",
        image_user=None,
        environ={"AIRFLOW_CONN_WAREHOUSE": "x"},
        launched_by="lean-1@host",
    )

    assert spec.labels["airflow-runtime.launched-by"] == "lean-1@host"
    # the supervisor runs until it ends or stdin (held by the worker) closes; the workload is an argument, not code
    assert spec.command[:2] == ["sh", "-c"] and "cat <&3 >/dev/null" in spec.command[2]
    assert spec.command[3:] == [
        "sh",
        "python",
        "-m",
        "airflow.sdk.execution_time.execute_workload",
        "--json-string",
        '{"type": "ExecuteTask", "token": "t"}',
    ]
