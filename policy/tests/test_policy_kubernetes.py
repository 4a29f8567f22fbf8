"""kubernetes mode: the worker pod that Airflow's own PodGenerator.construct_pod builds for each task, from
the executor_config the policy set (after Airflow's serializer, as the scheduler reads it) and a base template."""

import pytest

TEMPLATE = """\
apiVersion: v1
kind: Pod
metadata:
  name: placeholder
spec:
  restartPolicy: Never
  containers:
    - name: base
      image: apache/airflow:from-template
      env:
        - name: FROM_TEMPLATE
          value: "1"
"""


@pytest.fixture
def pod_template(tmp_path):
    path = tmp_path / "pod_template.yaml"
    path.write_text(TEMPLATE)
    return path


def base_container(pod: dict) -> dict:
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == "base"]
    return container


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_each_task_runs_in_a_pod_with_its_runtimes_image_env_and_resources(
    project, probe, version, kubernetes_overlay, pod_template
):
    report = probe(
        project,
        {
            "AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"),
            "AIRFLOW_RUNTIME_MODE": "kubernetes",
            "AIRFLOW_RUNTIME_K8S_SECRET": "team-secrets",
        },
        overlay=kubernetes_overlay(version),
        pod_template=pod_template,
    )
    assert report["import_errors"] == {}
    orders = report["dags"]["orders"]["tasks"]

    for task_id in ("extract", "load", "own_pod"):  # load is a mapped task
        container = base_container(orders[task_id]["pod"])
        assert container["image"] == "registry.example.com/team-a/airflow:2024.06"
        assert container["resources"] == {
            "requests": {"memory": "2Gi", "cpu": "1500m"},
            "limits": {"memory": "2Gi", "cpu": "1500m"},
        }
        env = env_of(container)
        assert env["TEAM"] == "team_a"
        assert env["AIRFLOW_CONN_WAREHOUSE"] == {"secretKeyRef": {"name": "team-secrets", "key": "AIRFLOW_CONN_WAREHOUSE"}}
        assert env["FROM_TEMPLATE"] == "1"
    assert env_of(base_container(orders["own_pod"]["pod"]))["OWN_SETTING"] == "kept"

    container = base_container(report["dags"]["report"]["tasks"]["render"]["pod"])
    assert container["image"] == "registry.example.com/team-b/airflow:7"
    assert container["resources"]["limits"] == {"memory": "512Mi", "cpu": "1"}
    assert env_of(container)["TEAM"] == "team_b"

    alone = report["dags"]["unlisted"]["tasks"]["alone"]
    assert alone["pod_override"] is None
    # the executor's own image ([kubernetes_executor] worker_container_repository and _tag), as without the policy
    assert base_container(alone["pod"])["image"] == "apache/airflow:executor-default"


def test_a_secret_variable_is_left_out_when_no_kubernetes_secret_is_named(
    project, probe, version, kubernetes_overlay, pod_template
):
    report = probe(
        project,
        {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"), "AIRFLOW_RUNTIME_MODE": "kubernetes"},
        bags=["team_a"],
        overlay=kubernetes_overlay(version),
        pod_template=pod_template,
    )

    env = env_of(base_container(report["dags"]["orders"]["tasks"]["extract"]["pod"]))
    assert env["TEAM"] == "team_a"
    assert "AIRFLOW_CONN_WAREHOUSE" not in env


def test_kubernetes_mode_without_the_kubernetes_client_is_an_import_error_that_says_so(project, probe):
    report = probe(
        project,
        {"AIRFLOW_RUNTIME_MANIFEST": str(project / "manifest.json"), "AIRFLOW_RUNTIME_MODE": "kubernetes"},
        bags=["team_b"],
    )

    (error,) = report["import_errors"].values()
    assert "AIRFLOW_RUNTIME_MODE=kubernetes needs the `kubernetes` client" in error
